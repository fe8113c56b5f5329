"""What a study in a storage is a sweep of, recorded in the study itself (Optuna user attributes),
so a second sweep that names the same ``--study`` in the same storage cannot silently mix its
trials with the first one's.

The record holds the settings a sweep cannot change and stay comparable (metric, direction,
sampler, search space) and the base spec as written (paths as the spec writes them, so the same
spec file started on several machines matches). A sweep whose record differs is refused, naming
the first difference, unless it joins on purpose (``--join-study``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from cnnbuild.errors import CnnbuildError
from cnnbuild.sweep.folder import FIXED, first_difference

log = logging.getLogger("cnnbuild.sweep")
#: The study's user attributes that hold the record; the version names this layout of them.
VERSION_ATTR, SWEEP_ATTR, BASE_ATTR, SPEC_FILE_ATTR = "cnnbuild.record", "cnnbuild.sweep", "cnnbuild.base", "cnnbuild.spec_file"
VERSION = 1
JOIN_HINT = "name another study with --study, or pass --join-study to add this sweep's trials to it on purpose"


@dataclass(frozen=True)
class StudyRecord:
    """The sweep a study holds: its fixed settings (``sweep``), its base spec as written (``base``)
    and the spec file it was started from (for messages)."""

    sweep: dict[str, Any]
    base: dict[str, Any]
    spec_file: str

    @classmethod
    def of(cls, definition: dict[str, Any], base: dict[str, Any]) -> StudyRecord:
        """The record of a sweep folder's ``definition`` (``sweep.yaml``) with ``base``, the base spec as written."""
        sweep = {key: definition["sweep"].get(key) for key in FIXED}
        return cls(json.loads(json.dumps(sweep)), json.loads(json.dumps(base)), str(definition.get("spec_file") or "?"))

    @classmethod
    def read(cls, study: Any) -> StudyRecord | None:
        """The record stored in ``study`` (an Optuna study), or None when it has none."""
        attrs = study.user_attrs
        if VERSION_ATTR not in attrs or not isinstance(attrs.get(SWEEP_ATTR), dict) or not isinstance(attrs.get(BASE_ATTR), dict):
            return None
        return cls(attrs[SWEEP_ATTR], attrs[BASE_ATTR], str(attrs.get(SPEC_FILE_ATTR, "?")))

    def write(self, study: Any) -> None:
        study.set_user_attr(SWEEP_ATTR, self.sweep)
        study.set_user_attr(BASE_ATTR, self.base)
        study.set_user_attr(SPEC_FILE_ATTR, self.spec_file)
        study.set_user_attr(VERSION_ATTR, VERSION)  # last: a record without it is incomplete and not read

    def difference(self, other: StudyRecord) -> str | None:
        """The first setting or base-spec value in which ``other`` differs from this record, or None."""
        for key in FIXED:
            found = first_difference(self.sweep.get(key), other.sweep.get(key), ("sweep", key))
            if found:
                return found
        return first_difference(self.base, other.base)


def check_study(study: Any, mine: StudyRecord, *, join: bool, continuing: bool) -> None:
    """Refuse to add this sweep's trials to a study that holds another sweep, unless ``join``.

    A study without a record gets this sweep's when it has no trials yet (new, or created by a
    worker a moment ago) or when ``continuing`` (the sweep folder already holds this study, made
    by an older cnnbuild); with trials and no record it is refused unless ``join``.
    Raises CnnbuildError.
    """
    name = study.study_name
    theirs = StudyRecord.read(study)
    if theirs is None:
        trials = len(study.get_trials(deepcopy=False))
        if trials == 0 or continuing:
            mine.write(study)
            return
        problem = (
            f"study {name!r} in this storage has {trials} trial(s) but no record of its search space and base spec "
            "(made by an older cnnbuild, or by Optuna directly), so whether this sweep's trials are comparable with them is not known"
        )
    else:
        changed = theirs.difference(mine)
        if changed is None:
            return
        problem = f"study {name!r} in this storage holds another sweep (started from {theirs.spec_file}): {changed}, so the trials would not be comparable"
    if not join:
        raise CnnbuildError(f"{problem}; {JOIN_HINT}")
    log.warning("warning: %s; joining it anyway (--join-study): its trials count towards this sweep's budget and its best may be another spec's", problem)
