"""Give memory back to the operating system after a burst of requests (glibc's allocator; elsewhere nothing to do).

glibc keeps freed memory for reuse: a large block freed once raises the size above which blocks
come from (and return to) the system directly, and each thread's arena keeps its free pages. A
server that decoded a burst of photos would then stay at the burst's size. Fixing the threshold
sends image-sized blocks straight back on free; ``malloc_trim`` returns the free pages of every
arena once the server is idle.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

#: mallopt's parameter number for the mmap threshold (malloc.h)
M_MMAP_THRESHOLD = -3
#: blocks of this size and larger are mapped from the system and unmapped when freed
MMAP_THRESHOLD = 1 << 20


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None  # glibc only


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold so large blocks go back to the system when freed; False when not glibc."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def return_free_memory() -> None:
    """Hand every arena's free pages back to the system (glibc's ``malloc_trim``); nothing elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def resident_bytes() -> int | None:
    """This process's resident memory (Linux), for /metadata; None where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")
