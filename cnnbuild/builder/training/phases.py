"""The phases of a run: the epochs of ``train.epochs`` and, with ``train.fine_tune``, the
fine-tuning epochs after them, each a ``fit`` with callbacks of its own.

A fine-tuning phase starts from the same state whether it follows the frozen phase in one
process or a ``--resume`` right at the change: every random generator seeded again, fresh
pipelines, the backbone unfrozen, the model compiled again at the lower learning rate, fresh
callbacks (EarlyStopping's patience and ReduceLROnPlateau's counter start over; an
EarlyStopping that ends the frozen phase early starts fine-tuning there). So a run resumed
at the change has the history of an uninterrupted one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.distribute.collectives import stop_callback
from cnnbuild.builder.model.compile import compile_model
from cnnbuild.builder.training.callbacks import EpochCheckpoint, EpochLines, TrainingMetricsLeftOut
from cnnbuild.builder.training.fine_tune import fine_tune_history, unfreeze
from cnnbuild.builder.training.user_callbacks import user_callbacks
from cnnbuild.runs.checkpoint_state import Phase
from cnnbuild.spec.labels import label_mixing_entries

if TYPE_CHECKING:
    from cnnbuild.builder.data.pipelines import PreparedData
    from cnnbuild.builder.training.callbacks import EpochClock, Interruption
    from cnnbuild.builder.training.execution import ExecutionPlan
    from cnnbuild.builder.training.trainer import Trainer

log = logging.getLogger(__name__)


def fit_phases(trainer: Trainer, model: Any, prepared: PreparedData, plan: ExecutionPlan, clock: EpochClock, interruption: Interruption) -> Any:
    """Train ``model`` through the phases still to run; returns the model (the one trained last)."""
    spec = trainer.spec
    fine_tune = spec.train.fine_tune
    if fine_tune is None:
        _phase(trainer, model, prepared, plan, clock, interruption, end=spec.train.epochs, first=0, phase=None)
        return model
    start = trainer.run.record.resume_state.fine_tune_from
    if start is None:
        ended_early = _phase(trainer, model, prepared, plan, clock, interruption, end=spec.train.epochs, first=0, phase=Phase.FROZEN)
        if interruption.requested and trainer.completed_epochs < spec.train.epochs and not ended_early:
            return model  # stopped inside the frozen phase: a resume goes on with it
        start = trainer.completed_epochs  # train.epochs, or fewer when EarlyStopping ended the frozen phase
        _end_frozen_phase(trainer, model, start)
        if interruption.requested:  # right at the change: the resume starts fine-tuning from what the frozen phase ended with
            return model
    if trainer.completed_epochs == start:  # the last checkpoint is the frozen phase's: unfreeze now
        prepared = _begin_fine_tune(trainer, model, plan, start)
    _phase(trainer, model, prepared, plan, clock, interruption, end=start + fine_tune.epochs, first=start, phase=Phase.FINE_TUNE)
    return model


def _end_frozen_phase(trainer: Trainer, model: Any, start: int) -> None:
    """Keep what the frozen phase ended with before anything else can fail: its last checkpoint
    saved again with the weights now in the model (EarlyStopping's ``restore_best_weights`` may
    have put back an earlier epoch's, and fine-tuning starts from those in one process), and
    the epoch fine-tuning starts at (an EarlyStopping decision a resume must not undo)."""
    run = trainer.run
    state = run.record.resume_state
    if state.checkpoint is not None:
        run.write_bytes_with(state.checkpoint, lambda path: model.save(path))
        trainer.final_weights.saved(state.checkpoint, model)
    run.save_resume_state(state.fine_tuning_from(start))


def _begin_fine_tune(trainer: Trainer, model: Any, plan: ExecutionPlan, start: int) -> PreparedData:
    from cnnbuild.builder.training.trainer import seed

    spec, run = trainer.spec, trainer.run
    multiplier = spec.train.fine_tune.learning_rate_multiplier
    seed(spec)
    prepared = trainer.pipelines()
    with trainer.placement.scope():
        unfrozen = unfreeze(model, spec, spec.registry)
        compile_model(model, spec, prepared.labels, learning_rate_multiplier=multiplier)
        trainer.placement.adapt_model(model)  # compiling again reset what the engine sets (XLA on JAX)
    model.steps_per_execution = plan.steps_per_execution
    run.save_resume_state(run.record.resume_state.fine_tuning_from(start))
    log.info("fine-tuning from epoch %d at learning rate %g: %s (BatchNormalization stays frozen)", start + 1, spec.compile.optimizer.learning_rate * multiplier, unfrozen)
    return prepared


def _phase(trainer: Trainer, model: Any, prepared: PreparedData, plan: ExecutionPlan, clock: EpochClock, interruption: Interruption, *, end: int, first: int, phase: Phase | None) -> bool:
    """Train the epochs of one phase up to ``end``; True when one of the spec's callbacks
    (EarlyStopping) ended it at its last complete epoch, which a Ctrl-C in that same epoch must
    not undo: the phase is over, as in a run nobody interrupted."""
    spec, run = trainer.spec, trainer.run
    if trainer.completed_epochs >= end:
        return False
    fine_tuning = phase == Phase.FINE_TUNE
    learning_rate = spec.compile.optimizer.learning_rate * (spec.train.fine_tune.learning_rate_multiplier if fine_tuning else 1.0)
    history = fine_tune_history(trainer.history, first) if fine_tuning else trainer.history
    mixing = label_mixing_entries(spec) and spec.augmentation_placement == "pipeline"
    spec_callbacks = user_callbacks(spec, run, spec.train.steps_per_epoch, history, first_epoch=first, learning_rate=learning_rate)
    trainer.final_weights.dataset = prepared.validation
    callbacks = [
        trainer.final_weights,  # first: it copies the validation logs before another callback changes them
        *([TrainingMetricsLeftOut(list(spec.compile.metrics))] if mixing else []),  # no later callback sees them
        *spec_callbacks,
        *trainer.extra_callbacks,  # a sweep's pruning report
        clock,
        stop_callback(trainer.placement, interruption),
        EpochCheckpoint(run, interruption, trainer.history, spec.output.keep_checkpoints, phase=phase, final=trainer.final_weights),
        *([EpochLines(spec.train.total_epochs, clock, interruption)] if trainer.verbose == "line" else []),
    ]
    trainer.fit(model, prepared, plan, callbacks, end, interruption)
    # Keras's convention: a callback that stops training records the (0-based) epoch it stopped at
    return any(getattr(callback, "stopped_epoch", 0) and callback.stopped_epoch + 1 == trainer.completed_epochs for callback in spec_callbacks)
