"""Training: :func:`run` trains a spec into a run directory (or resumes one) and returns a :class:`RunResult`.

Importing this package is light; the trainer, with its Keras callbacks, is imported once the
Keras backend the spec needs has been chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.training.result import RunResult
from cnnbuild.errors import CnnbuildError, RunError
from cnnbuild.spec.document import Spec, apply_to_spec, load_spec

if TYPE_CHECKING:
    from cnnbuild.builder.training.trainer import Trainer

__all__ = ["RunResult", "run"]

log = logging.getLogger("cnnbuild")


class _Collect(logging.Handler):
    """Keeps the warnings logged during a run, for :attr:`RunResult.warnings`."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


def _mode(verbose: str | None, spec: Spec, terminal: bool) -> str:
    """``bar``, ``line`` or ``quiet``. ``auto`` is Keras's progress bar on a terminal, else one line
    per epoch sent to the ``cnnbuild`` logger (silent unless logging is configured)."""
    mode = verbose or spec.train.verbose
    if mode == "auto":
        return "bar" if terminal else "line"
    return mode


def run(
    spec: Spec | str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    verbose: str | None = None,
    terminal: bool = False,
    allow_changed_data: bool = False,
    callbacks: list[Any] | tuple[Any, ...] = (),
    tags: dict[str, Any] | None = None,
) -> RunResult:
    """Train a spec (a :class:`Spec` or a path to one) and write a run directory.

    ``overrides`` are ``KEY=VALUE`` strings as ``--set`` takes them, validated and checked like
    the file (also for a :class:`Spec`); ``output`` is the exact run directory (default
    ``output.dir/<name>/<timestamp>``); ``resume`` continues the run in that directory from its
    last completed epoch, refusing when the data's classes changed since, and when its files
    changed unless ``allow_changed_data``. ``verbose`` (default: the spec's ``train.verbose``) is ``bar``, ``line``,
    ``quiet`` or ``auto`` (the bar when ``terminal`` says the output is a terminal, else lines).
    Epoch lines and notes go to the ``cnnbuild`` logger, so nothing is printed unless asked
    (``verbose="bar"``, or logging configured); the result holds what ``cnnbuild run`` prints.
    ``callbacks`` are Keras callbacks of the caller's, run after the spec's (they are not part of
    the spec, so ``spec.yaml`` stays runnable without them); ``tags`` are kept in ``run.json``
    (a sweep names itself and the trial there). When a run directory was written, every plugin's
    ``run_ended`` hook is called with it and the run's state.
    """
    from cnnbuild.builder.distribute.engines import placement_for
    from cnnbuild.runs.record import RunRecord
    from cnnbuild.spec.labels import known_class_names

    collect = _Collect()
    log.addHandler(collect)
    try:
        if resume is not None:
            record = RunRecord.open(resume)
            placement = placement_for(record.spec)  # chooses the Keras backend before the trainer imports Keras
            from cnnbuild.builder.training.trainer import Trainer

            trainer = Trainer.resume(record, placement, verbose=_mode(verbose, record.spec, terminal), allow_changed_data=allow_changed_data)
        else:
            if spec is None:
                raise RunError("give a spec (or a path to one), or resume=RUN_DIR")
            spec = load_spec(spec, overrides) if not isinstance(spec, Spec) else apply_to_spec(spec, overrides) if overrides else spec
            if spec.sweep is not None:
                log.info("note: the spec's sweep section is not used by a run; cnnbuild sweep runs it")
            known_class_names(spec, spec.registry)  # a missing data folder, or one laid out wrong, is refused before TensorFlow loads
            placement = placement_for(spec)  # chooses the Keras backend before the trainer imports Keras
            from cnnbuild.builder.training.trainer import Trainer

            trainer = Trainer.start(spec, placement, Path(output) if output else None, tuple(overrides), verbose=_mode(verbose, spec, terminal), tags=tags)
        trainer.extra_callbacks = list(callbacks)
        result = _train(trainer)
    finally:
        log.removeHandler(collect)
    result.warnings = collect.messages
    return result


def _train(trainer: Trainer) -> RunResult:
    """Train, then tell the plugins (``run_ended``) how the run directory was left."""
    from cnnbuild.plugins.manager import announce_run_ended

    chief = trainer.placement.is_chief
    try:
        result = trainer.train()
    except CnnbuildError:
        if chief:
            announce_run_ended(trainer.run.path, "failed")
        raise
    if chief:
        announce_run_ended(result.run_dir, result.status)
    return result
