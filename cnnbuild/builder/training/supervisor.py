"""``cnnbuild run`` trains in a child process, so a run killed by the system still says so.

When the kernel's out-of-memory killer ends a run (SIGKILL), or TensorFlow crashes (SIGSEGV),
the training process cannot write anything. The supervising parent, which holds little memory,
sees how its child ended and marks the run ``failed`` in ``status.json`` with a one-line
reason. The child runs in its own process group: the parent forwards Ctrl-C (SIGINT), SIGTERM
and SIGHUP to it, and on Linux the child dies with the parent if the parent is killed.
``CNNBUILD_SUPERVISE=0`` trains in the command's own process instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

SUPERVISE_ENV = "CNNBUILD_SUPERVISE"
SUPERVISED_ENV = "CNNBUILD_SUPERVISED"  # set in the child
RUN_DIR_NOTE_ENV = "CNNBUILD_RUN_DIR_NOTE"  # a file the child writes its run directory's path to
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def wanted() -> bool:
    """Whether this ``cnnbuild run`` should start a supervised child (not when it is that child)."""
    return not os.environ.get(SUPERVISED_ENV) and os.environ.get(SUPERVISE_ENV, "1").strip() not in ("0", "false", "no", "off")


def announce_run_dir(path: Path) -> None:
    """Tell a supervising parent where this run writes (nothing happens without one)."""
    note = os.environ.get(RUN_DIR_NOTE_ENV)
    if note:
        Path(note).write_text(str(Path(path).resolve()), encoding="utf-8")


def _die_with_parent() -> None:
    # The parent forwards Ctrl-C, SIGTERM and SIGHUP, so the child must act on them even when the
    # parent was started with them ignored (a background job of a script: `cnnbuild run ... &`
    # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt).
    for number in _FORWARDED:
        signal.signal(number, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def describe_signal(number: int) -> str:
    """Why a training process that died by signal ``number`` died, in a line a user can act on."""
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
    if number == signal.SIGKILL:
        return (
            f"the training process was killed ({name}), most often by the system's out-of-memory killer when a run needs more memory "
            "than the machine has; `cnnbuild summary SPEC` estimates the memory a batch needs: lower data.batch_size or image_size"
        )
    if number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
        return f"the training process crashed ({name}) inside a native library such as TensorFlow; this can also mean memory ran out"
    return f"the training process was ended by {name}"


def supervise(argv: list[str]) -> int:
    """Run ``cnnbuild`` with ``argv`` in a child process and return the exit status to leave with."""
    from cnnbuild.builder.child_process import child_environment, python_module_command
    from cnnbuild.runs.directory import RunDirectory
    from cnnbuild.runs.record import RunRecord

    with tempfile.TemporaryDirectory(prefix="cnnbuild-run-") as folder:
        note = Path(folder) / "run-dir"
        env = child_environment({**os.environ, SUPERVISED_ENV: "1", RUN_DIR_NOTE_ENV: str(note)})
        child = subprocess.Popen(python_module_command("cnnbuild", *argv), env=env, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
        previous = {number: signal.signal(number, lambda number, frame: child.send_signal(number)) for number in _FORWARDED}
        try:
            status = child.wait()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        run_dir = Path(note.read_text(encoding="utf-8")) if note.exists() else None
    if status >= 0:
        return status
    reason = describe_signal(-status)
    if run_dir is not None and RunRecord(run_dir).state in ("running", "unknown"):
        resume = f"; the epochs completed before it are kept: cnnbuild run --resume {run_dir}" if RunRecord(run_dir).resume_state.saved else ""
        RunDirectory(run_dir).set_status("failed", error=reason + resume)
        print(f"{run_dir}: {reason}{resume}", file=sys.stderr, flush=True)
    else:
        print(f"cnnbuild run: {reason}", file=sys.stderr, flush=True)
    return 128 - status
