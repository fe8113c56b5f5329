"""What `cnnbuild export` refuses, and how loudly: impossible requests, missing converters, a
quantized model that is secretly float, an accuracy drop past the threshold, a layer a format
cannot take. Also the file-based path: JPEGs of other sizes, centre crop, calibration from files."""

from __future__ import annotations

import json
import re
import sys

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import Field

import cnnbuild
from cnnbuild.cli import cli
from cnnbuild.errors import ExportError, MissingPackageError

from ..conftest import make_images

pytest.importorskip("tf2onnx", reason="needs the export extra: pip install -e '.[export]'")
pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")


def export(*args: str):
    return CliRunner().invoke(cli, ["export", *args])


def test_impossible_requests_are_one_line(tiny_digits_run, tmp_path):
    result = export(str(tiny_digits_run), "--format", "saved_model", "--quantize", "int8")
    assert result.exit_code == 1
    assert result.output == "a SavedModel cannot be quantized (--quantize int8); use --format tflite or --format onnx for int8\n"
    result = export(str(tiny_digits_run), "--format", "onnx", "--out", str(tmp_path / "model.onnx"))
    assert result.exit_code == 1 and result.output.startswith(f"--out {tmp_path / 'model.onnx'}: --out names the export folder")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = export(str(tiny_digits_run), "--format", "onnx", "--out", str(tmp_path / "busy"))
    assert result.exit_code == 1 and result.output == f"{tmp_path / 'busy'}: exists and is not an earlier export (no export.json in it); choose another --out\n"
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "spec.yaml").write_text((tiny_digits_run / "spec.yaml").read_text())
    result = export(str(unfinished), "--format", "tflite")
    assert result.exit_code == 1 and "model.keras is missing; the run did not finish" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("format", "quantize", "missing", "package"), [("onnx", "none", "tf2onnx", "tf2onnx"), ("tflite", "none", "ai_edge_litert", "ai-edge-litert"), ("onnx", "float16", "onnxconverter_common", "onnxconverter-common")])
def test_a_missing_converter_names_the_pip_command(tiny_digits_run, monkeypatch, format, quantize, missing, package):
    for name in list(sys.modules):
        if name == missing or name.startswith(missing + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    with pytest.raises(MissingPackageError) as caught:
        cnnbuild.export.export_run(tiny_digits_run, format, quantize)
    assert f"which is not installed: pip install 'cnnbuild[export]' (or pip install {package})" in str(caught.value)


def test_a_quantized_export_that_is_secretly_float_fails_and_keeps_no_model(tiny_digits_run, tmp_path, monkeypatch):
    from cnnbuild.export import tflite_format

    convert = tflite_format.to_flatbuffer
    monkeypatch.setattr(tflite_format, "to_flatbuffer", lambda module, quantize, calibration=None: convert(module, "none"))
    out = tmp_path / "int8"
    result = export(str(tiny_digits_run), "--format", "tflite", "--quantize", "int8", "--out", str(out), "--latency-runs", "2")
    assert result.exit_code == 1
    assert result.stderr.startswith("export to tflite int8 failed its parity check, so no model was kept:\n")
    assert "--quantize int8 should store most weights as int8, but only 0% are (float32 " in result.output
    assert "--quantize int8 should compute in int8, but no activation is quantized" in result.output
    assert "top-1 agreement" in result.output and "latency, 1 image (median of 2)" in result.output  # the table
    assert sorted(path.name for path in out.iterdir()) == ["export.json"]
    report = json.loads((out / "export.json").read_text())
    assert report["parity"]["passed"] is False and len(report["parity"]["problems"]) == 2
    refused = CliRunner().invoke(cli, ["predict", str(out), str(tmp_path)])
    assert refused.exit_code == 1 and refused.output.startswith(f"{out}: holds no model: the export failed its parity check (--quantize int8 should store")


def test_an_accuracy_drop_past_the_threshold_fails_with_the_table(tiny_digits_run, tmp_path, monkeypatch):
    from cnnbuild.export import parity

    honest = parity.exported_probabilities
    monkeypatch.setattr(parity, "exported_probabilities", lambda model, images: np.roll(honest(model, images), 1, axis=1))
    out = tmp_path / "onnx"
    result = export(str(tiny_digits_run), "--format", "onnx", "--quantize", "dynamic", "--out", str(out), "--max-accuracy-drop", "2.5", "--latency-runs", "2")
    assert result.exit_code == 1
    report = json.loads((out / "export.json").read_text())["parity"]
    drop = report["accuracy_drop_points"]
    assert drop > 2.5 and f"accuracy drops {drop:.2f} points" in result.output and "more than the allowed 2.5" in result.output
    assert re.search(rf"\naccuracy +{report['keras_accuracy']:.2%}  {report['export_accuracy']:.2%}\n", result.output)


class BesselParams(cnnbuild.Params):
    scale: float = Field(1.0)


@keras.saving.register_keras_serializable(package="cnnbuild_tests")
class BesselGate(keras.layers.Layer):
    """Multiplies by bessel_i0e: a TensorFlow op neither TFLite's builtins nor tf2onnx convert."""

    def call(self, inputs):
        import tensorflow as tf

        return inputs * tf.math.bessel_i0e(inputs)


class BesselPlugin:
    @cnnbuild.hookimpl
    def register_layers(self, register):
        register("BesselGate", BesselParams, lambda params: BesselGate(), shape=lambda params, shape: cnnbuild.LayerShape(shape))

    @cnnbuild.hookimpl
    def keras_objects(self):
        return {"BesselGate": BesselGate}


def test_a_layer_a_format_cannot_take_is_named(plugin, tmp_path):
    plugin(BesselPlugin(), "bessel")
    spec = tmp_path / "bessel.yaml"
    spec.write_text(
        "name: bessel\nseed: 1\ndata: {type: digits, image_size: [8, 8], batch_size: 128}\n"
        "model:\n  layers:\n    - {type: Rescaling, scale: 1/255}\n    - Flatten\n    - {type: BesselGate}\n    - {type: Dense, units: auto}\n"
        "train: {epochs: 1, verbose: quiet, precision: float32}\n",  # no bfloat16 BesselI0e kernel
        encoding="utf-8",
    )
    cnnbuild.run(spec, output=tmp_path / "run")
    for format, detail in (("tflite", "TensorFlow op tf.BesselI0e is neither a custom op nor a flex op"), ("onnx", "tf2onnx has no ONNX equivalent for the TensorFlow op(s) BesselI0e")):
        with pytest.raises(ExportError) as caught:
            cnnbuild.export.export_run(tmp_path / "run", format)
        assert str(caught.value) == (
            f"export to {format} failed at model.layers[2] (BesselGate, from plugin 'bessel' (not installed -)), which the {format} converter cannot take: "
            f"{detail}; export to another format, or replace that layer"
        )
    result = cnnbuild.export.export_run(tmp_path / "run", "saved_model", latency_runs=2)  # TensorFlow itself runs any op
    assert result.parity.passed


def test_image_files_of_any_size_with_centre_crop(tmp_path):
    """A folder of JPEGs and PNGs of another size and aspect: the export crops and resizes inside
    its graph, and its answers match the run's (which decoded and resized in the training pipeline):
    the same classes, probabilities within a few thousandths (the export decodes with Pillow, whose
    JPEG chroma upsampling differs from TensorFlow's by a few levels on 4:2:0 files like these)."""
    from cnnbuild.builder.inference import predict

    folder = make_images(tmp_path / "images", {"red": 10, "green": 10, "blue": 10}, size=(30, 20))
    spec = tmp_path / "stripes.yaml"
    spec.write_text(
        f"name: stripes\nseed: 2\ndata: {{type: image_directory, path: {folder}, image_size: [12, 12], crop_to_aspect_ratio: true, batch_size: 8, validation_split: 0.3}}\n"
        "model:\n  layers:\n    - {type: Rescaling, scale: 1/255}\n    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}\n    - Flatten\n    - {type: Dense, units: auto}\n"
        "train: {epochs: 2, verbose: quiet, precision: float32}\n",
        encoding="utf-8",
    )
    cnnbuild.run(spec, output=tmp_path / "run")
    result = cnnbuild.export.export_run(tmp_path / "run", "tflite", "int8", latency_runs=2, max_accuracy_drop=100)
    assert result.parity.examples == 9 and result.info.input.crop_to_aspect_ratio
    report = json.loads(result.report.read_text())
    assert report["settings"]["calibration_images"] == 21  # every training file
    float_export = cnnbuild.export.export_run(tmp_path / "run", "onnx", latency_runs=2)
    assert float_export.parity.agreement == 1.0 and float_export.parity.max_probability_difference < 1e-2
    files = sorted(folder.rglob("*_00[0-3].*"))
    mine = cnnbuild.export.predict_images(float_export.model_path, files, top_k=3)
    theirs = predict(tmp_path / "run", files, top_k=3)
    for a, b in zip(mine, theirs):
        assert [p["class"] for p in a["predictions"]] == [p["class"] for p in b["predictions"]]
        assert max(abs(p["probability"] - q["probability"]) for p, q in zip(a["predictions"], b["predictions"])) < 1e-2


def test_an_export_that_cannot_be_verified_says_so(tmp_path):
    folder = make_images(tmp_path / "images", {"red": 6, "green": 6})
    spec = tmp_path / "gone.yaml"
    spec.write_text(
        f"name: gone\nseed: 1\ndata: {{type: image_directory, path: {folder}, image_size: [8, 8], batch_size: 4}}\n"
        "model:\n  layers:\n    - {type: Rescaling, scale: 1/255}\n    - Flatten\n    - {type: Dense, units: auto}\ntrain: {epochs: 1, verbose: quiet}\n",
        encoding="utf-8",
    )
    cnnbuild.run(spec, output=tmp_path / "run")
    folder.rename(tmp_path / "moved")
    result = export(str(tmp_path / "run"), "--format", "onnx")
    assert result.exit_code == 1 and result.stderr.startswith("cannot verify the export: the run's data cannot be read again (")
    assert "the parity check runs the model on the run's validation split" in result.stderr and not (tmp_path / "run" / "exports").exists()


def test_a_mixed_precision_model_is_exported_in_float32(tmp_path):
    spec = tmp_path / "mixed.yaml"
    spec.write_text(
        "name: mixed\nseed: 3\ndata: {type: digits, image_size: [8, 8], batch_size: 64}\n"
        "model:\n  layers:\n    - {type: Rescaling, scale: 1/255}\n    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}\n    - Flatten\n    - {type: Dense, units: auto}\n"
        "train: {epochs: 1, verbose: quiet, precision: mixed_bfloat16}\n",
        encoding="utf-8",
    )
    cnnbuild.run(spec, output=tmp_path / "run")
    result = cnnbuild.export.export_run(tmp_path / "run", "tflite", latency_runs=2)
    assert result.parity.passed and result.parity.weights["float32"] > 0
    assert result.parity.agreement >= 0.99 and result.parity.max_probability_difference < 0.02  # against the bfloat16 model as trained
