"""What a run checks about its data beyond the data source: before training, on resume, and after training."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from typing import TYPE_CHECKING

from cnnbuild.builder.data.report import imbalance_warning
from cnnbuild.contracts import run_layout as layout
from cnnbuild.data.recheck import changed_files
from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.contracts.data import Datasets
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.runs.record import RunRecord
    from cnnbuild.spec.document import Spec

log = logging.getLogger(__name__)

def data_warnings(source: Datasets, *, weighted: bool = False) -> list[str]:
    """What the user should know before training starts: the source's own warnings and class imbalance
    (``weighted``: the spec sets ``train.class_weight``)."""
    counts: dict[str, int] = {}
    if source.train_labels is not None:
        tally = Counter(source.train_labels)
        counts = {name: tally[label] for label, name in enumerate(source.class_names)}
    return list(source.warnings) + imbalance_warning(source.class_names, counts, weighted=weighted)


#: Above this weight of their initial values, BatchNormalization's moving statistics are said to be unsettled.
UNSETTLED = 0.1


def batch_norm_warnings(spec: Spec, train_count: int) -> list[str]:
    """BatchNormalization layers whose moving statistics (what validation and prediction use)
    will still weigh their initial values by more than 10% when training ends: ``momentum`` to
    the power of the training steps. With few images (15 batches an epoch) and Keras's 0.99,
    a model can train well and validate at chance."""
    batches = spec.train.steps_per_epoch or max(1, math.ceil(train_count / spec.data.batch_size))
    steps = batches * spec.train.total_epochs
    found: dict[float, list[str]] = {}
    for node in spec.graph.nodes:
        momentum = getattr(node.entry, "momentum", None) if node.type == "BatchNormalization" else None
        if momentum is not None and momentum**steps > UNSETTLED and node.where not in found.get(momentum, []):
            found.setdefault(momentum, []).append(node.where)
    return [
        f"BatchNormalization at {', '.join(where[:3])}{' and others' if len(where) > 3 else ''}: with momentum {momentum} its moving statistics, which "
        f"validation and prediction use, keep {momentum**steps:.0%} of their initial values after this run's {steps} training steps, so validation "
        f"can be far worse than training; use momentum: {_settling(steps)} or lower, or train longer"
        for momentum, where in found.items()
    ]


def _settling(steps: int) -> float:
    """The largest momentum of 0.9, 0.8, ... 0.5 that settles within ``steps`` (0.5 if none does)."""
    return next((m for m in (0.9, 0.8, 0.7, 0.6) if m**steps <= UNSETTLED), 0.5)


def check_training_labels(source: Datasets) -> None:
    """Refuse a source whose training split leaves a class out (it could never be predicted)."""
    if source.train_labels is None:
        return
    present = set(source.train_labels)
    missing = [name for label, name in enumerate(source.class_names) if label not in present]
    if missing:
        raise RunError(f"class(es) {missing} have no training examples, so the model could never learn them; add images, or lower data.validation_split")


def check_resumable(record: RunRecord, source: Datasets, allow_changed_data: bool) -> list[str]:
    """Refuse to resume on other classes; refuse (or, allowed, warn) when the files changed. Returns warnings."""
    before, now = record.class_names, list(source.class_names)
    if before != now:
        added = [name for name in now if name not in before]
        removed = [name for name in before if name not in now]
        what = "; ".join(part for part in (f"added {added}" if added else "", f"removed or renamed {removed}" if removed else "") if part) or f"their order changed ({before} -> {now})"
        raise RunError(
            f"{record.path}: the data's classes changed since this run started ({what}); the model's outputs mean the old classes, "
            "so resuming would train and name the wrong ones. Put the class folders back, or start a new run"
        )
    fingerprint = ((record.environment or {}).get("data") or {}).get("fingerprint")
    if not fingerprint or fingerprint == source.fingerprint:
        return []
    counts = ((record.environment or {}).get("data") or {})
    change = f"{counts.get('train_examples')} training and {counts.get('validation_examples')} validation examples then, {source.train_count} and {source.validation_count} now"
    if not allow_changed_data:
        raise RunError(
            f"{record.path}: the data's files changed since this run started ({change}), so the rest of the run would train and validate on "
            "other examples than its first epochs; resume with --allow-changed-data to accept that, or start a new run"
        )
    return [f"the data's files changed since this run started ({change}); resuming on the files as they are now (--allow-changed-data)"]


def without_late_failures(run: RunDirectory, source: Datasets, since_ns: int) -> Datasets:
    """``source`` with the files that vanished or broke since ``since_ns`` (the pipeline skipped
    them) listed as skipped, in ``skipped.json`` too, and taken out of the counts."""
    if not source.files:
        return source
    late = changed_files(source.files, since_ns)
    if not late:
        return source
    for item, _ in late:
        log.warning("warning: %s: %s", item.path, item.reason)
    skipped = source.skipped + [item for item, _ in late]
    run.write_json(layout.SKIPPED, [{"path": s.path, "reason": s.reason} for s in skipped])
    lost = Counter(split for _, split in late)
    return dataclasses.replace(
        source,
        skipped=skipped,
        train_count=source.train_count - lost["train"],
        validation_count=source.validation_count - lost["validation"],
        test_count=source.test_count - lost["test"],
    )
