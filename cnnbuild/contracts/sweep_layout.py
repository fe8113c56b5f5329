"""A sweep folder's layout: every file name ``cnnbuild sweep`` writes there, defined once.

The sweep (:mod:`cnnbuild.sweep`) writes these names and :class:`cnnbuild.runs.SweepRecord` reads
them; each trial is an ordinary run directory under :data:`TRIALS`.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

DEFINITION = "sweep.yaml"  # what the sweep searches: metric, direction, space, sampler, pruner, budget
BASE_SPEC = "base.yaml"  # the base spec every trial starts from (canonical, paths absolute, no sweep section)
JOURNAL = "study.journal"  # Optuna's journal storage (the default storage)
LOCK = "sweep.lock"  # held while a worker counts trials and asks for the next one
TRIALS = "trials"  # one run directory per trial: trials/0000, trials/0001, ...
LEADERBOARD_CSV = "sweep.csv"
LEADERBOARD_JSON = "sweep.json"
BEST_SPEC = "best.yaml"  # the best trial's spec, ready for cnnbuild run
FIGURES = "figures"
FIGURE_FILES = {
    "history": f"{FIGURES}/history.png",  # the metric over trials, with the best so far
    "importance": f"{FIGURES}/importance.png",  # which parameters mattered
    "parallel": f"{FIGURES}/parallel_coordinate.png",  # every trial's parameters and value
    "slice": f"{FIGURES}/slice.png",  # the metric against each parameter
}
REPORT = "report.html"

#: The states a trial is in, as the leaderboard names them; only :data:`RESULT_STATE` is a result.
TrialState = Literal["complete", "pruned", "invalid", "failed", "interrupted", "killed", "running", "queued"]
STATES: tuple[TrialState, ...] = get_args(TrialState)
#: The one state whose trials have a value, a rank, and can be the best.
RESULT_STATE: Final[TrialState] = "complete"


def trial_dir(number: int) -> str:
    """The run directory of trial ``number`` (0-based, as Optuna numbers trials)."""
    return f"{TRIALS}/{number:04d}"


def is_sweep_directory(names: set[str]) -> bool:
    """Whether a folder holding entries ``names`` is a sweep folder."""
    return DEFINITION in names and TRIALS in names
