"""A sweep worker: while the budget and the time allow, take the next trial and run it.

``cnnbuild sweep --workers K`` starts K of these as processes (``python -m cnnbuild.sweep FOLDER
INDEX``), all on one study; with one worker the loop runs in the command's own process.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.contracts.sweep_layout import RESULT_STATE
from cnnbuild.sweep import bookkeeping as book
from cnnbuild.sweep.folder import SweepFolder
from cnnbuild.sweep.leaderboard import write_leaderboard
from cnnbuild.sweep.study import load_study, make_pruner, make_sampler, open_storage, sampler_seed
from cnnbuild.sweep.trial import finish, run_trial

log = logging.getLogger("cnnbuild.sweep")
STORAGE_ENV = "CNNBUILD_SWEEP_STORAGE"  # a database URL reaches workers here, never on a command line


@dataclass
class WorkerLimits:
    """When a worker stops asking for trials: the trial budget, and an absolute deadline (time.time())."""

    trials: int
    deadline: float | None = None


@dataclass
class WorkerReport:
    ran: list[int] = field(default_factory=list)
    stopped_by: str = "budget"  # budget | time | interrupted | grid


def work(folder: SweepFolder, index: int, limits: WorkerLimits, storage_url: str | None) -> WorkerReport:
    """Run trials until the budget is used, the deadline passed, or Ctrl-C; returns what it did."""
    # TensorFlow warns about retracing when one process builds many models; that is what a worker does
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    sweep, base = folder.sweep(), folder.base_spec()
    storage = open_storage(folder.path, storage_url)
    existing = len(load_study(storage, folder.study_name).trials)
    seed = sampler_seed(sweep, folder.seed(), index, existing, many_machines=storage_url is not None)
    study = load_study(storage, folder.study_name, make_sampler(sweep, seed), make_pruner(sweep))
    tags = {"sweep": str(folder.path), "study": folder.study_name}
    report = WorkerReport()
    limit = limits.trials if sweep.sampler != "grid" else min(limits.trials, folder.grid_size())
    while True:
        try:
            with book.budget_lock(folder.path):
                book.fail_stale(study)
                trials = study.get_trials(deepcopy=False)
                if limits.deadline is not None and time.time() >= limits.deadline:
                    report.stopped_by = "time"
                    return report
                if book.counted(trials) >= limit:
                    report.stopped_by = "budget" if limit == limits.trials else "grid"
                    return report
                trial = study.ask()
                book.claim(trial, index)
        except KeyboardInterrupt:
            report.stopped_by = "interrupted"
            return report
        log.info("trial %d started (worker %d, pid %d)", trial.number, index, os.getpid())
        with book.Heartbeat(trial):
            outcome = run_trial(trial, base, sweep, folder.path, tags)
        frozen = finish(study, trial, outcome)
        report.ran.append(trial.number)
        log.info("%s", _describe(frozen.number, outcome, sweep.metric))
        with book.budget_lock(folder.path):
            write_leaderboard(folder, study)
        if outcome.state == "interrupted":
            report.stopped_by = "interrupted"
            return report


def _describe(number: int, outcome: Any, metric: str) -> str:
    values = ", ".join(f"{key}={value!r}" for key, value in outcome.values.items())
    if outcome.state == RESULT_STATE:
        return f"trial {number} complete: {metric} {outcome.value:.4f} in {outcome.seconds:.0f} s ({values})"
    detail = (outcome.error or "").splitlines()[0][:300] if outcome.error else ""
    return f"trial {number} {outcome.state}: {detail} ({values})"


def main(argv: list[str] | None = None) -> None:
    """Entry point of a worker process started by ``cnnbuild sweep --workers K``."""
    from cnnbuild.data.native import command_process

    command_process()  # a command's own process: TensorFlow imported as `cnnbuild` imports it
    parser = argparse.ArgumentParser(prog="python -m cnnbuild.sweep")
    parser.add_argument("folder", type=Path)
    parser.add_argument("index", type=int)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--deadline", type=float, default=None)
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[worker {args.index}] %(message)s"))
    logger = logging.getLogger("cnnbuild.sweep")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    from cnnbuild.errors import CnnbuildError

    try:
        report = work(SweepFolder(args.folder), args.index, WorkerLimits(args.trials, args.deadline), os.environ.get(STORAGE_ENV))
    except CnnbuildError as exc:
        print(f"[worker {args.index}] {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(130 if report.stopped_by == "interrupted" else 0)
