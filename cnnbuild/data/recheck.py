"""Files that changed or vanished after the check at the start of a run, found and listed.

The decoding pipeline skips a file it cannot read any more (so a file deleted mid-run does not
stop training); this finds those files afterwards, so every one of them is listed with its
reason and the run's counts stay true.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnnbuild.contracts.data import SkippedFile
from cnnbuild.data.image_files import check_image


def changed_files(files: list[tuple[str, int, str]], since_ns: int) -> list[tuple[SkippedFile, str]]:
    """``(skipped file, split)`` for each of ``files`` (``(path, label, split)``) that is gone, or
    was modified at or after ``since_ns`` and no longer decodes."""
    dropped: list[tuple[SkippedFile, str]] = []
    for path, _, split in files:
        try:
            modified = os.stat(path).st_mtime_ns
        except OSError as exc:
            dropped.append((SkippedFile(path, f"removed or unreadable after the check at the start of the run ({exc.strerror}); left out of the {split} split"), split))
            continue
        if modified >= since_ns:
            _, reason = check_image(Path(path))
            if reason:
                dropped.append((SkippedFile(path, f"changed after the check at the start of the run and now fails: {reason}; left out of the {split} split"), split))
    return dropped
