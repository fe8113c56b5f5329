"""Graph models export like chains: a residual and branching net, and a pretrained backbone with
its own preprocessing, each exported, checked by the parity check, and predicting like the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnbuild.cli import cli

from ..conftest import digit_pngs

pytest.importorskip("tf2onnx", reason="needs the export extra: pip install -e '.[export]'")
pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")

GRAPH = """
name: graphdigits
seed: 4
data: {type: digits, image_size: [16, 16], color_mode: grayscale, batch_size: 64, validation_split: 0.2}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu, name: stem}
    - type: Residual
      activation: relu
      layers:
        - {type: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: same, activation: relu}
        - {type: Conv2D, filters: 16, kernel_size: 3, padding: same}
    - type: Parallel
      branches:
        - [{type: Conv2D, filters: 4, kernel_size: 1}]
        - [{type: Conv2D, filters: 4, kernel_size: 3, padding: same}]
        - []
    - GlobalAveragePooling2D
    - {type: Dense, units: auto}
train: {epochs: 3, verbose: quiet, precision: float32}
"""

BACKBONE = """
name: backbonedigits
seed: 4
data: {type: digits, image_size: [32, 32], color_mode: rgb, batch_size: 64, validation_split: 0.2}
model:
  layers:
    - {type: Backbone, architecture: MobileNetV3Small, weights: none, trainable: false}  # frozen: the export is the point, and training only the head is cheap
    - {type: Dense, units: auto}
train: {epochs: 1, verbose: quiet, precision: float32}
"""


def trained(tmp_path_factory: pytest.TempPathFactory, text: str, name: str) -> Path:
    from cnnbuild.builder.training import run

    root = tmp_path_factory.mktemp(name)
    spec = root / f"{name}.yaml"
    spec.write_text(text.lstrip(), encoding="utf-8")
    run(spec, output=root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, GRAPH, "graph")


@pytest.fixture(scope="module")
def backbone_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, BACKBONE, "backbone")


def export_and_predict(run_dir: Path, format: str, images: list[Path]) -> None:
    from cnnbuild.builder.inference import predict

    result = CliRunner().invoke(cli, ["export", str(run_dir), "--format", format, "--latency-runs", "2"])
    assert result.exit_code == 0, result.output
    folder = run_dir / "exports" / format
    parity = json.loads((folder / "export.json").read_text())["parity"]
    assert parity["passed"] and parity["problems"] == [] and parity["agreement"] >= 0.99, parity
    assert parity["max_probability_difference"] < 1e-3, parity
    expected = {row["path"]: row["predictions"][0]["class"] for row in predict(run_dir, images, top_k=1)}
    target = folder / ("model.tflite" if format == "tflite" else "model.onnx")
    predicted = CliRunner().invoke(cli, ["predict", str(target), *map(str, images), "--json", "--top-k", "1"])
    assert predicted.exit_code == 0, predicted.output
    assert {row["path"]: row["predictions"][0]["class"] for row in json.loads(predicted.stdout)} == expected


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_a_residual_and_branching_model_exports_and_predicts_like_the_run(graph_run, tmp_path, format):
    export_and_predict(graph_run, format, digit_pngs(tmp_path, count=4))


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_a_backbone_model_exports_with_its_preprocessing_and_predicts_like_the_run(backbone_run, tmp_path, format):
    export_and_predict(backbone_run, format, digit_pngs(tmp_path, count=4))
