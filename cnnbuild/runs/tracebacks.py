"""Unexpected exceptions (cnnbuild's bugs, or a plugin's): the whole chained traceback kept in a file,
and one message saying it is a bug and where that file is, instead of a one-line error that loses the cause.

In a run, the file is the run folder's ``traceback.txt``; elsewhere it is a new file under the cache
folder (``$CNNBUILD_CACHE_DIR`` or ~/.cache/cnnbuild) in ``tracebacks/``.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from cnnbuild.contracts import run_layout as layout
from cnnbuild.contracts.atomic import write_atomically

#: Setting this to anything but "" or "0" (or ``cnnbuild --debug``) prints chained tracebacks of every error.
DEBUG_ENV = "CNNBUILD_DEBUG"


def debugging() -> bool:
    """Whether errors should show their whole chained traceback (``--debug``, ``CNNBUILD_DEBUG=1``)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def traceback_text(exc: BaseException) -> str:
    """The exception with its causes and contexts, as Python prints them."""
    return "".join(traceback.format_exception(exc))


def save_traceback(exc: BaseException, run_dir: Path | None = None) -> Path | None:
    """Write ``exc``'s chained traceback to ``run_dir/traceback.txt``, or without a run to a new file
    under the cache folder; the path written, or None when no file could be written (a full disk)."""
    from cnnbuild.data.cache import cache_root

    if run_dir is not None:
        target = Path(run_dir) / layout.TRACEBACK
    else:
        target = cache_root() / "tracebacks" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomically(target, lambda path: path.write_text(traceback_text(exc), encoding="utf-8"))
    except OSError:
        return None


def where_raised(exc: BaseException) -> str:
    """``file:line`` of the innermost frame that raised ``exc`` (the code at fault, for the message)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def bug_message(exc: BaseException, saved: Path | None) -> str:
    """The one message for an unexpected exception: what it was, that it is a bug, where its traceback is."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]
    kept = f"its traceback is in {saved}" if saved is not None else "its traceback could not be written to a file (run with --debug to see it)"
    return (
        f"internal error: {type(exc).__name__}{': ' + first if first else ''} (raised at {where_raised(exc)}); "
        f"this is a bug in cnnbuild or in a plugin it called, not a problem with your spec or data: {kept}; please report it with that file"
    )
