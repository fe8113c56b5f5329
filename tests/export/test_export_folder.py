"""The export folder: export replaces only what it wrote (export.json lists it, with sha256s) and
says what it kept; predict checks the hashes; every wrong --out is one line, found before
TensorFlow loads; TFLite exports run in a process that cannot import TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import digit_pngs, run_cli
from . import no_tensorflow

pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")


@pytest.fixture(scope="module")
def tflite_folder(tiny_digits_run, tmp_path_factory) -> Path:
    import cnnbuild.export

    return cnnbuild.export.export_run(tiny_digits_run, "tflite", out=tmp_path_factory.mktemp("exports") / "tflite", latency_runs=2).folder


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    return digit_pngs(tmp_path_factory.mktemp("digits"), count=3)


def export_in_process(*args: str):
    """``cnnbuild export ARGS`` through click in this process, where TensorFlow is loaded already
    (one export runs in a process of its own: test_exporting_again_replaces_only_what_export_wrote)."""
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    return CliRunner().invoke(cli, ["export", *args])


def copy(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to


def test_export_json_lists_every_file_with_its_sha256(tiny_digits_run, tflite_folder):
    import hashlib
    import stat

    run_file_mode = stat.S_IMODE((tiny_digits_run / "metrics.json").stat().st_mode)
    for path in tflite_folder.iterdir():  # written through contracts/atomic.py: the run files' policy
        assert stat.S_IMODE(path.stat().st_mode) == run_file_mode, path

    files = json.loads((tflite_folder / "export.json").read_text())["files"]
    assert sorted(files) == ["model.tflite", "model.tflite.json"]
    for name, fact in files.items():
        content = (tflite_folder / name).read_bytes()
        assert fact == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def test_exporting_again_replaces_only_what_export_wrote(tiny_digits_run, tflite_folder, tmp_path):
    deploy = copy(tflite_folder, tmp_path / "deploy")
    (deploy / "Dockerfile").write_text("FROM scratch\n")
    (deploy / "notes").mkdir()
    (deploy / "notes" / "todo.txt").write_text("mine")
    (deploy / "model.tflite.json").unlink()  # export's own file, gone: no matter
    result = run_cli("export", str(tiny_digits_run), "--format", "onnx", "--out", str(deploy), "--latency-runs", "2")  # the one export in a process of its own
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"kept Dockerfile, notes/todo.txt in {deploy} (not written by cnnbuild export)"
    assert sorted(str(path.relative_to(deploy)) for path in deploy.rglob("*")) == ["Dockerfile", "export.json", "model.onnx", "notes", "notes/todo.txt"]
    assert (deploy / "Dockerfile").read_text() == "FROM scratch\n" and sorted(json.loads((deploy / "export.json").read_text())["files"]) == ["model.onnx"]


def test_a_file_export_did_not_write_is_never_overwritten(tiny_digits_run, tflite_folder, tmp_path):
    mine = copy(tflite_folder, tmp_path / "mine")
    report = json.loads((mine / "export.json").read_text())
    del report["files"]["model.tflite"]  # export.json does not say export wrote it: the user's file
    (mine / "export.json").write_text(json.dumps(report))
    result = no_tensorflow.run("export", str(tiny_digits_run), "--format", "tflite", "--out", str(mine))
    assert result.returncode == 1
    assert result.stderr == f"{mine}: holds model.tflite, which cnnbuild export did not write (its export.json does not list it); move it away or choose another --out\n"


def test_an_export_of_the_previous_release_is_replaced_and_still_loads_with_a_note(tiny_digits_run, tflite_folder, images, tmp_path):
    old = copy(tflite_folder, tmp_path / "old")
    report = json.loads((old / "export.json").read_text())
    del report["files"]  # what the previous release wrote: sizes, no file list
    (old / "export.json").write_text(json.dumps(report))
    predicted = no_tensorflow.run("predict", str(old), str(images[0]))
    assert predicted.returncode == 0 and predicted.stdout.startswith(f"{images[0]}: ")
    assert predicted.stderr == f"note: {old / 'export.json'} was written by an earlier cnnbuild and records no file hashes, so the model is used unchecked; export again to record them\n"
    (old / "Dockerfile").write_text("FROM scratch\n")
    result = export_in_process(str(tiny_digits_run), "--format", "tflite", "--out", str(old), "--latency-runs", "2")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in old.iterdir()) == ["Dockerfile", "export.json", "model.tflite", "model.tflite.json"]


def test_a_changed_model_is_refused_or_used_with_a_warning_when_allowed(tflite_folder, images, tmp_path):
    tampered = copy(tflite_folder, tmp_path / "tampered")
    content = bytearray((tampered / "model.tflite").read_bytes())
    content[len(content) // 2 : len(content) // 2 + 64] = bytes(64)  # 64 weight bytes changed
    (tampered / "model.tflite").write_bytes(bytes(content))
    refused = no_tensorflow.run("predict", str(tampered), str(images[0]))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == f"{tampered}: model.tflite changed after cnnbuild export wrote it (the sha256 differs from {tampered / 'export.json'}); export again, or pass --allow-modified to use the files as they are\n"
    allowed = no_tensorflow.run("predict", str(tampered / "model.tflite"), str(images[0]), "--allow-modified")
    assert allowed.returncode == 0 and allowed.stdout.startswith(f"{images[0]}: ")
    assert allowed.stderr.startswith(f"warning: {tampered}: model.tflite changed after cnnbuild export wrote it")


def test_predict_on_a_tflite_export_never_imports_tensorflow(tflite_folder, images):
    import cnnbuild.export

    result = no_tensorflow.run("predict", str(tflite_folder), *map(str, images), "--json", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == cnnbuild.export.predict_images(tflite_folder, images, top_k=3)


def test_refused_requests_and_wrong_folders_are_one_line_before_tensorflow_loads(tiny_digits_run, tmp_path):
    (tmp_path / "afile").write_text("a file")
    cases = [
        (["--format", "saved_model", "--quantize", "int8"], "a SavedModel cannot be quantized (--quantize int8); use --format tflite or --format onnx for int8\n"),
        (["--format", "tflite", "--out", str(tmp_path / "afile" / "sub")], f"--out {tmp_path / 'afile' / 'sub'}: {tmp_path / 'afile'} is a file, not a folder; choose another --out\n"),
        (["--format", "tflite", "--out", str(tmp_path / "m.tflite")], f"--out {tmp_path / 'm.tflite'}: --out names the export folder (it holds the model, its metadata and export.json), not the model file; for example --out exports/m\n"),
    ]
    for options, message in cases:
        result = no_tensorflow.run("export", str(tiny_digits_run), *options)
        assert (result.returncode, result.stderr) == (1, message)


def without_override() -> None:
    """In the child, before exec: root loses the capabilities that ignore file permissions, so a
    read-only folder is read-only for it as for anyone (dropped from the bounding set, they are gone after exec)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """``cnnbuild ARGS`` (no TensorFlow) as this user, without root's permission override."""
    return no_tensorflow.run(*args, preexec_fn=without_override if os.geteuid() == 0 else None)


def test_read_only_targets_are_refused_in_one_line(tiny_digits_run, tflite_folder, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    earlier = copy(tflite_folder, tmp_path / "earlier")
    for path in [locked, earlier, *earlier.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        result = run_unprivileged("export", str(tiny_digits_run), "--format", "tflite", "--out", str(locked / "sub"))
        assert (result.returncode, result.stderr) == (1, f"--out {locked / 'sub'}: cannot write in {locked} (permission denied); choose another --out, or make it writable\n")
        result = run_unprivileged("export", str(tiny_digits_run), "--format", "tflite", "--out", str(earlier))
        assert (result.returncode, result.stderr) == (1, f"--out {earlier}: cannot write in {earlier} (permission denied); choose another --out, or make it writable\n")
    finally:
        for path in [locked, earlier]:
            path.chmod(0o755)


@pytest.fixture(scope="module")
def saved_model_folder(tiny_digits_run, tmp_path_factory) -> Path:
    import cnnbuild.export

    return cnnbuild.export.export_run(tiny_digits_run, "saved_model", out=tmp_path_factory.mktemp("exports") / "saved_model", latency_runs=2).folder


@pytest.mark.parametrize("missing", ["variables/variables.index", "variables/variables.data-00000-of-00001"])
@pytest.mark.parametrize("listed", [True, False], ids=["listed", "previous-release"])
def test_a_saved_model_missing_its_weights_is_named(saved_model_folder, images, tmp_path, missing, listed):
    broken = copy(saved_model_folder, tmp_path / "broken")
    (broken / missing).unlink()
    if not listed:
        report = json.loads((broken / "export.json").read_text())
        del report["files"]
        (broken / "export.json").write_text(json.dumps(report))
    result = run_cli("predict", str(broken), str(images[0]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    if listed:
        assert last == f"{broken}: {missing} is missing (cnnbuild export wrote it; export.json lists it); copy the whole export folder again, or export again"
    else:
        shown = missing if missing.endswith("index") else "variables/variables.data-*"
        assert last == f"{broken}: {shown} is missing, so the model has no weights; copy the whole export folder again, or export again"


def test_evaluate_an_export_on_a_folder_without_tensorflow(tflite_folder, tmp_path):
    from PIL import Image

    data = tmp_path / "data"
    for path in digit_pngs(tmp_path / "pngs", count=12):
        label = path.stem.split("_")[1]  # digit{index}_{label}_{size}.png
        (data / label).mkdir(parents=True, exist_ok=True)
        path.rename(data / label / path.name)
    (data / "notes.txt").write_text("not an image")
    (data / "0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    Image.new("L", (8, 8)).save(tmp_path / "unused.png")
    before = sorted(path.name for path in tflite_folder.iterdir())

    result = no_tensorflow.run("evaluate", str(tflite_folder), "--data", str(data), "--out", str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["examples"] == 12 and sum(row["support"] for row in report["per_class"]) == 12
    assert sorted(item["path"] for item in report["skipped"]) == [str(data / "0" / "broken.png"), str(data / "notes.txt")]  # every file: evaluated or listed
    rows = (tmp_path / "out" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "split,file,true,predicted,confidence,correct" and len(rows) == 13
    # the same answers predict gives for each file
    predicted = json.loads(no_tensorflow.run("predict", str(tflite_folder), str(data), "--json").stdout)
    by_file = {row["path"]: row["predictions"][0]["class"] for row in predicted if "predictions" in row}
    for row in rows[1:]:
        _, file, true, guess, _, correct = row.split(",")
        assert by_file[file] == guess and correct == str(int(true == guess))
    assert report["accuracy"] == sum(row.split(",")[5] == "1" for row in rows[1:]) / 12
    assert sorted(path.name for path in tflite_folder.iterdir()) == before  # nothing written beside the export
    again = no_tensorflow.run("evaluate", str(tflite_folder), "--data", str(data), "--out", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr  # its own files: replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "predictions.csv").write_text("mine")
    refused = no_tensorflow.run("evaluate", str(tflite_folder), "--data", str(data), "--out", str(tmp_path / "mine"))
    assert refused.returncode == 1 and "predictions.csv already there and not written by cnnbuild evaluate" in refused.stderr
    assert [path.name for path in (tmp_path / "mine").iterdir()] == ["predictions.csv"] and (tmp_path / "mine" / "predictions.csv").read_text() == "mine"

    needs_data = no_tensorflow.run("evaluate", str(tflite_folder))
    assert needs_data.returncode == 2 and "pass --data FOLDER" in needs_data.stderr
    (data / "seven-and-a-half").mkdir()
    (tmp_path / "unused.png").rename(data / "seven-and-a-half" / "x.png")
    unknown = no_tensorflow.run("evaluate", str(tflite_folder), "--data", str(data))
    assert unknown.returncode == 1 and "the data has classes the run's model does not know: ['seven-and-a-half']" in unknown.stderr
    assert "Traceback" not in unknown.stderr
