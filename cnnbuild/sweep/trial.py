"""One trial: sample the values, validate the spec they make, train it into its run directory, and
say how it ended (:class:`Outcome`).

Pruning reports the metric after each epoch and, when Optuna's pruner says so, only asks Keras
to stop: the run then ends as an ordinary completed run with fewer epochs (its directory is
kept and readable), and the trial is recorded pruned, never as a result.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.contracts.sweep_layout import TrialState
from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.document import Spec, apply_to_spec
from cnnbuild.spec.errors import SpecError
from cnnbuild.spec.sweep_section import Sweep
from cnnbuild.sweep import bookkeeping as book
from cnnbuild.sweep import space as search_space

log = logging.getLogger("cnnbuild.sweep")


@dataclass
class Outcome:
    """How a trial ended: ``complete`` (:data:`~cnnbuild.contracts.sweep_layout.RESULT_STATE`, with its value), ``pruned``, ``invalid``, ``failed`` or ``interrupted``."""

    state: TrialState
    value: float | None = None
    error: str | None = None
    epochs: int | None = None
    seconds: float = 0.0
    run_dir: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)


@functools.cache
def _pruning_callback_class() -> type:
    from cnnbuild.builder.runtime import import_keras

    keras = import_keras()

    class ReportToOptuna(keras.callbacks.Callback):
        """Reports the sweep's metric to the trial after each epoch; stops training when Optuna prunes."""

        def __init__(self, trial: Any, metric: str, epochs: int) -> None:
            super().__init__()
            self.trial, self.metric, self.epochs = trial, metric, epochs
            self.pruned_after: int | None = None
            self.last: float | None = None

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            value = (logs or {}).get(self.metric)
            if value is None or not math.isfinite(float(value)):
                return
            self.last = float(value)
            self.trial.report(self.last, step=epoch + 1)
            # after the last epoch, pruning would only relabel a finished trial
            if epoch + 1 < self.epochs and self.trial.should_prune():
                self.pruned_after = epoch + 1
                self.model.stop_training = True  # the run ends normally: completed, with fewer epochs

    return ReportToOptuna


def run_trial(trial: Any, base: Spec, sweep: Sweep, folder: Path, tags: dict[str, Any]) -> Outcome:
    """Sample, validate and train one trial into ``folder/trials/NNNN``. Never raises for a trial's
    own failure (a CnnbuildError or a bug in a plugin); KeyboardInterrupt is returned as interrupted."""
    started = time.perf_counter()
    values = search_space.suggest(trial, sweep.space)
    overrides = search_space.overrides(values)
    run_dir = folder / layout.trial_dir(trial.number)
    trial.set_user_attr(book.OVERRIDES, overrides)
    trial.set_user_attr(book.RUN_DIR, layout.trial_dir(trial.number))
    outcome = _train(trial, base, sweep, run_dir, overrides, tags)
    outcome.values, outcome.seconds = values, round(time.perf_counter() - started, 1)
    return outcome


def _train(trial: Any, base: Spec, sweep: Sweep, run_dir: Path, overrides: list[str], tags: dict[str, Any]) -> Outcome:
    try:
        spec = apply_to_spec(base, overrides)  # every sampled spec is validated before anything trains
    except SpecError as exc:
        return Outcome("invalid", error=str(exc))
    from cnnbuild.builder.runtime import import_keras
    from cnnbuild.builder.training import run

    pruning = None
    if sweep.pruner.type != "none":
        pruning = _pruning_callback_class()(trial, sweep.metric, spec.train.epochs)
    import_keras().backend.clear_session()  # a worker trains many models in one process
    try:
        result = run(base, overrides, output=run_dir, verbose="quiet", callbacks=[pruning] if pruning else [], tags={**tags, "trial": trial.number})
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training started
        return Outcome("interrupted", error="interrupted (Ctrl-C) before the run finished", run_dir=run_dir)
    except CnnbuildError as exc:
        return Outcome("failed", error=str(exc), run_dir=run_dir)
    except Exception as exc:  # a plugin's layer or callback with a bug: this trial fails, the sweep goes on
        return Outcome("failed", error=f"{type(exc).__name__}: {exc}", run_dir=run_dir)
    if not result.completed:
        done = result.metrics.get("completed_epochs", 0)
        return Outcome("interrupted", error=f"interrupted (Ctrl-C or SIGTERM) after {done} complete epoch(s)", epochs=done, run_dir=run_dir)
    history = result.history.get(sweep.metric, [])
    epochs = len(next(iter(result.history.values()), []))
    if pruning is not None and pruning.pruned_after is not None:
        return Outcome("pruned", value=pruning.last, error=f"pruned after epoch {pruning.pruned_after}", epochs=epochs, run_dir=run_dir)
    finite = [value for value in history if math.isfinite(value)]
    if not history:
        return Outcome("failed", error=f"the run recorded no {sweep.metric!r} (it has {', '.join(result.history) or 'nothing'})", epochs=epochs, run_dir=run_dir)
    if len(finite) < len(history):
        return Outcome("failed", error=f"{sweep.metric} was not finite in epoch(s) {[i + 1 for i, v in enumerate(history) if not math.isfinite(v)]}", epochs=epochs, run_dir=run_dir)
    best = max(finite) if sweep.goal == "maximize" else min(finite)
    return Outcome(layout.RESULT_STATE, value=float(best), epochs=epochs, run_dir=run_dir)


def finish(study: Any, trial: Any, outcome: Outcome) -> Any:
    """Record ``outcome`` in the trial, then tell Optuna; returns the finished ``FrozenTrial``."""
    optuna = __import__("optuna")
    state = optuna.trial.TrialState
    for key, value in ((book.OUTCOME, outcome.state), (book.ERROR, outcome.error), (book.SECONDS, outcome.seconds), (book.EPOCHS, outcome.epochs)):
        if value is not None:
            trial.set_user_attr(key, value)
    if outcome.state == layout.RESULT_STATE:
        return book.tell(study, trial, outcome.value)
    if outcome.state == "pruned":
        return book.tell(study, trial, state=state.PRUNED)
    if outcome.state == "interrupted":
        book.end_unfinished(study, study._storage.get_trial(trial._trial_id), "interrupted", outcome.error or "interrupted")
        return study._storage.get_trial(trial._trial_id)
    return book.tell(study, trial, state=state.FAIL)
