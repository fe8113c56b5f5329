"""`cnnbuild diff`: layers added, removed, changed and affected, with shapes, parameters and settings."""

from __future__ import annotations

import json
import subprocess
import sys

from cnnbuild.spec import load_spec
from cnnbuild.spec.diff import diff_specs
from cnnbuild.spec.diff_settings import MISSING, flatten

BASE = """
name: base
seed: 1
data: {type: digits, image_size: [16, 16], color_mode: grayscale}
augmentation:
  - {type: RandomRotation, factor: 0.05}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - Flatten
    - {type: Dropout, rate: 0.2}
    - {type: Dense, units: 64, activation: relu}
    - {type: Dense, units: auto}
compile: {optimizer: {type: adam, learning_rate: 0.002}}
train: {epochs: 15}
"""

CHANGED = """
name: wider
seed: 1
data: {type: digits, image_size: [16, 16], color_mode: grayscale, batch_size: 64}
augmentation:
  - {type: RandomRotation, factor: 0.05}
  - {type: RandomZoom, height_factor: 0.1}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - AveragePooling2D
    - Flatten
    - {type: Dense, units: 128, activation: relu}
    - {type: Dense, units: 64, activation: relu}
    - {type: Dense, units: auto}
compile: {optimizer: {type: adam, learning_rate: 0.001}}
train: {epochs: 15, callbacks: [{type: EarlyStopping, patience: 3}]}
"""


def specs(write_spec, a: str = BASE, b: str = CHANGED):
    return load_spec(write_spec(a, "a.yaml")), load_spec(write_spec(b, "b.yaml"))


def test_layer_changes_with_shapes_and_parameter_counts(write_spec):
    diff = diff_specs(*specs(write_spec))
    model = [(c.kind, c.index_a, c.index_b, c.type_a, c.type_b) for c in diff.layers if c.section == "model.layers"]
    assert model == [
        ("changed", 1, 1, "Conv2D", "Conv2D"),
        ("changed", 2, 2, "MaxPooling2D", "AveragePooling2D"),  # a different type in the same place
        ("affected", 3, 3, "Flatten", "Flatten"),  # 16 filters instead of 32 halve what Flatten outputs
        ("removed", 4, None, "Dropout", None),
        ("added", None, 4, None, "Dense"),
        ("affected", 5, 5, "Dense", "Dense"),  # same parameters, fewer inputs
    ]
    conv, pooling, flat, dropout, dense_added, dense_affected = [c for c in diff.layers if c.section == "model.layers"]
    assert conv.params == (("filters", 32, 16),)
    assert (conv.shape_a, conv.shape_b, conv.count_a, conv.count_b) == ((16, 16, 32), (16, 16, 16), 320, 160)
    assert flat.shape_a == (2048,) and flat.shape_b == (1024,) and flat.params == ()
    assert dropout.settings == {"rate": 0.2} and dropout.shape_a == (2048,)
    assert dense_added.settings == {"units": 128, "activation": "relu"}
    assert (dense_added.shape_b, dense_added.count_b) == ((128,), 1024 * 128 + 128)
    assert (dense_affected.count_a, dense_affected.count_b) == (2048 * 64 + 64, 128 * 64 + 64)
    assert diff.total_a == 320 + 2048 * 64 + 64 + 650
    assert diff.total_b == 160 + 1024 * 128 + 128 + 128 * 64 + 64 + 650 == 140266
    assert diff.output_a == diff.output_b == (10,)
    augmentation = [(c.kind, c.index_b, c.type_b, c.settings) for c in diff.layers if c.section == "augmentation"]
    assert augmentation == [("added", 1, "RandomZoom", {"height_factor": 0.1})]
    settings = {s.path: (s.before, s.after) for s in diff.settings}
    assert settings["name"] == ("base", "wider")
    assert settings["data.batch_size"] == (32, 64)
    assert settings["compile.optimizer.learning_rate"] == (0.002, 0.001)
    # a callback only one spec has is one line: its type and the values that differ from the defaults
    assert settings["train.callbacks[0]"] == (MISSING, {"type": "EarlyStopping", "patience": 3})
    assert not any(path.startswith("train.callbacks") and path != "train.callbacks[0]" for path in settings)
    assert "train.epochs" not in settings and "model.layers" not in str(settings)


def test_diff_text(write_spec):
    text = diff_specs(*specs(write_spec)).text()
    lines = text.splitlines()
    assert "  ~ changed  [1] Conv2D: filters 32 -> 16" in lines
    assert "      output (16, 16, 32) -> (16, 16, 16), params 320 -> 160" in lines
    assert "  ~ replaced [2] MaxPooling2D -> AveragePooling2D" in lines
    assert "  - removed  [4] Dropout (rate 0.2)" in lines
    assert '  + added    [4] Dense (units 128, activation "relu")' in lines
    assert "      output (128,), params 131,200" in lines
    assert "  ~ affected [5] Dense (same parameters; follows from the changes above)" in lines
    assert "      output (64,), params 131,136 -> 8,256" in lines
    assert "parameters: 132,106 -> 140,266 (+8,160)" in lines
    assert "  compile.optimizer.learning_rate: 0.002 -> 0.001" in lines
    assert '  train.callbacks[0]: (not set) -> {"type": "EarlyStopping", "patience": 3}' in lines
    assert lines.index("model.layers:") < lines.index("settings:")


def test_identical_specs_and_a_setting_only_change(write_spec):
    a, b = specs(write_spec, BASE, BASE)
    assert diff_specs(a, b).same and diff_specs(a, b).text() == "base and base: no differences"
    a, b = specs(write_spec, BASE, BASE.replace("epochs: 15", "epochs: 3"))
    diff = diff_specs(a, b)
    assert diff.layers == [] and [(s.path, s.before, s.after) for s in diff.settings] == [("train.epochs", 15, 3)]
    assert "parameters" not in diff.text()


def test_an_inserted_layer_is_one_addition_not_a_cascade(write_spec):
    b = BASE.replace("    - MaxPooling2D\n", "    - MaxPooling2D\n    - {type: Conv2D, filters: 8, kernel_size: 1}\n")
    diff = diff_specs(*specs(write_spec, BASE, b))
    kinds = [(c.kind, c.type_b) for c in diff.layers]
    assert kinds == [("added", "Conv2D"), ("affected", "Flatten"), ("affected", "Dropout"), ("affected", "Dense")]


def test_flatten_paths():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": [{"type": "x", "p": 2}]}) == {"a.b": 1, "a.c": [1, 2], "d[0].type": "x", "d[0].p": 2}


def test_cli_diff_runs_without_tensorflow(write_spec, tmp_path):
    a, b = write_spec(BASE, "a.yaml"), write_spec(CHANGED, "b.yaml")
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from cnnbuild.cli import main\n"
        f"main(['diff', {str(a)!r}, {str(b)!r}, '--json'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["a"] == str(a) and data["b"] == str(b)
    assert data["total_params"] == {"a": 132106, "b": 140266}
    assert [c["kind"] for c in data["layers"]] == ["added", "changed", "changed", "affected", "removed", "added", "affected"]


FOLDER_SPEC = """
name: {name}
data: {{type: image_directory, url: 'https://example.invalid/{path}.tgz', image_size: [16, 16]}}
blocks:
  conv_bn:
    params: {{filters: required}}
    layers:
      - {{type: Conv2D, filters: $filters, kernel_size: 3, padding: same}}
      - {{type: BatchNormalization, momentum: {momentum}}}
model:
  layers:
    - {{type: conv_bn, filters: 8}}
    - {{type: conv_bn, filters: {filters}}}
    - {{type: conv_bn, filters: 8}}
    - Flatten
    - {{type: Dense, units: auto}}
"""


def _folder_spec(write_spec, name, path="photos", filters=8, momentum=0.9):
    return load_spec(write_spec(FOLDER_SPEC.format(name=name, path=path, filters=filters, momentum=momentum), f"{name}.yaml"))


def test_a_layer_whose_size_needs_the_class_count_is_unknown_never_unchanged(write_spec):
    a, b = _folder_spec(write_spec, "a"), _folder_spec(write_spec, "b", filters=16)
    diff = diff_specs(a, b)  # the data is not on disk: the class count, and so the Dense's size, is not known
    dense = [change for change in diff.layers if change.type_b == "Dense"]
    assert [change.kind for change in dense] == ["unknown"]
    text = diff.text()
    assert "? unknown  [4_dense] Dense (same parameters; its size is not known without the class count" in text
    assert "unchanged" not in text.split("parameters:")[-1]
    assert "parameters: not known without the class count (units: auto): pass --num-classes N; the layers whose size is known change it by +1,192" in text
    known = diff_specs(a, b, num_classes=3)
    assert not [c for c in known.layers if c.type_b == "Dense"] and "(+1,192)" in known.text()  # with the count: known, and unchanged
    elsewhere = diff_specs(a, _folder_spec(write_spec, "c", path="other-photos"))  # other data: maybe other classes
    assert [change.kind for change in elsewhere.layers] == ["unknown"]
    assert diff_specs(a, _folder_spec(write_spec, "a")).same


def test_one_edit_of_a_block_used_three_times_is_listed_once(write_spec):
    diff = diff_specs(_folder_spec(write_spec, "a"), _folder_spec(write_spec, "b", momentum=0.99))
    assert len(diff.layers) == 3  # the JSON keeps every layer
    lines = diff.text().splitlines()
    assert lines[3] == "  ~ changed  3 BatchNormalization layers: momentum 0.9 -> 0.99 (the same change in each; outputs and params unchanged)"
    assert lines[4] == "      [0_conv_bn], [1_conv_bn], [2_conv_bn]"
    assert sum("momentum" in line for line in lines) == 1 and "Dense" not in diff.text()  # nothing above the Dense changed size
    assert "parameters: unchanged by these changes (the total is not known without the class count: pass --num-classes N)" in lines


def test_one_edit_of_a_block_that_changes_each_use_differently_is_listed_once_with_each_use(write_spec):
    a = _folder_spec(write_spec, "a", filters=16)
    b = load_spec(write_spec(FOLDER_SPEC.format(name="b", path="photos", filters=16, momentum=0.9).replace("kernel_size: 3", "kernel_size: 5"), "b.yaml"))
    diff = diff_specs(a, b, num_classes=3)
    lines = diff.text().splitlines()
    assert lines[3] == "  ~ changed  3 Conv2D layers: kernel_size [3, 3] -> [5, 5] (the same change in each)"
    assert lines[4:7] == [
        "      [0_conv_bn.0_conv2d] output (16, 16, 8), params 224 -> 608",
        "      [1_conv_bn.0_conv2d] output (16, 16, 16), params 1,168 -> 3,216",
        "      [2_conv_bn.0_conv2d] output (16, 16, 8), params 1,160 -> 3,208",
    ]
    assert sum("kernel_size" in line for line in lines) == 1


def test_another_data_source_is_one_line_of_its_written_values_not_every_default(write_spec):
    digits = load_spec(write_spec("name: d\ndata: {type: digits, image_size: [16, 16]}\nmodel:\n  layers: [Flatten, {type: Dense, units: auto}]\n", "d.yaml"))
    folder = _folder_spec(write_spec, "b")
    data = [change for change in diff_specs(digits, folder).settings if change.path.startswith("data")]
    assert [change.path for change in data] == ["data"]
    assert data[0].before == {"type": "digits", "image_size": [16, 16]}
    assert data[0].after["type"] == "image_directory" and data[0].after["url"] == "https://example.invalid/photos.tgz"
    assert "(not set) -> null" not in diff_specs(digits, folder).text()
