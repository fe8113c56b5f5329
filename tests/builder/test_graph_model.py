"""Graph specs build functional Keras models whose layers have exactly the shapes and parameter
counts the pure-Python inference declares, and the saved model loads, predicts and resumes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnbuild import build_model
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import spec_from_text
from cnnbuild.spec.shapes import infer_spec
from cnnbuild.testing import assert_shape_matches_keras

from ..spec.test_graph_spec import SMALL_RESNET

REPO = Path(__file__).resolve().parents[2]

DATA = "data: {type: digits, image_size: [12, 12], color_mode: rgb}\n"
GRAPHS = {
    "names and inputs": """\
        model:
          layers:
            - {type: Conv2D, name: a, filters: 4, kernel_size: 3, padding: same}
            - {type: Conv2D, name: b, filters: 4, kernel_size: 1, inputs: input}
            - {type: Subtract, inputs: [a, b], name: diff}
            - {type: Multiply, inputs: [diff, a], name: m}
            - {type: Concatenate, inputs: [m, b], axis: -1}
            - GlobalMaxPooling2D
            - {type: Dense, units: auto}
        """,
    "squeeze and excitation (broadcast)": """\
        blocks:
          se:
            params: {channels: required, ratio: 2}
            layers:
              - {type: GlobalAveragePooling2D, keepdims: true, name: squeeze}
              - {type: Dense, units: $ratio, activation: relu}
              - {type: Dense, units: $channels, activation: sigmoid, name: gate}
              - {type: Multiply, inputs: [input, gate]}
        model:
          layers:
            - {type: Conv2D, filters: 6, kernel_size: 3, padding: same}
            - {type: se, channels: 6}
            - Flatten
            - {type: Dense, units: auto}
        """,
    "nested residual in parallel, repeated": """\
        model:
          layers:
            - type: Parallel
              name: p
              repeat: 2
              merge: {type: Average}
              branches:
                - - type: Residual
                    layers: [{type: SeparableConv2D, filters: 5, kernel_size: 3, padding: same}]
                - - type: Residual
                    shortcut: [{type: Conv2D, filters: 5, kernel_size: 1, use_bias: false}]
                    layers: [{type: DepthwiseConv2D, kernel_size: 3, padding: same, depth_multiplier: 2}, {type: Conv2D, filters: 5, kernel_size: 1}]
            - {type: Maximum, inputs: [p, p]}
            - GlobalAveragePooling2D
            - {type: Dense, units: auto}
        """,
}


def layer_rows(model):
    return {layer.name: (tuple(layer.output.shape[1:]), int(layer.count_params())) for layer in model.layers if type(layer).__name__ != "InputLayer"}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graphs_build_the_shapes_and_parameters_inferred_without_tensorflow(name):
    spec = spec_from_text(DATA + textwrap.dedent(GRAPHS[name]), num_classes=3)
    model = build_model(spec, num_classes=3)
    assert type(model).__name__ == "Functional"
    assert layer_rows(model) == {row.name: (row.output_shape, row.params) for row in infer_spec(spec, get_registry(), 3)}


def test_the_small_resnet_matches_keras_layer_by_layer_and_predicts_after_loading(tmp_path):
    import keras

    spec = spec_from_text(SMALL_RESNET, num_classes=10)
    model = build_model(spec, num_classes=10)
    rows = infer_spec(spec, get_registry(), 10)
    assert layer_rows(model) == {row.name: (row.output_shape, row.params) for row in rows}
    assert model.count_params() == sum(row.params for row in rows)
    assert model.get_layer("2_residual.shortcut").kernel.shape == (1, 1, 8, 16)  # the automatic projection, strided
    images = np.random.RandomState(0).uniform(0, 255, (2, 16, 16, 1)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "layer_type, params, shapes",
    [
        ("Add", {}, [(4, 5, 3), (4, 5, 3), (4, 5, 3)]),
        ("Multiply", {}, [(4, 5, 3), (1, 1, 3)]),
        ("Subtract", {}, [(7,), (7,)]),
        ("Average", {}, [(2, 2, 6), (2, 2, 6)]),
        ("Maximum", {}, [(1, 5, 3), (4, 5, 3)]),
        ("Concatenate", {}, [(4, 5, 3), (4, 5, 2)]),
        ("Concatenate", {"axis": 1}, [(4, 5, 3), (2, 5, 3)]),
        ("Concatenate", {"axis": -2}, [(4, 5, 3), (4, 1, 3)]),
    ],
)
def test_merge_shape_functions_agree_with_keras(layer_type, params, shapes):
    assert_shape_matches_keras(layer_type, params, shapes)


def test_a_graph_run_trains_stops_and_resumes(image_folder, tmp_path, write_spec):
    import json

    import cnnbuild

    spec = write_spec(
        f"""
        name: graph
        seed: 3
        data: {{type: image_directory, path: {image_folder}, image_size: [16, 16], batch_size: 8}}
        model:
          layers:
            - {{type: Rescaling, scale: 1/255}}
            - type: Residual
              activation: relu
              layers: [{{type: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}}]
            - GlobalAveragePooling2D
            - {{type: Dense, units: auto}}
        train: {{epochs: 2, verbose: quiet}}
        """
    )
    run_dir = tmp_path / "run"
    first = cnnbuild.run(spec, ["train.epochs=1"], output=run_dir)
    assert first.status == "completed"
    # an interrupted run: keep epoch 1, say 2 epochs are wanted, resume
    (run_dir / "status.json").write_text(json.dumps({"state": "interrupted", "completed_epochs": 1, "epochs": 2}))
    spec_yaml = (run_dir / "spec.yaml").read_text().replace("epochs: 1", "epochs: 2")
    (run_dir / "spec.yaml").write_text(spec_yaml)
    (run_dir / "model.keras").unlink()
    (run_dir / "metrics.json").unlink()
    resumed = cnnbuild.run(resume=run_dir)
    assert resumed.status == "completed" and len(resumed.history["loss"]) == 2
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == 2


def test_a_run_too_short_for_batch_normalization_to_settle_is_warned_about():
    """With few images, Keras's momentum 0.99 leaves the moving statistics (what validation uses)
    near their initial values: a model can train well and validate at chance, as resnet_small did."""
    from cnnbuild.builder.training.data_checks import batch_norm_warnings

    text = (REPO / "examples" / "resnet_small.yaml").read_text(encoding="utf-8")
    settled = spec_from_text(text.replace("epochs: 15", "epochs: 5"), "resnet_small.yaml", num_classes=5)
    assert batch_norm_warnings(settled, 480) == []  # the example's momentum 0.9: 0.9 ** 75 is 0.04%
    keras_default = spec_from_text(text.replace("momentum: 0.9", "momentum: 0.99"), "resnet_small.yaml", num_classes=5)
    assert batch_norm_warnings(keras_default, 480) == [
        "BatchNormalization at blocks.conv_bn.layers[1]: with momentum 0.99 its moving statistics, which validation and prediction use, keep 10% "
        "of their initial values after this run's 225 training steps, so validation can be far worse than training; use momentum: 0.9 or lower, or train longer"
    ]
    assert batch_norm_warnings(keras_default, 3670) == []  # 3,670 training images: 1,725 steps
