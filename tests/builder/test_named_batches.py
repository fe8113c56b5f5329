"""The report's and evaluate's prediction pass by file: files the run's check already judged are not checked again."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("tensorflow")

from cnnbuild.builder.reports.evaluation import named_batches  # noqa: E402
from cnnbuild.data import image_files  # noqa: E402
from cnnbuild.data.scan_index import ScanIndex  # noqa: E402

from ..conftest import make_images  # noqa: E402


def test_files_the_check_judged_are_answered_by_the_scan_index(tmp_path, monkeypatch) -> None:
    folder = make_images(tmp_path / "images", {"a": 2, "b": 2}, size=(10, 8))
    paths = sorted(str(path) for path in folder.rglob("*.*"))
    files = [(path, index % 2, "validation") for index, path in enumerate(paths)]
    image_files.inspect_images(paths, index=ScanIndex.default())  # the run's check before training

    def checked_again(todo, **options):
        raise AssertionError(f"checked again: {todo}")

    monkeypatch.setattr(image_files, "_inspect_all", checked_again)
    batches = list(named_batches(files, "validation", SimpleNamespace(image_size=(6, 6), color_mode="rgb"), 3).as_numpy_iterator())
    assert [images.shape for images, _, _ in batches] == [(3, 6, 6, 3), (1, 6, 6, 3)]
    assert [name.decode() for _, _, names in batches for name in names] == paths
    assert [int(label) for _, labels, _ in batches for label in labels] == [0, 1, 0, 1]
