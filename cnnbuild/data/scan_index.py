"""The scan index: each checked file's verdict, keyed by path, size and modification time.

Checking decodes every image (about 250 microseconds each); the index lets a second run over an
unchanged folder of 100,000 images start training after a few seconds of ``stat`` calls, and
decodes only the files that are new or changed. It is an SQLite file in the cache folder
(``$CNNBUILD_CACHE_DIR/scan-index.sqlite3``); a verdict from another version of the check, or of
Pillow, is not reused. ``CNNBUILD_SCAN_INDEX=0`` turns it off.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from cnnbuild.data.archives import cache_root
from cnnbuild.data.image_files import Verdict

INDEX_ENV = "CNNBUILD_SCAN_INDEX"
#: Raise when the check's rules change, so older verdicts are checked again.
CHECK_VERSION = 3  # 3: GIFs with a transparent colour are read by Pillow
_SCHEMA = """CREATE TABLE IF NOT EXISTS verdicts (
    path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER, checker TEXT,
    native INTEGER, reason TEXT, digest TEXT, image_format TEXT)"""


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

    def lookup(self, paths: list[Path]) -> dict[Path, Verdict]:
        """The stored verdicts of the files in ``paths`` whose size and modification time are unchanged."""
        stats: dict[bytes, tuple[Path, int, int]] = {}
        for path in paths:
            try:
                status = os.stat(path)
            except OSError:
                continue
            stats[os.fsencode(path)] = (path, status.st_size, status.st_mtime_ns)
        found: dict[Path, Verdict] = {}
        try:
            with closing(self._connect()) as connection:
                keys = list(stats)
                for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                    chunk = keys[start : start + 500]
                    rows = connection.execute(
                        f"SELECT path, size, mtime_ns, native, reason, digest, image_format FROM verdicts WHERE checker = ? AND path IN ({','.join('?' * len(chunk))})",
                        [self.checker, *chunk],
                    )
                    for key, size, mtime, native, reason, digest, image_format in rows:
                        path, now_size, now_mtime = stats[bytes(key)]
                        if (size, mtime) == (now_size, now_mtime):
                            found[path] = Verdict(bool(native), reason, size, mtime, digest, image_format)
        except sqlite3.Error:
            return {}
        return found

    def store(self, verdicts: dict[Path, Verdict]) -> None:
        """Keep verdicts for next time (files without a size or time, which could not be read, are not kept)."""
        rows = [
            (os.fsencode(path), v.size, v.mtime_ns, self.checker, int(v.native), v.reason, v.digest, v.image_format)
            for path, v in verdicts.items()
            if v.mtime_ns
        ]
        try:
            with closing(self._connect()) as connection, connection:
                connection.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error:
            pass  # the index only saves time; a locked or full database must not stop a run
