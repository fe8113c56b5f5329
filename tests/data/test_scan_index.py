"""The scan index: a file unchanged since its check is not opened again, and a file replaced by one
of the same size and modification time is checked again (its status-change time tells)."""

from __future__ import annotations

import os
from pathlib import Path

from cnnbuild.data import image_files
from cnnbuild.data.files import scan

from ..conftest import make_images


def test_unchanged_files_are_trusted_and_a_same_size_same_time_replacement_is_checked_again(tmp_path, monkeypatch):
    folder = make_images(tmp_path / "images", {"a": 3, "b": 3}, formats=("PNG",))
    first = scan(folder)
    assert len(first.files) == 6 and first.skipped == []

    replaced = folder / "a" / "a_001.png"
    before = os.stat(replaced)
    replaced.write_bytes(b"\x89PNG not an image " * (before.st_size // 18) + b"x" * (before.st_size % 18))
    os.utime(replaced, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p or touch -r leave it
    after = os.stat(replaced)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns) and after.st_ctime_ns != before.st_ctime_ns

    opened: list[Path] = []
    real_check = image_files.check_header
    monkeypatch.setattr(image_files, "check_header", lambda path: opened.append(path) or real_check(path))
    second = scan(folder)
    assert opened == [replaced]  # the five unchanged files were not opened: their verdicts came from the index
    assert [Path(item.path).name for item in second.files] == ["a_000.png", "a_002.png", "b_000.png", "b_001.png", "b_002.png"]
    assert [Path(item.path) for item in second.skipped] == [replaced]
    assert second.skipped[0].reason.startswith(("cannot", "not an image", "truncated"))
