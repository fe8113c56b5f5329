"""Write a file so that readers see the old file or the whole new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from cnnbuild.contracts.run_layout import PARTIAL_PREFIX


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def write_atomically(target: Path, writer: Callable[[Path], object], suffix: str = "") -> Path:
    """Let ``writer`` fill a temporary file beside ``target``, then move it into place in one rename.

    The temporary file's name starts with ``.partial-``; one left behind by a kill is never read.
    Raises OSError as the file system does.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(handle)
    try:
        writer(Path(temporary))
        os.chmod(temporary, _FILE_MODE)  # mkstemp makes owner-only files; artifacts are ordinary files
        with open(temporary, "rb+") as synced:
            os.fsync(synced.fileno())
        os.replace(temporary, target)
        _sync_directory(target.parent)  # the rename itself survives a power cut
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def _sync_directory(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some file systems (and Windows) cannot open folders; the rename is still atomic
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
