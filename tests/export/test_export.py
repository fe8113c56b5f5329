"""`cnnbuild export`: every format and quantization mode on one tiny digits run, each checked
against the Keras model; predict on each export agrees with predict on the run; failures are loud."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cnnbuild.cli import cli

from ..conftest import digit_pngs

pytest.importorskip("tf2onnx", reason="needs the export extra: pip install -e '.[export]'")
pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")

MODES = [("saved_model", "none"), ("tflite", "none"), ("tflite", "float16"), ("tflite", "dynamic"), ("tflite", "int8"),
         ("onnx", "none"), ("onnx", "float16"), ("onnx", "dynamic"), ("onnx", "int8")]  # fmt: skip
#: largest probability difference from predicting with the run itself, per mode
TOLERANCE = {"none": 1e-4, "float16": 1e-2, "dynamic": 0.1, "int8": 0.2}
WEIGHTS = {"none": "float32", "float16": "float16", "dynamic": "int8", "int8": "int8"}
MODEL_FILE = {"saved_model": "saved_model.pb", "tflite": "model.tflite", "onnx": "model.onnx"}


@pytest.fixture(scope="module")
def tiny_digits_run(tiny_digits_run, tmp_path_factory) -> Path:
    """This module's own copy of the shared run: it exports into the run's own exports/ folder."""
    return Path(shutil.copytree(tiny_digits_run, tmp_path_factory.mktemp("own-copy") / "run"))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    return digit_pngs(tmp_path_factory.mktemp("digit-images"), count=9)


@pytest.fixture(scope="module")
def run_predictions(tiny_digits_run, images) -> dict[str, list[float]]:
    from cnnbuild.builder.inference import predict

    rows = predict(tiny_digits_run, images, top_k=10)
    return {row["path"]: {p["class"]: p["probability"] for p in row["predictions"]} for row in rows}


@pytest.mark.parametrize(("format", "quantize"), MODES, ids=[f"{f}-{q}" for f, q in MODES])
def test_export_is_checked_and_predicts_like_the_run(tiny_digits_run, images, run_predictions, format, quantize):
    result = CliRunner().invoke(cli, ["export", str(tiny_digits_run), "--format", format, "--quantize", quantize, "--latency-runs", "3", "--max-accuracy-drop", "5"])
    assert result.exit_code == 0, result.output
    folder = tiny_digits_run / "exports" / (format if quantize == "none" else f"{format}-{quantize}")
    # with the squeeze-excitation layer, XNNPACK refuses the int8 graph and LiteRT's own kernels run it (a warning says so)
    lines = [line for line in result.output.splitlines() if "XNNPACK cannot run this model" not in line]
    assert lines[:3] == ["reading the run's data for the parity check", f"converting to {format}" + ("" if quantize == "none" else f" ({quantize})"), "checking the export against the Keras model on 359 validation images"]
    lines = lines[3:]
    assert [line.split("  ")[0] for line in lines[:6]] == ["", "top-1 agreement", "accuracy", "max |probability difference|", "size", "latency, 1 image (median of 3)"]
    assert lines[-1] == f"wrote {folder / 'export.json'}"
    report = json.loads((folder / "export.json").read_text())
    parity = report["parity"]
    assert parity["passed"] and parity["problems"] == [] and parity["examples"] == 359
    assert (parity["format"], parity["quantize"]) == (format, quantize) and report["metadata"]["class_names"] == [str(i) for i in range(10)]
    assert parity["accuracy_drop_points"] <= 5 and parity["keras_bytes"] > 0 and parity["export_bytes"] > 0
    if quantize == "none":
        assert parity["agreement"] >= 0.99 and parity["max_probability_difference"] < 1e-4
    if format != "saved_model":  # the weights are stored in the mode's dtype: a quantized export is not secretly float
        weights = parity["weights"]
        assert max(weights, key=weights.get) == WEIGHTS[quantize], weights
        assert (parity["int8_activations"] > 0) == (quantize == "int8")
    assert (folder / MODEL_FILE[format]).is_file()

    target = folder if format == "saved_model" else folder / MODEL_FILE[format]
    predicted = CliRunner().invoke(cli, ["predict", str(target), *map(str, images), "--json", "--top-k", "10"])
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(predicted.stdout)
    assert [row["path"] for row in rows] == [str(path) for path in images]
    for row in rows:
        mine = {p["class"]: p["probability"] for p in row["predictions"]}
        theirs = run_predictions[row["path"]]
        assert max(abs(mine[name] - theirs[name]) for name in theirs) <= TOLERANCE[quantize], (row["path"], mine, theirs)
        if quantize in ("none", "float16"):
            assert row["predictions"][0]["class"] == max(theirs, key=theirs.get)


def test_metadata_travels_inside_each_format(tiny_digits_run):
    from cnnbuild.export.location import open_exported

    expected = {"class_names": [str(i) for i in range(10)], "image_size": [8, 8], "channels": 1, "color_mode": "grayscale", "applied": "softmax"}
    for target in ("tflite/model.tflite", "onnx/model.onnx", "saved_model"):
        path = tiny_digits_run / "exports" / target
        if not path.exists():
            pytest.skip("runs after the export tests")
        info = open_exported(path).info
        got = {"class_names": info.class_names, "image_size": list(info.input.image_size), "channels": info.input.channels, "color_mode": info.input.color_mode, "applied": info.output.applied}
        assert got == expected and info.run_id == "run" and len(info.model_version) == 12
    tflite = tiny_digits_run / "exports" / "tflite" / "model.tflite"
    lone = tiny_digits_run / "lone.tflite"  # embedded metadata: the file alone, without its sidecar, still knows its classes
    lone.write_bytes(tflite.read_bytes())
    assert open_exported(lone).info.class_names == expected["class_names"]
    assert json.loads((tflite.parent / "model.tflite.json").read_text())["class_names"] == expected["class_names"]
    assert (tiny_digits_run / "exports" / "saved_model" / "assets" / "cnnbuild.json").is_file()


def test_any_image_size_is_resized_inside_the_model(tiny_digits_run):
    """The export resizes as training does: an image at 3x the size gives the 8x8 image's answer closely."""
    from cnnbuild.export.location import open_exported, open_model

    path = tiny_digits_run / "exports" / "onnx" / "model.onnx"
    if not path.exists():
        pytest.skip("runs after the export tests")
    exported, keras = open_exported(path), open_model(tiny_digits_run)
    rng = np.random.default_rng(0)
    for shape in [(1, 8, 8, 1), (2, 24, 24, 1), (1, 37, 11, 1)]:
        images = rng.integers(0, 256, shape, dtype=np.uint8)
        np.testing.assert_allclose(exported(images), keras(images), atol=1e-5)
