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
    from cnnbuild.runs.record import RunRecord

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
    from cnnbuild.runs.record import RunRecord

    collect = _Collect()
    log.addHandler(collect)
    try:
        finished = RunRecord.open(resume) if resume is not None else None
        if finished is not None and finished.completed and finished.spec.distribute.mode != "machines":
            result = _already_complete(finished)  # said before TensorFlow loads
        else:
            result = _train(_trainer(spec, overrides, output, finished, verbose, terminal, allow_changed_data, tags), callbacks)
    finally:
        log.removeHandler(collect)
    result.warnings = collect.messages
    return result


def _trainer(
    spec: Spec | str | Path | None, overrides: list[str] | tuple[str, ...], output: str | Path | None, record: RunRecord | None, verbose: str | None, terminal: bool, allow_changed_data: bool, tags: dict[str, Any] | None
) -> Trainer:
    """The trainer of a new run of ``spec``, or of the interrupted run ``record`` (resumed); the Keras backend chosen before it is imported."""
    from cnnbuild.builder.distribute.engines import placement_for
    from cnnbuild.spec.labels import known_class_names

    if record is not None:
        placement = placement_for(record.spec)  # chooses the Keras backend before the trainer imports Keras
        from cnnbuild.builder.training.trainer import Trainer

        return Trainer.resume(record, placement, verbose=_mode(verbose, record.spec, terminal), allow_changed_data=allow_changed_data)
    if spec is None:
        raise RunError("give a spec (or a path to one), or resume=RUN_DIR")
    spec = load_spec(spec, overrides) if not isinstance(spec, Spec) else apply_to_spec(spec, overrides) if overrides else spec
    if spec.sweep is not None:
        log.info("note: the spec's sweep section is not used by a run; cnnbuild sweep runs it")
    known_class_names(spec, spec.registry)  # a missing data folder, or one laid out wrong, is refused before TensorFlow loads
    placement = placement_for(spec)  # chooses the Keras backend before the trainer imports Keras
    from cnnbuild.builder.training.trainer import Trainer

    return Trainer.start(spec, placement, Path(output) if output else None, tuple(overrides), verbose=_mode(verbose, spec, terminal), tags=tags)


def _already_complete(record: RunRecord) -> RunResult:
    """What resuming a finished run gives: nothing is trained, and its plugins are told as a resume would tell them."""
    from cnnbuild.plugins.manager import announce_run_ended

    log.warning("%s: this run is already complete", record.path)
    result = RunResult(
        run_dir=record.path, status="completed", history=record.resume_state.history, metrics=record.metrics or {}, class_names=record.class_names, skipped=record.skipped
    )
    announce_run_ended(record.path, "completed")
    return result


def _train(trainer: Trainer, callbacks: list[Any] | tuple[Any, ...]) -> RunResult:
    """Train (``callbacks``: the caller's, after the spec's), then tell the plugins (``run_ended``) how the run directory was left."""
    from cnnbuild.plugins.manager import announce_run_ended

    trainer.extra_callbacks = list(callbacks)
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
