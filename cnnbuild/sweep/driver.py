"""``cnnbuild sweep``: check the sweep, prepare its folder and study, run the workers, then write
the leaderboard, ``best.yaml`` and the figures."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.builder.child_process import child_environment, python_module_command
from cnnbuild.errors import CnnbuildError
from cnnbuild.runs.sweep_record import SweepRecord
from cnnbuild.spec.errors import SpecError
from cnnbuild.spec.sweep_checks import check_sweep, load_sweep
from cnnbuild.sweep import bookkeeping as book
from cnnbuild.sweep.figures import draw_figures
from cnnbuild.sweep.folder import SweepFolder
from cnnbuild.sweep.leaderboard import format_table, write_leaderboard
from cnnbuild.sweep.study import create_study, load_study, open_storage, storage_label
from cnnbuild.sweep.study_record import StudyRecord, check_study
from cnnbuild.sweep.worker import STORAGE_ENV, WorkerLimits, work

log = logging.getLogger("cnnbuild.sweep")
#: Rounds of worker processes while workers die (SIGKILL, out of memory) before the budget is used.
MAX_ROUNDS = 3


@dataclass
class SweepResult:
    """What a sweep left: its folder, the leaderboard (``sweep.json``'s content) and the files written."""

    folder: Path
    leaderboard: dict[str, Any]
    stopped_by: str  # budget | grid | time | interrupted | workers
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return self.stopped_by == "interrupted"

    @property
    def best(self) -> dict[str, Any] | None:
        return self.leaderboard.get("best")

    @property
    def table(self) -> str:
        return format_table(self.leaderboard)

    @property
    def best_spec_path(self) -> Path:
        """``best.yaml``: the best trial's spec, to run again."""
        return SweepRecord(self.folder).best_spec_path


def run_sweep(
    spec: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    trials: int | None = None,
    workers: int = 1,
    storage: str | None = None,
    study: str | None = None,
    output: str | Path | None = None,
    join_study: bool = False,
) -> SweepResult:
    """Run (or continue) the sweep of ``spec`` (a spec with a ``sweep:`` section, or a sweep file).

    ``overrides`` (``--set``) apply to every trial; ``trials`` replaces the sweep's budget;
    ``workers`` processes share the study, kept in ``storage`` (a database URL; default a journal
    file in the folder); ``output`` is the sweep folder (default ``output.dir/sweeps/<name>``).
    Running it again on the same folder continues the sweep. A study in ``storage`` that holds
    another sweep (another search space or base spec) is refused unless ``join_study``.
    Raises SpecError or CnnbuildError.
    """
    setup = load_sweep(spec, overrides)
    check = check_sweep(setup)
    if check.errors:
        raise SpecError(check.errors)
    for warning in check.warnings:
        log.warning("%s", warning.render())
    folder_path = Path(output) if output else setup.spec.resolve_path(setup.spec.output.dir) / "sweeps" / setup.spec.name
    folder = SweepFolder.prepare(folder_path, setup, study, storage_label(storage), trials)
    sweep = folder.sweep()
    store = open_storage(folder.path, storage)
    optuna_study = create_study(store, folder.study_name, sweep.goal)
    mine = StudyRecord.of(folder.record.definition, setup.spec.canonical())
    try:
        check_study(optuna_study, mine, join=join_study, continuing=folder.continued)
    except CnnbuildError:
        folder.abandon()
        raise
    with book.budget_lock(folder.path):
        for number in book.fail_stale(optuna_study):
            log.warning("trial %d was left running by a worker that is gone: recorded killed, its values queued again", number)
    limits = WorkerLimits(sweep.trials, time.time() + sweep.time_budget if sweep.time_budget else None)
    log.info("sweep %s: study %r, %d trial(s) budgeted, %d counted so far, %d worker(s)", folder.path, folder.study_name, sweep.trials, book.counted(optuna_study.trials), workers)
    if workers == 1:
        try:
            stopped_by = work(folder, 0, limits, storage).stopped_by
        except KeyboardInterrupt:
            stopped_by = "interrupted"
    else:
        stopped_by = _run_processes(folder, workers, limits, lambda: _budget_left(folder, store, limits), storage)
    return _finish(folder, load_study(store, folder.study_name), stopped_by)


def _budget_left(folder: SweepFolder, store: Any, limits: WorkerLimits) -> bool:
    """Whether trials remain to run once the workers of a round have ended."""
    if limits.deadline is not None and time.time() >= limits.deadline:
        return False
    optuna_study = load_study(store, folder.study_name)
    with book.budget_lock(folder.path):
        book.fail_stale(optuna_study)
    limit = limits.trials if folder.sweep().sampler != "grid" else min(limits.trials, folder.grid_size())
    return book.counted(optuna_study.get_trials(deepcopy=False)) < limit


def _finish(folder: SweepFolder, optuna_study: Any, stopped_by: str) -> SweepResult:
    with book.budget_lock(folder.path):
        book.fail_stale(optuna_study)
        data = write_leaderboard(folder, optuna_study)
    files = folder.record.leaderboard_files()
    figures, notes = draw_figures(optuna_study, folder.path, data["metric"])
    return SweepResult(folder.path, data, stopped_by, files + figures, notes)


def _worker_environment(workers: int, storage: str | None) -> dict[str, str]:
    env = child_environment(os.environ)
    if storage:
        env[STORAGE_ENV] = storage
    # K workers on N cores: each TensorFlow gets N/K threads instead of N, so they do not fight over cores
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(name, threads)
    return env


def _run_processes(folder: SweepFolder, workers: int, limits: WorkerLimits, budget_left: Callable[[], bool], storage: str | None) -> str:
    """Start ``workers`` worker processes and wait for them; again while workers die before the budget is used."""
    command = python_module_command("cnnbuild.sweep", str(folder.path))
    limit = ["--trials", str(limits.trials)] + (["--deadline", repr(limits.deadline)] if limits.deadline else [])
    env = _worker_environment(workers, storage)
    stopped_by = "budget"
    for _ in range(MAX_ROUNDS):
        processes = [subprocess.Popen([*command, str(index), *limit], env=env) for index in range(workers)]
        interrupted = _wait(processes)
        codes = [process.returncode for process in processes]
        for index, code in enumerate(codes):
            if code is not None and code < 0 and not interrupted:
                log.warning("warning: worker %d was killed by signal %d; its trial is recorded killed and its values are tried again", index, -code)
        if interrupted or any(code == 130 for code in codes):
            return "interrupted"
        if any(code == 1 for code in codes):
            stopped_by = "workers"
        if not any(code is not None and code < 0 for code in codes) or not budget_left():
            return stopped_by
    return stopped_by


def _wait(processes: list[subprocess.Popen[Any]]) -> bool:
    """Wait for every worker, reaping each as it ends (a dead worker must not look alive to the others).

    Ctrl-C reaches the workers too (one process group); they stop after their current batch.
    A second Ctrl-C here ends them. SIGTERM (a scheduler stopping the job) is passed on to the
    workers, which stop as after Ctrl-C. Returns whether the sweep was interrupted.
    """
    interrupted = False

    def terminate(*_: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        while True:
            try:
                while any(process.poll() is None for process in processes):
                    time.sleep(0.5)
                return interrupted
            except KeyboardInterrupt:
                for process in processes:
                    if process.poll() is None:
                        process.terminate()  # SIGTERM: the trainer stops after the batch, as on Ctrl-C
                interrupted = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
