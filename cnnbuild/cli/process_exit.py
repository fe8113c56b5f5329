"""Leaving the process quickly once a command is done.

With TensorFlow loaded, the interpreter's own shutdown after a command has finished (freeing every
module, TensorFlow's C++ static destructors, its thread pools) took 2.4 s of a 28 s
``cnnbuild run`` on the 2-core machine, after the last file was written and the last line printed.
Nothing in that teardown is cnnbuild's or a plugin's to do except what they registered with
``atexit``, so the console script runs those, flushes the standard streams and ends the process.

It does so only where it is safe: when it is the console script (never inside a test's or a
notebook's process), when TensorFlow was imported (otherwise the shutdown is quick anyway), and
when no non-daemon thread is still running (the interpreter would wait for it). ``CNNBUILD_NORMAL_EXIT=1``
turns it off.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

NORMAL_EXIT_ENV = "CNNBUILD_NORMAL_EXIT"


def exit_status(code: object) -> int:
    """The status ``SystemExit(code)`` gives a process, as the interpreter computes it: ``None`` is 0,
    an int its low byte (-1, so 255, where it does not fit a C long), anything else is printed to
    stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return (code if -(2**63) <= code < 2**63 else -1) & 0xFF
    if sys.stderr is not None:
        print(code, file=sys.stderr)
    return 1


def quick_exit_allowed() -> bool:
    if os.environ.get(NORMAL_EXIT_ENV, "").strip() not in ("", "0"):
        return False
    if sys.modules.get("tensorflow") is None:  # not imported (or blocked, as a test may do)
        return False
    main = threading.main_thread()
    return not any(thread.is_alive() and not thread.daemon for thread in threading.enumerate() if thread is not main)


def leave(code: object) -> None:
    """End the process with ``SystemExit(code)``'s status without the interpreter's teardown, when
    that is safe; otherwise return and let the caller raise ``SystemExit`` as usual."""
    if not quick_exit_allowed():
        return
    status = exit_status(code)
    atexit._run_exitfuncs()  # what plugins and libraries registered (MLflow ends its runs, logging flushes)
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # its descriptor was closed before Python started
            continue
        try:
            stream.flush()
        except BrokenPipeError:  # the reader left (`| head`): what it did not read is not lost to anyone
            pass
        except (OSError, ValueError):  # a full disk under `> out.json`: the output is incomplete, so say so as Python does
            status = status or 120
    _flush_c_streams()  # what native code wrote with C stdio
    os._exit(status)


def _flush_c_streams() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
