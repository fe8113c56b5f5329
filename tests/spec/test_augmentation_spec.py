"""Validation of augmentation entries: Keras's parameter names and ranges, the layers refused and
why, label mixing's requirements, Pipeline's nested entries, and the README table."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from cnnbuild.plugins.builtin.keras_catalogue import is_offered
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import SpecError, spec_from_text
from cnnbuild.spec.labels import label_encoding, label_mode

from .issues import issue_codes

README = Path(__file__).resolve().parents[2] / "README.md"

#: A representative entry of every augmentation type cnnbuild offers (tests/builder uses them too).
EXAMPLES: dict[str, dict] = {
    "RandomFlip": {"mode": "horizontal"},
    "RandomRotation": {"factor": 0.1},
    "RandomZoom": {"height_factor": 0.2},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomShear": {"x_factor": 0.3, "y_factor": 0.1},
    "RandomPerspective": {"factor": 1, "scale": 0.6},
    "RandomContrast": {"factor": 0.5},
    "RandomBrightness": {"factor": 0.3},
    "RandomErasing": {"factor": 1, "fill_value": 0},
    "RandomGaussianBlur": {"factor": 1, "kernel_size": 5},
    "RandomCrop": {"height": 24, "width": 24},
    "RandomHue": {"factor": 0.5},
    "RandomSaturation": {"factor": [0.1, 0.3]},
    "RandomColorDegeneration": {"factor": 0.9},
    "RandomGrayscale": {"factor": 1},
    "RandomColorJitter": {"brightness_factor": 0.2, "contrast_factor": 0.3, "saturation_factor": [0.1, 0.9], "hue_factor": 0.2},
    "RandomSharpness": {"factor": [0, 0.2]},
    "RandomInvert": {"factor": 1},
    "RandomPosterization": {"factor": 2},
    "Solarization": {"threshold_factor": 0.5},
    "RandAugment": {"num_ops": 2, "factor": 0.5},
    "AugMix": {},
    "Pipeline": {"layers": [{"type": "RandomFlip"}, {"type": "RandomRotation", "factor": 0.2}]},
    "MixUp": {"alpha": 0.4},
    "CutMix": {},
}
REFUSED = ("RandomElasticTransform", "Equalization")


def spec_text(augmentation: str, extra: str = "", data: str = "{type: digits, image_size: [16, 16], color_mode: rgb}") -> str:
    """A spec whose ``augmentation`` list starts on line 3 (one entry a line, indented by two)."""
    entries = textwrap.indent(textwrap.dedent(augmentation).strip(), "  ")
    return f"data: {data}\naugmentation:\n{entries}\nmodel:\n  layers: [Flatten, {{type: Dense, units: auto}}]\n{textwrap.dedent(extra)}"


def issues(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    return str(caught.value).splitlines()  # in file order


def test_every_offered_augmentation_type_has_an_example_and_validates():
    registry = get_registry()
    offered = {name for name, r in registry.layers.items() if r.augmentation and name not in REFUSED}
    assert offered == set(EXAMPLES)
    entries = "\n".join(f"- {{type: {name}, {', '.join(f'{k}: {v!r}' for k, v in params.items())}}}".replace("'", "") for name, params in EXAMPLES.items() if name not in ("MixUp", "CutMix", "RandomCrop"))
    spec = spec_from_text(spec_text(entries))
    assert [entry.type for entry in spec.augmentation] == [name for name in EXAMPLES if name not in ("MixUp", "CutMix", "RandomCrop")]


def test_the_readme_table_lists_every_type_with_its_parameters():
    """Every registered augmentation type, and every layer refused as augmentation, has a row naming its parameters."""
    text = README.read_text()
    section = text[text.index("### Augmentation layers") : text.index("### Data sources")]
    rows = {match.group(1): match.group(2) for match in re.finditer(r"^\| `([A-Za-z]+)`[^|]*\| (.*)\|$", section, re.MULTILINE)}
    registry = get_registry()
    for name, registration in registry.layers.items():
        if registration.augmentation or registration.options.get("not_augmentation"):
            assert name in rows, f"README's augmentation table has no row for {name}"
            for parameter, field in registration.params.model_fields.items():
                # name and inputs: every model.layers entry's (README: graphs); Keras parameters not offered say why in validate
                if parameter not in ("type", "name", "inputs") and name not in REFUSED and is_offered(field):
                    assert f"`{parameter}`" in rows[name], f"README row of {name} does not name {parameter}"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{type: RandomElasticTransform}", "augmentation[0]: RandomElasticTransform is not offered: in tf.data Keras 3.15 replaces every image of a batch"),
        ("{type: Equalization}", "augmentation[0]: Equalization is not offered: Keras 3.15's Equalization cannot be part of a Keras model"),
        ("{type: AutoContrast}", "augmentation[0]: AutoContrast cannot be used in augmentation: it changes images at inference too"),
        ("{type: GaussianNoise, stddev: 0.5}", "augmentation[0]: GaussianNoise cannot be used in augmentation: Keras's GaussianNoise takes stddev up to 1"),
        ("Conv2D", "augmentation[0]: Conv2D cannot be used in augmentation: it is a layer for model.layers, not an augmentation layer"),
        ("{type: RandomContrast, factor: 1.5}", "augmentation[0].factor: must lie in [0, 1], got 1.5"),
        ("{type: RandomPosterization, factor: [2, 9]}", "augmentation[0].factor: must lie in [1, 8], got 9"),
        ("{type: RandomSaturation, factor: [0.2, 1]}", "augmentation[0].factor: must lie in [0, 0.999], got 1"),
        ("{type: RandomGaussianBlur, kernel_size: 4}", "augmentation[0]: kernel_size must be odd, got 4"),
        ("{type: Solarization, threshold_factor: [0.5, 1]}", "augmentation[0].threshold_factor: Keras 3.15 scales only the upper end of the range by 255"),
        ("{type: RandomColorJitter}", "augmentation[0]: give at least one of brightness_factor"),
        ("{type: RandomInvert, factor: 2}", "augmentation[0].factor: must be less than or equal to 1"),
        ("{type: RandAugment, num_ops: 12}", "augmentation[0].num_ops: must be less than or equal to 11"),
    ],
)
def test_refused_and_out_of_range_entries_say_why_at_their_line(entry, message):
    found = issues(spec_text(f"- {entry}"))
    assert any(f"<string>:3:5: {message}" in issue or (f": {message}" in issue and issue.startswith("<string>:3:")) for issue in found), found


def test_three_channel_layers_are_refused_on_grayscale_images():
    text = spec_text("- {type: RandomHue, factor: 0.1}\n- {type: Pipeline, layers: [{type: RandomSaturation, factor: 0.5}]}", data="{type: digits, image_size: [16, 16]}")
    assert issue_codes(text, "<string>") == [("3:5", "augmentation[0]", "shape-mismatch"), ("4:5", "augmentation[1]", "shape-mismatch")]
    assert issues(text)[1] == (
        "<string>:4:5: augmentation[1]: Pipeline cannot take input shape (16, 16, 1): layers[0] (RandomSaturation) needs RGB images (3 channels), got 1 channel(s); "
        "use color_mode: rgb, or leave this layer out"
    )


def test_pipeline_entries_are_validated_where_they_are_written():
    assert issue_codes(spec_text("- Pipeline:\n    layers:\n      - RandomFlip\n      - {type: RandomHue, factr: 0.1}"), "<string>") == [("6:29", "augmentation[0].layers[1].factr", "unknown-key")]
    assert issue_codes(spec_text("- Pipeline:\n    layers:\n      - RandomFlip\n      - MixUp\n      - {type: Pipeline, layers: [RandomFlip]}"), "<string>") == [
        ("6:11", "augmentation[0].layers[1]", "not-allowed-here"), ("7:11", "augmentation[0].layers[2]", "not-allowed-here"),
    ]  # fmt: skip
    spec = spec_from_text(spec_text("- Pipeline: {layers: [RandomFlip, {type: RandomShear, x_factor: 0.2}]}"))
    assert [inner.type for inner in spec.augmentation[0].layers] == ["RandomFlip", "RandomShear"]
    assert spec.canonical()["augmentation"][0]["layers"][1] == {"type": "RandomShear", "x_factor": 0.2, "y_factor": 0.0, "interpolation": "bilinear", "fill_mode": "reflect", "fill_value": 0.0}


def test_label_mixing_makes_labels_categorical_and_loss_auto_categorical():
    spec = spec_from_text(spec_text("- {type: MixUp}"))
    assert label_mode(spec, 10) == "categorical" and label_encoding(spec, 10).mode == "categorical"
    binary = spec_from_text(spec_text("- {type: CutMix}"))
    assert label_mode(binary, 2) == "binary"  # two classes and units: auto: one soft 0..1 label
    plain = spec_from_text(spec_text("- {type: RandomFlip}"))
    assert label_mode(plain, 10) == "int"


def test_label_mixing_errors_say_what_to_do():
    text = spec_text(
        "- {type: RandomFlip}\n- {type: MixUp}\n- {type: CutMix}",
        extra="augmentation_placement: model\ncompile: {loss: sparse_categorical_crossentropy}\ntrain: {callbacks: [{type: EarlyStopping, monitor: accuracy}]}\n",
        data="{type: digits, image_size: [16, 16], label_mode: int}",
    )
    assert issue_codes(text, "<string>") == [
        ("1:56", "data.label_mode", "label-mixing"), ("4:5", "augmentation[1]", "label-mixing"), ("5:5", "augmentation[2]", "label-mixing"),
        ("9:17", "compile.loss.type", "label-mixing"), ("10:52", "train.callbacks[0].monitor", "label-mixing"),
    ]  # fmt: skip
    assert issues(text) == [
        "<string>:1:56: data.label_mode: CutMix and MixUp mix labels, so training labels are soft (weights of two classes) and cannot be class indices; use label_mode: categorical, or leave it unset",
        "<string>:4:5: augmentation[1]: MixUp mixes the labels as well as the images, which only the tf.data pipeline can do (a layer inside the model never sees the labels); use augmentation_placement: pipeline",
        "<string>:5:5: augmentation[2]: CutMix mixes the labels as well as the images, which only the tf.data pipeline can do (a layer inside the model never sees the labels); use augmentation_placement: pipeline",
        "<string>:9:17: compile.loss.type: CutMix and MixUp mix labels, and sparse_categorical_crossentropy takes class indices only; use loss: auto (categorical_crossentropy)",
        "<string>:10:52: train.callbacks[0].monitor: with label mixing, training metrics other than loss are left out (against mixed labels they mean nothing); monitor val_accuracy or loss",
    ]


def test_label_mixing_layers_are_refused_in_the_model():
    text = "data: {type: digits, image_size: [8, 8]}\nmodel:\n  layers: [Flatten, {type: CutMix}, {type: Dense, units: auto}]\n"
    assert issue_codes(text, "<string>") == [("3:21", "model.layers[1]", "not-allowed-here")]


def test_the_json_schema_offers_every_type_and_nests_pipeline_entries():
    from cnnbuild.spec.json_schema import spec_json_schema

    schema = spec_json_schema()
    text = repr(schema)
    for name in EXAMPLES:
        assert f"'{name}'" in text
    items = schema["$defs"]["Pipeline_layer"]["properties"]["layers"]["items"]
    assert items["discriminator"]["propertyName"] == "type" and "RandomShear" in items["discriminator"]["mapping"]
    elastic = next(d for key, d in schema["$defs"].items() if key.startswith("RandomElasticTransform"))
    assert elastic["not"] == {} and elastic["description"].startswith("not offered: ")


def test_gaussian_noise_is_a_model_layer_within_keras_limit():
    layers = "model:\n  layers: [{type: Rescaling, scale: 1/255}, {type: GaussianNoise, stddev: 0.05}, Flatten, {type: Dense, units: auto}]\n"
    spec = spec_from_text(f"data: {{type: digits, image_size: [8, 8]}}\n{layers}")
    assert spec.model.layers[1].stddev == 0.05
    with pytest.raises(SpecError) as caught:
        spec_from_text(f"data: {{type: digits, image_size: [8, 8]}}\n{layers.replace('0.05', '2')}")
    assert str(caught.value) == "<string>:3:75: model.layers[1].stddev: must be less than or equal to 1, got 2"
