"""The scan index: a file unchanged since its check is not opened again, and a file replaced by one
of the same size and modification time is checked again (its status-change time tells)."""

from __future__ import annotations

import os
from pathlib import Path

from cnnbuild.data import image_files
from cnnbuild.data.files import scan
from cnnbuild.data.image_files import Verdict
from cnnbuild.data.scan_index import ScanIndex
from cnnbuild.data.walk import find_images, identity

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


def _opened_by_second_scan(folder: Path, monkeypatch) -> list[Path]:
    opened: list[Path] = []
    real_check = image_files.check_header
    monkeypatch.setattr(image_files, "check_header", lambda path: opened.append(path) or real_check(path))
    scan(folder)
    return opened


def test_a_file_moved_over_another_with_the_same_size_and_time_is_checked_again(tmp_path, monkeypatch):
    # mv/os.replace: a new inode under the old name, size and modification time made equal to the old file's
    folder = make_images(tmp_path / "images", {"a": 2, "b": 2}, formats=("PNG",))
    scan(folder)
    target, source = folder / "b" / "b_000.png", folder / "b" / "b_001.png"
    old = os.stat(target)
    staged = tmp_path / "staged.png"
    staged.write_bytes(source.read_bytes()[: old.st_size].ljust(old.st_size, b"\0"))
    os.utime(staged, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(staged, target)
    new = os.stat(target)
    assert (new.st_size, new.st_mtime_ns) == (old.st_size, old.st_mtime_ns) and new.st_ino != old.st_ino
    assert _opened_by_second_scan(folder, monkeypatch) == [target]


def test_a_touched_file_is_checked_again_and_an_untouched_folder_opens_nothing(tmp_path, monkeypatch):
    folder = make_images(tmp_path / "images", {"a": 2, "b": 2}, formats=("PNG",))
    scan(folder)
    assert _opened_by_second_scan(folder, monkeypatch) == []
    touched = folder / "a" / "a_001.png"
    status = os.stat(touched)
    os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert _opened_by_second_scan(folder, monkeypatch) == [touched]


def test_the_walk_hands_the_index_what_a_second_stat_would_give(tmp_path):
    # the index compares the walk's stat of each file, not one of its own: they must agree, links followed
    folder = make_images(tmp_path / "images", {"a": 2, "b": 2}, formats=("PNG",))
    (folder / "b" / "link.png").symlink_to(folder / "a" / "a_000.png")
    found = find_images(folder / "b")
    assert [Path(path).name for path in found.paths] == ["b_000.png", "b_001.png", "link.png"]
    assert found.identities == {path: identity(os.stat(path)) for path in found.paths}


def test_the_walk_orders_paths_as_path_objects_sort(tmp_path):
    # "x/a.jpg" sorts before "x-1.jpg" as Paths (part by part) but after it as plain strings;
    # the order is that of earlier releases, which a run's data fingerprint follows
    folder = make_images(tmp_path / "images", {"x": 1, "x-1": 1, "x 2": 1}, formats=("PNG",))
    for name in ("x-1.png", "x.png", "x 2.png", "X.png", "é.png"):
        (folder / name).write_bytes((folder / "x" / "x_000.png").read_bytes())
    found = find_images(folder)
    assert found.images == sorted(Path(path) for path in found.paths)
    assert found.paths != sorted(found.paths)  # the case this guards: a plain string sort differs
    assert [Path(path).relative_to(folder).as_posix() for path in found.paths][:5] == ["X.png", "x/x_000.png", "x 2/x 2_000.png", "x 2.png", "x-1/x-1_000.png"]


def test_lookup_answers_in_the_callers_keys_and_trusts_only_a_matching_identity(tmp_path, monkeypatch):
    # no TensorFlow: verdicts stored directly, then asked for as a Path (stat-ed by the index) and
    # as a walk's string with its identity (not stat-ed again), stale or not
    monkeypatch.setenv("CNNBUILD_CACHE_DIR", str(tmp_path / "cache"))
    index = ScanIndex.default()
    first, second = tmp_path / "one.png", tmp_path / "two.png"
    first.write_bytes(b"1" * 10)
    second.write_bytes(b"2" * 20)
    verdicts = {path: Verdict(True, "", os.stat(path).st_size, os.stat(path).st_mtime_ns, path.name, "PNG") for path in (first, second)}
    index.store(verdicts)
    walked = {str(second): identity(os.stat(second))}
    found = index.lookup([first, str(second)], walked)
    assert found == {first: verdicts[first], str(second): verdicts[second]}
    stale = {str(second): (20, os.stat(second).st_mtime_ns, os.stat(second).st_ino, os.stat(second).st_ctime_ns - 1)}
    assert index.lookup([str(second)], stale) == {}  # the identity given is compared, not a fresh stat
    assert index.lookup([str(first)]) == {str(first): verdicts[first]}  # a string without an identity is stat-ed
