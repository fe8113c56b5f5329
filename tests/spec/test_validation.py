from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cnnbuild.spec import SpecError, load_spec, spec_from_text

from .issues import issue_codes, located

REPO = Path(__file__).resolve().parents[2]

CANONICAL = """\
name: flowers
seed: 123
data:
  type: image_directory
  path: data/flower_photos
  image_size: [180, 180]
  batch_size: 32
  validation_split: 0.2
augmentation:
  - {type: RandomFlip, mode: horizontal}
  - {type: RandomRotation, factor: 0.1}
  - {type: RandomZoom, height_factor: 0.1}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - {type: MaxPooling2D}
    - {type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - {type: MaxPooling2D}
    - {type: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}
    - {type: MaxPooling2D}
    - {type: Dropout, rate: 0.2}
    - {type: Flatten}
    - {type: Dense, units: 128, activation: relu}
    - {type: Dense, units: auto}
compile:
  optimizer: adam                      # or {type: adam, learning_rate: 0.001}
  loss: {type: sparse_categorical_crossentropy, from_logits: true}   # or a bare name, or auto
  metrics: [accuracy]
train:
  epochs: 15
  callbacks:
    - {type: EarlyStopping, monitor: val_loss, patience: 10}
output:
  dir: runs
"""


def errors(text: str, name: str = "spec.yaml") -> list[str]:
    with pytest.raises(SpecError) as caught:
        spec_from_text(textwrap.dedent(text), name)
    return str(caught.value).splitlines()


def test_canonical_form_is_accepted_as_written():
    spec = spec_from_text(CANONICAL, "flowers.yaml")
    assert spec.name == "flowers"
    assert spec.data.input_shape == (180, 180, 3)
    assert [layer.type for layer in spec.model.layers][:3] == ["Rescaling", "Conv2D", "MaxPooling2D"]
    assert spec.model.layers[0].scale == pytest.approx(1 / 255)
    assert spec.model.layers[1].kernel_size == (3, 3)
    assert spec.compile.optimizer.type == "adam"
    assert spec.compile.loss.from_logits is True
    assert spec.train.callbacks[0].patience == 10


def test_typo_in_key_points_at_the_key_with_suggestion():
    text = CANONICAL.replace("{type: Conv2D, filters: 32, kernel_size: 3", "{type: Conv2D, filters: 32, kernal_size: 3")
    # the suggestion explains the missing kernel_size, so that is not reported separately
    assert issue_codes(text, "flowers.yaml") == [("18:35", "model.layers[3].kernal_size", "unknown-key")]
    # the wording (the README shows this line)
    assert errors(text, "flowers.yaml") == ["flowers.yaml:18:35: model.layers[3].kernal_size: unknown key; did you mean 'kernel_size'?"]


def test_every_error_is_reported_at_once_in_file_order():
    text = """\
        data: {type: digits}
        model:
          layers:
            - {type: Conv2d, filters: 8, kernel_size: 3}
            - {type: Dropout, rate: 1.5}
            - {type: Conv2D, filters: 0, kernel_size: 3, padding: vaild}
        train: {epochs: 0}
        """
    assert issue_codes(text) == [
        ("4:7", "model.layers[0]", "unknown-type"),
        ("5:29", "model.layers[1].rate", "invalid-value"),
        ("6:31", "model.layers[2].filters", "invalid-value"),
        ("6:59", "model.layers[2].padding", "invalid-value"),
        ("7:17", "train.epochs", "invalid-value"),
    ]
    assert errors(text)[0] == "spec.yaml:4:7: model.layers[0]: unknown layer type 'Conv2d'; did you mean 'Conv2D'?"


def test_shorthands_and_aliases_normalise_to_canonical_form():
    spec = spec_from_text(
        textwrap.dedent(
            """\
            data: {type: digits, image_size: [16, 16]}
            model:
              layers:
                - Conv2D: {filters: 4, kernel_size: [3, 1]}
                - MaxPool2D
                - Flatten:
                - {type: Dense, units: auto}
            """
        )
    )
    assert [layer.type for layer in spec.model.layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert spec.model.layers[0].kernel_size == (3, 1)
    canonical = spec.canonical()
    assert canonical["model"]["layers"][1] == {"type": "MaxPooling2D", "pool_size": [2, 2], "strides": None, "padding": "valid"}
    assert list(canonical)[:4] == ["format_version", "name", "seed", "data"] and canonical["format_version"] == 2  # a run's spec.yaml says its format


def test_errors_inside_a_shorthand_point_at_what_the_user_wrote():
    text = """\
        data: {type: digits}
        model:
          layers:
            - Conv2D: {filters: 4, kernel_size: 3, strides: -1}
            - Dense: {units: auto}
        """
    assert issue_codes(text) == [("4:53", "model.layers[0].strides", "invalid-value")]


@pytest.mark.parametrize(
    "layers, expected",
    [
        ("- {type: Dense, units: auto}\n    - {type: Dense, units: 3}", [("5:28", "model.layers[0].units", "label-mismatch"), ("6:28", "model.layers[1].units", "label-mismatch")]),
        ("- Flatten\n    - {type: Dense, units: auto, activation: softmax}", [("2:43", "compile.loss.from_logits", "label-mismatch")]),
    ],
)
def test_consistency_checks(layers, expected):
    text = f"""\
data: {{type: digits}}
compile: {{loss: {{type: auto, from_logits: true}}}}
model:
  layers:
    {layers}
"""
    assert issue_codes(text) == expected


def test_binary_labels_with_several_outputs_is_an_error(tmp_path):
    for name in ("cats", "dogs"):
        (tmp_path / "data" / name).mkdir(parents=True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {type: image_directory, path: data, label_mode: binary, image_size: [8, 8]}\n"
        "model:\n  layers:\n    - Flatten\n    - {type: Dense, units: 2}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert ("5:28", "model.layers[1].units", "label-mismatch") in located(caught.value.issues)


def test_shrinking_convolution_names_layer_shape_and_hint():
    lines = errors(
        """\
        data: {type: digits, image_size: [8, 8]}
        model:
          layers:
            - {type: Conv2D, filters: 4, kernel_size: 5}
            - {type: Conv2D, filters: 4, kernel_size: 5}
            - Flatten
            - {type: Dense, units: auto}
        """
    )
    assert lines == [
        "spec.yaml:5:7: model.layers[1]: Conv2D cannot take input shape (4, 4, 4): window (5, 5) with strides (1, 1) "
        "shrinks (4, 4) to (0, 0); use padding: same, a smaller kernel or stride, or a larger image_size"
    ]


def test_fractions_and_units_auto():
    spec = spec_from_text("data: {type: digits}\nmodel:\n  layers:\n    - {type: Rescaling, scale: 2/4, offset: -1/2}\n    - Flatten\n    - {type: Dense, units: auto}\n")
    assert spec.model.layers[0].scale == 0.5
    assert spec.model.layers[0].offset == -0.5
    assert spec.model.layers[-1].units == "auto"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[1, 2]\n", [("1:1", "", "wrong-type")]),
        ("data: {type: digits}\n", [("1:1", "model", "missing-key")]),
        ("data: {type: nope}\nmodel: {layers: [Flatten]}\n", [("1:7", "data", "unknown-type")]),
        ("data: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: 2, activation: rellu}]}\n", [("2:63", "model.layers[1].activation", "invalid-value")]),
        ("data: {type: digits}\nmodel: {layers: [Flatten]}\ntrain: {callbacks: [EarlyStoping]}\n", [("3:21", "train.callbacks[0]", "unknown-type")]),
        ("name: ../../etc\ndata: {type: digits}\nmodel: {layers: [Flatten]}\n", [("1:7", "name", "invalid-value")]),
        ("data: {type: digits, batch_size: .nan}\nmodel: {layers: [Flatten]}\n", [("1:34", "data.batch_size", "invalid-value")]),
        ("data: {type: digits, batch_size: [32]}\nmodel: {layers: [Flatten]}\n", [("1:34", "data.batch_size", "wrong-type")]),
        ("data: {type: digits, shuffle_buffer: -1}\nmodel: {layers: [Flatten]}\n", [("1:38", "data.shuffle_buffer", "invalid-value")]),
    ],
)
def test_rejected_values(text, expected):
    assert issue_codes(text) == expected


def test_relative_paths_are_relative_to_the_spec_file(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    spec_path = folder / "s.yaml"
    spec_path.write_text("data: {type: image_directory, path: imgs}\nmodel: {layers: [Flatten, {type: Dense, units: 2}]}\n")
    spec = load_spec(spec_path)
    assert spec.resolve_path(spec.data.path) == folder / "imgs"
    assert spec.name == "s"


def test_overrides_are_validated_and_named():
    path = REPO / "examples" / "digits.yaml"
    spec = load_spec(path, ["train.epochs=3", "data.image_size=[12, 12]", "model.layers[1].filters=8"])
    assert spec.train.epochs == 3
    assert spec.data.image_size == (12, 12)
    assert spec.model.layers[1].filters == 8
    with pytest.raises(SpecError) as caught:
        load_spec(path, ["train.epochs=lots", "train.epoch=3", "nokey"])
    assert [(issue.filename, issue.path, issue.code) for issue in caught.value.issues] == [("--set nokey", "", "invalid-override")]
    with pytest.raises(SpecError) as caught:
        load_spec(path, ["train.epochs=lots", "train.epoch=3"])
    assert sorted((issue.filename, issue.path, issue.code) for issue in caught.value.issues) == [
        ("--set train.epoch=3", "train.epoch", "unknown-key"), ("--set train.epochs=lots", "train.epochs", "wrong-type"),
    ]  # fmt: skip
    lines = str(caught.value).splitlines()
    assert "--set train.epochs=lots: train.epochs: must be a valid integer, unable to parse string as an integer, got 'lots'" in lines


def test_an_option_inside_a_bare_type_name_keeps_the_type(tmp_path):
    """``optimizer: adam`` is short for ``{type: adam}``: --set compile.optimizer.learning_rate keeps adam."""
    spec = load_spec(REPO / "examples" / "flowers.yaml", ["compile.optimizer.learning_rate=0.01"])
    assert (spec.compile.optimizer.type, spec.compile.optimizer.learning_rate) == ("adam", 0.01)
    spec = load_spec(REPO / "examples" / "flowers.yaml", ["compile.optimizer=sgd", "compile.optimizer.momentum=0.9"])
    assert (spec.compile.optimizer.type, spec.compile.optimizer.momentum, spec.compile.optimizer.learning_rate) == ("sgd", 0.9, 0.01)


def test_a_bare_name_becomes_a_mapping_only_where_it_names_a_type(tmp_path):
    """Entries of lists (layers, augmentation, callbacks) keep their type; a value that only looks like
    a name (class_weight: auto) is replaced by the mapping, as before."""
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(
        "data: {type: image_directory, path: imgs}\naugmentation: [RandomFlip]\nmodel: {layers: [Flatten, {type: Dense, units: 2}]}\n"
        "train: {callbacks: [EarlyStopping], class_weight: auto}\n"
    )
    spec = load_spec(spec_path, ["augmentation[0].mode=vertical", "train.callbacks[0].patience=3", "train.class_weight.0=2.0"])
    assert (spec.augmentation[0].type, spec.augmentation[0].mode) == ("RandomFlip", "vertical")
    assert (spec.train.callbacks[0].type, spec.train.callbacks[0].patience) == ("EarlyStopping", 3)
    assert spec.train.class_weight == {0: 2.0}


def test_an_optimizer_parameter_without_a_type_says_the_type_is_missing_and_where(tmp_path):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("data: {type: image_directory, path: imgs}\nmodel: {layers: [Flatten, {type: Dense, units: 2}]}\n")
    with pytest.raises(SpecError) as caught:
        load_spec(spec_path, ["compile.optimizer.learning_rate=0.01"])  # the spec has no compile section
    (issue,) = caught.value.issues
    assert (issue.filename, issue.path, issue.code) == ("--set compile.optimizer.learning_rate=0.01", "compile.optimizer", "missing-key")
    assert "missing key 'type' (which optimizer this is); the default is adam: add type: adam" in issue.message
    spec_path.write_text("data: {type: image_directory, path: imgs}\nmodel: {layers: [Flatten, {type: Dense, units: 2}]}\ncompile:\n  optimizer: {learning_rate: 0.01}\n")
    with pytest.raises(SpecError) as caught:
        load_spec(spec_path)
    (issue,) = caught.value.issues
    assert (issue.line, issue.path, issue.code) == (4, "compile.optimizer", "missing-key")
    assert "parameters must be a mapping" not in issue.message
    # a parameter the default optimizer does not take: the types that take it are named instead
    with pytest.raises(SpecError) as caught:
        load_spec(spec_path, ["compile.optimizer={momentum: 0.9}"])
    assert "momentum is a parameter of: sgd, rmsprop" in caught.value.issues[0].message


@pytest.mark.parametrize("example", ["digits", "flowers", "malaria"])
def test_examples_are_valid(example):
    load_spec(REPO / "examples" / f"{example}.yaml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("data: {type: digits}\nmodel:\n  layers:\n    - Conv2D: [16, 3]\n    - {type: Dense, units: auto}\n",
         "<string>:4:7: model.layers[0]: Conv2D's parameters must be a mapping of names to values, such as Conv2D: {filters: 16, kernel_size: 3}, got [16, 3]"),
        ("data: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\ntrain: {batch_size: 32}\n",
         "<string>:3:9: train.batch_size: unknown key here; batch_size belongs in data.batch_size"),
        ("data: {type: digits}\nmodel: {layers: [{type: Flatten, input_shape: [8, 8, 1]}, {type: Dense, units: auto}]}\n",
         "model.layers[0].input_shape: unknown key: a layer's input shape comes from data.image_size and data.color_mode"),
        ("name: my run\ndata: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\n",
         "<string>:1:7: name: must be letters, digits, '.', '_' and '-' (up to 64; it names the run folder), got 'my run'"),
        ("data:\n\ttype: digits\n", "YAML does not allow tabs for indentation: indent with spaces"),
    ],
    ids=["positional-arguments", "misplaced-key", "input-shape", "name-with-space", "tab"],
)  # fmt: skip
def test_keras_habits_get_messages_that_say_what_cnnbuild_wants(text, expected):
    """The wording matters here: each message says what cnnbuild wants instead of what Keras users write."""
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    assert expected in str(caught.value)


def test_int_or_pair_below_its_minimum_is_one_error_and_lists_are_worded_like_the_rest():
    text = "data: {type: digits}\nmodel: {layers: [{type: Conv2D, filters: 4, kernel_size: 0}, Flatten, {type: Dense, units: auto}]}\n"
    assert issue_codes(text) == [("2:58", "model.layers[0].kernel_size", "invalid-value")]
    assert "model.layers[0].kernel_size: must be from 1 to 1,048,576, got 0" in errors(text)[0]
    text = "data: {type: image_directory, path: x, class_names: [a]}\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\n"
    assert issue_codes(text) == [("1:53", "data.class_names", "invalid-value")]
    assert "data.class_names: needs at least 2 item(s), got 1" in errors(text)[0] and "after validation" not in errors(text)[0]


def test_the_json_schema_says_minimum_and_maximum_not_pydantics_ge_and_le():
    import json

    from cnnbuild.spec.json_schema import spec_json_schema

    text = json.dumps(spec_json_schema())
    assert '"ge"' not in text and '"le"' not in text
    filters = spec_json_schema()["$defs"]["Conv2D_layer"]["properties"]["filters"]
    assert filters["minimum"] == 1 and filters["type"] == "integer"
