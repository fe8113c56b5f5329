"""The scan index: each checked file's verdict, kept for as long as the file is unchanged.

Checking decodes every image (about 250 microseconds each); the index lets a second run over an
unchanged folder of 100,000 images start training after a few seconds of ``stat`` calls, and
decodes only the files that are new or changed. It is an SQLite file in the cache folder
(``$CNNBUILD_CACHE_DIR/scan-index.sqlite3``); a verdict from another version of the check, or of
Pillow, is not reused. ``CNNBUILD_SCAN_INDEX=0`` turns it off.

A file counts as unchanged when its path, size, modification time, inode and status-change time
(``st_ctime_ns``) are all those it had when it was checked; no file is opened to decide. The
status-change time is the one a user cannot set: copying a file over another with its time kept
(``cp -p``, ``touch -r``, ``rsync -t``) leaves size and modification time alike but sets it, so
such a file is checked again, and so is one moved over another (``mv``: a new inode). (On a file
system without a status-change time, such as some network mounts, a file replaced with the same
size, time and inode keeps its old verdict; so does one rewritten, at the same size, within the
file system's clock tick after its check stored it, the "racy" case git also has.)

Each file is ``stat``-ed once: a folder scan compares what the walk's own ``stat`` of the
directory entry gave (links followed, as ``os.stat``). The walk comes after a run notes when its
data was loaded, so a file changed after the walk is caught by the re-check after training
(:mod:`cnnbuild.data.recheck`), as any file changed during the run is. A folder is not trusted as a whole by its own times: rewriting a file in
place changes neither the folder's modification time nor its listing. The verdicts under a
folder are read in one query.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path

from cnnbuild.data.cache import cache_root
from cnnbuild.data.image_files import Verdict
from cnnbuild.data.walk import Identity, identity

INDEX_ENV = "CNNBUILD_SCAN_INDEX"
#: Raise when the check's rules change, so older verdicts are checked again.
CHECK_VERSION = 3  # 3: GIFs with a transparent colour are read by Pillow
# (the first table, "verdicts", was keyed by size and time alone; it is left as it is and unused)
_SCHEMA = """CREATE TABLE IF NOT EXISTS checked (
    path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, ctime_ns INTEGER, checker TEXT,
    native INTEGER, reason TEXT, digest TEXT, image_format TEXT)"""


def _common_prefix(names: list[str]) -> str:
    """The longest prefix of every name (that of the smallest and the largest is that of all)."""
    low, high = min(names), max(names)
    length = 0
    for a, b in zip(low, high, strict=False):  # low is no longer than their common part
        if a != b:
            break
        length += 1
    return low[:length]


def _checker() -> str:
    import PIL

    return f"{CHECK_VERSION}/pillow-{PIL.__version__}"


class ScanIndex:
    """Verdicts of files already checked, in an SQLite database (safe across processes)."""

    def __init__(self, database: Path) -> None:
        self.database = Path(database)
        self.checker = _checker()

    @classmethod
    def default(cls) -> ScanIndex | None:
        """The index in the cache folder, or None when turned off or the folder is not writable."""
        if os.environ.get(INDEX_ENV, "1").strip() in ("0", "false", "no", "off"):
            return None
        folder = cache_root()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            index = cls(folder / "scan-index.sqlite3")
            with closing(index._connect()) as connection:
                connection.execute(_SCHEMA)
            return index
        except (OSError, sqlite3.Error):
            return None  # a read-only home: check every file, as without an index

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.database, timeout=30)

    def lookup(self, paths: Sequence[Path | str], identities: Mapping[str, Identity] | None = None) -> dict[Path | str, Verdict]:
        """The stored verdicts of the files in ``paths`` that are unchanged (the module's rule), keyed
        as in ``paths``. ``identities`` holds, for path strings, the identity the caller's own
        ``stat`` gave (the walk's); any other path is ``stat``-ed here."""
        identities = identities or {}
        # path string (as os.fsencode writes the key) -> identity now; `others` also keeps the caller's Path
        given: dict[str, Identity] = {path: identities[path] for path in paths if path.__class__ is str and path in identities}
        others: dict[str, tuple[Path | str, Identity]] = {}
        for path in paths:
            if path.__class__ is not str or path not in given:
                try:
                    others[os.fspath(path)] = (path, identity(os.stat(path)))
                except OSError:
                    continue
        if not given and not others:
            return {}
        found: dict[Path | str, Verdict] = {}
        prefix = os.fsencode(_common_prefix([*given, *others]))
        encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
        try:
            with closing(self._connect()) as connection:
                # one read of every verdict under the folder: a range of the primary key
                rows = connection.execute(
                    "SELECT path, size, mtime_ns, inode, ctime_ns, native, reason, digest, image_format FROM checked WHERE checker = ? AND path >= ? AND path < ?",
                    [self.checker, prefix, prefix + b"\xff" * 8],
                )
                for key, size, mtime, inode, ctime, native, reason, digest, image_format in rows:
                    name = key.decode(encoding, errors)  # as os.fsdecode, without its per-call checks
                    now = given.get(name)
                    asked: Path | str = name
                    if now is None:
                        if name not in others:
                            continue  # a file under the same folder that was not asked about
                        asked, now = others[name]
                    if (size, mtime, inode, ctime) == now:
                        found[asked] = Verdict(bool(native), reason, size, mtime, digest, image_format)
        except sqlite3.Error:
            return {}
        return found

    def store(self, verdicts: dict[Path, Verdict]) -> None:
        """Keep verdicts for next time: those of files still as they were checked (same size and time);
        files without a size or time, which could not be read, are not kept."""
        rows = []
        for path, v in verdicts.items():
            try:
                status = os.stat(path)
            except OSError:
                continue
            if v.mtime_ns and (status.st_size, status.st_mtime_ns) == (v.size, v.mtime_ns):
                rows.append((os.fsencode(path), *identity(status), self.checker, int(v.native), v.reason, v.digest, v.image_format))
        try:
            with closing(self._connect()) as connection, connection:
                connection.executemany("INSERT OR REPLACE INTO checked VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error:
            pass  # the index only saves time; a locked or full database must not stop a run
