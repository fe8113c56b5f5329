"""What the sweep keeps about each trial in Optuna's storage, and the rules that keep counts honest.

* Every trial records who runs it (host, pid) and, while it runs, a heartbeat.
* Optuna's journal storage has no heartbeat of its own, so a SIGKILLed worker leaves its trial
  RUNNING for ever. Before each ask, a worker fails the RUNNING trials whose worker is gone (same
  host and a dead process, or no heartbeat for :data:`GRACE_SECONDS`), records them as ``killed``
  and queues their parameters again.
* The budget counts trials that ended as complete, pruned, invalid or failed, and those running;
  killed and interrupted trials are never counted (nor ever results). Counting and asking happen
  under one lock, so parallel workers run exactly the budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.contracts.sweep_layout import TrialState

HEARTBEAT_SECONDS = 20.0
#: A trial on another host whose worker has been silent this long is taken as killed (clocks must roughly agree).
GRACE_SECONDS = 120.0
#: A killed or interrupted trial's parameters are tried again, up to this many attempts in all.
MAX_ATTEMPTS = 3

# user attributes of a trial
HOST, PID, WORKER, HEARTBEAT = "host", "pid", "worker", "heartbeat"
OUTCOME, ERROR, RUN_DIR, SECONDS, EPOCHS, OVERRIDES = "outcome", "error", "run_dir", "seconds", "epochs", "overrides"
RETRY_OF, ATTEMPT, RETRIED = "retry_of", "attempt", "retried"
#: The states of a failed Optuna trial, by what happened (``outcome``); the first two use up budget.
COUNTED_FAILURES: tuple[TrialState, ...] = ("invalid", "failed")
RETRIED_FAILURES: tuple[TrialState, ...] = ("killed", "interrupted")
#: The leaderboard state of each Optuna state but FAIL (whose state is the trial's ``outcome``).
_OPTUNA_STATES: dict[str, TrialState] = {"COMPLETE": layout.RESULT_STATE, "PRUNED": "pruned", "RUNNING": "running", "WAITING": "queued"}


def state_of(trial: Any) -> TrialState:
    """The leaderboard state of an ``optuna.trial.FrozenTrial`` (one of ``sweep_layout.STATES``)."""
    name = trial.state.name
    if name == "FAIL":
        return cast(TrialState, str(trial.user_attrs.get(OUTCOME, "failed")))  # written by finish(), from an Outcome's state
    return _OPTUNA_STATES[name]


def counted(trials: list[Any]) -> int:
    """How many trials use up the budget."""
    return sum(1 for trial in trials if state_of(trial) in (layout.RESULT_STATE, "pruned", "running", *COUNTED_FAILURES))


@contextlib.contextmanager
def budget_lock(folder: Path) -> Iterator[None]:
    """Held while a worker fails stale trials, counts, and asks: one worker at a time on this machine.

    ``flock`` is released by the kernel when its holder dies, so a SIGKILL never leaves it held.
    """
    with open(folder / layout.LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` on this host is running (a zombie waiting to be reaped is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stale_reason(trial: Any, now: float) -> str | None:
    """Why a RUNNING trial's worker must be gone, or None while it may still be at work."""
    attrs = trial.user_attrs
    host, pid = attrs.get(HOST), attrs.get(PID)
    if host == socket.gethostname() and isinstance(pid, int) and (pid == os.getpid() or not _alive(pid)):
        return f"its worker (process {pid} on {host}) stopped without finishing it"
    started = trial.datetime_start.timestamp() if trial.datetime_start else now
    silent = now - float(attrs.get(HEARTBEAT, started))
    if silent > GRACE_SECONDS:
        return f"no heartbeat from its worker (process {pid} on {host}) for {silent:.0f} s"
    return None


def tell(study: Any, trial: Any, *args: Any, **kwargs: Any) -> Any:
    """``study.tell``, returning the finished ``FrozenTrial``.

    Optuna's grid sampler calls ``study.stop()`` when its grid is used up, which outside
    ``optimize`` raises RuntimeError after the trial has been stored: that trial is finished.
    """
    try:
        return study.tell(trial, *args, **kwargs)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
        number = trial if isinstance(trial, int) else trial.number
        return next(frozen for frozen in study.get_trials(deepcopy=False) if frozen.number == number)


def end_unfinished(study: Any, trial: Any, outcome: str, reason: str) -> bool:
    """Mark a RUNNING trial ``outcome`` (killed or interrupted) with ``reason``, fail it, and queue
    its parameters again while attempts remain. False when another worker ended it first."""
    optuna = __import__("optuna")
    attempt = int(trial.user_attrs.get(ATTEMPT, 1))
    retry = bool(trial.params) and attempt < MAX_ATTEMPTS
    storage = study._storage  # the trial may belong to another process: only its id is known here
    try:
        storage.set_trial_user_attr(trial._trial_id, OUTCOME, outcome)
        storage.set_trial_user_attr(trial._trial_id, ERROR, reason)
        storage.set_trial_user_attr(trial._trial_id, RETRIED, retry)
        tell(study, trial.number, state=optuna.trial.TrialState.FAIL)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
        return False  # finished meanwhile, by its worker or by another worker's check
    if retry:
        study.enqueue_trial(dict(trial.params), user_attrs={RETRY_OF: trial.number, ATTEMPT: attempt + 1})
    return True


def fail_stale(study: Any) -> list[int]:
    """End the RUNNING trials whose worker is gone (see the module docstring); returns their numbers."""
    optuna = __import__("optuna")
    now, ended = time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        reason = stale_reason(trial, now)
        if reason and end_unfinished(study, trial, "killed", reason):
            ended.append(trial.number)
    return ended


class Heartbeat:
    """Writes the time into the trial every :data:`HEARTBEAT_SECONDS` from a thread, while in a ``with``."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"sweep-heartbeat-{trial.number}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):  # a missed beat only brings the grace period closer
                self.trial.set_user_attr(HEARTBEAT, time.time())

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def claim(trial: Any, worker: int) -> None:
    """Record who runs ``trial`` (set right after ``ask``, under the budget lock)."""
    for key, value in ((HOST, socket.gethostname()), (PID, os.getpid()), (WORKER, worker), (HEARTBEAT, time.time())):
        trial.set_user_attr(key, value)
