"""export.json is read by one reader; the files it lists are deleted by the next export into the
folder, so a list naming anything outside the folder is refused rather than acted on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnnbuild.errors import ExportError
from cnnbuild.export.folder import ExportFolder
from cnnbuild.export.formats import BY_NAME
from cnnbuild.export.manifest import read_report


def export_record(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: {"sha256": "0" * 64, "bytes": 9} for name in names}
    (folder / "export.json").write_text(json.dumps({"metadata": {"format": "tflite"}, "files": files}), encoding="utf-8")
    return folder


@pytest.mark.parametrize("listed", ["../victim.txt", "{victim}", "sub/../../victim.txt", "./model.tflite", ""])
def test_an_export_record_listing_a_file_outside_its_folder_is_refused_and_nothing_is_deleted(tmp_path, listed):
    victim = tmp_path / "victim.txt"
    victim.write_text("a person's own file\n")
    folder = export_record(tmp_path / "deploy", [listed.format(victim=victim)])
    with pytest.raises(ExportError, match=r"export\.json: cannot be read as cnnbuild's export record .*not a file inside the export folder"):
        ExportFolder.check(folder, BY_NAME["tflite"])
    assert victim.read_text() == "a person's own file\n"


def test_a_listed_file_reached_through_a_link_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "notes.txt").write_text("kept\n")
    folder = export_record(tmp_path / "deploy", ["link/notes.txt"])
    os.symlink(outside, folder / "link")
    with pytest.raises(ExportError, match="leads outside the export folder"):
        read_report(folder)
    assert (outside / "notes.txt").read_text() == "kept\n"


def test_the_files_export_writes_are_read_back(tmp_path):
    folder = export_record(tmp_path / "deploy", ["model.tflite", "variables/variables.index"])
    assert set(read_report(folder).files) == {"model.tflite", "variables/variables.index"}
