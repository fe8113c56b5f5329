"""The layer catalogue against the installed Keras: every builtin layer's parameters are Keras's
(names and defaults), and every Keras parameter or layer left out says why, at the key's line."""

from __future__ import annotations

import inspect
import re
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cnnbuild.plugins.builtin import keras_catalogue as catalogue
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import SpecError, spec_from_text
from cnnbuild.spec.json_schema import spec_json_schema

REPO = Path(__file__).resolve().parents[2]


def builtin_layers() -> dict:
    return {name: registration for name, registration in get_registry().layers.items() if registration.plugin.builtin}


def spec_errors(layer: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        spec_from_text(f"data: {{type: digits, image_size: [16, 16], color_mode: rgb}}\nmodel:\n  layers:\n    - {layer}\n    - Flatten\n")
    return [issue.render() for issue in caught.value.issues]


def test_the_catalogue_agrees_with_the_installed_keras():
    import keras

    assert catalogue.disagreements(builtin_layers(), keras.layers) == []


def test_a_new_keras_parameter_a_changed_default_and_a_stale_row_are_each_a_disagreement():
    class Dropout:  # as a later Keras might have it: one parameter more, noise_shape gone
        def __init__(self, rate, seed=None, scale_at_inference=False, **kwargs):
            pass

    class Dense:
        def __init__(self, units, activation=None, use_bias=False, kernel_initializer="glorot_uniform", **kwargs):
            pass

    layers = {name: builtin_layers()[name] for name in ("Dropout", "Dense")}
    found = catalogue.disagreements(layers, SimpleNamespace(Dropout=Dropout, Dense=Dense))
    assert "Dropout.scale_at_inference: a parameter of Keras's Dropout that cnnbuild neither offers nor lists in NOT_OFFERED with a reason" in found
    assert "Dropout.noise_shape: listed in NOT_OFFERED, and Keras's Dropout has no such parameter any more" in found
    assert "Dense.use_bias: cnnbuild's default is True, Keras's is False; make them agree or say why in CHANGED_DEFAULTS" in found
    assert "Dense.bias_initializer: listed in NOT_OFFERED, and Keras's Dense has no such parameter any more" in found


def test_a_parameter_keras_lacks_and_a_layer_keras_lacks_are_disagreements():
    class Flatten:
        def __init__(self, **kwargs):
            pass

    found = catalogue.disagreements({"Flatten": builtin_layers()["Flatten"], "Identity": builtin_layers()["Identity"]}, SimpleNamespace(Flatten=Flatten))
    assert found[:2] == [
        "Flatten.data_format: listed in NOT_OFFERED, and Keras's Flatten has no such parameter any more",
        "Identity: Keras has no layer of that name; add it to NOT_KERAS with what it is, or rename it",
    ]


def test_defaults_are_compared_as_cnnbuild_reads_them():
    import keras

    # Keras writes (1, 1) or 1, ((1, 1), (1, 1)) or (1, 1): the same setting once read
    registration = builtin_layers()["ZeroPadding2D"]
    assert inspect.signature(keras.layers.ZeroPadding2D.__init__).parameters["padding"].default == (1, 1)
    assert registration.params.model_fields["padding"].default == ((1, 1), (1, 1))
    assert [line for line in catalogue.disagreements({"ZeroPadding2D": registration}, keras.layers) if line.startswith("ZeroPadding2D")] == []


@pytest.mark.parametrize(
    ("layer", "key", "reason"),
    [
        ("{type: Conv2D, filters: 4, kernel_size: 3, kernel_regularizer: l2}", "kernel_regularizer", "weight penalties are not set per layer: use compile.optimizer's weight_decay"),
        ("{type: MaxPooling2D, data_format: channels_first}", "data_format", "cnnbuild's tensors are channels_last"),
        ("{type: Dropout, rate: 0.1, seed: 3}", "seed", "random layers draw from the spec's top-level seed"),
        ("{type: BatchNormalization, renorm: true}", "renorm", "batch renormalization is not offered; for small batches use GroupNormalization"),
        ("{type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_gate: true}", "use_gate", "gated attention"),
        ("{type: Dense, units: 4, lora_rank: 4}", "lora_rank", "LoRA adapts a trained Dense layer"),
    ],
)
def test_a_keras_parameter_not_offered_says_why_at_its_value(layer, key, reason):
    column = len("    - ") + layer.index(f"{key}: ") + len(key) + 3
    assert spec_errors(layer)[0].startswith(f"<string>:4:{column}: model.layers[0].{key}: {key} is a Keras parameter cnnbuild does not offer: {reason}")


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        ("{type: Conv1D, filters: 4, kernel_size: 3}", "Conv1D is not offered: cnnbuild's inputs are 2D images; a (positions, channels) sequence goes through the 2D layer after Reshape"),
        ("{type: MaxPooling3D}", "MaxPooling3D is not offered: cnnbuild's inputs are 2D images, (height, width, channels): there is no depth axis"),
        ("{type: Lambda, function: x}", "Lambda is not offered: a spec runs no Python code"),
    ],
)
def test_a_keras_layer_not_offered_says_why_at_its_entry(layer, reason):
    assert spec_errors(layer)[0].startswith(f"<string>:4:7: model.layers[0]: {reason}")


def test_refused_parameters_are_marked_in_the_schema_left_out_of_dumps_and_not_suggested():
    conv = next(d for d in spec_json_schema()["$defs"].values() if d.get("title") == "Conv2D")
    assert conv["properties"]["kernel_regularizer"]["not"] == {}
    assert conv["properties"]["kernel_regularizer"]["description"].startswith("not offered: weight penalties")
    assert "not" not in conv["properties"]["groups"]
    spec = spec_from_text("data: {type: digits, image_size: [16, 16]}\nmodel:\n  layers:\n    - {type: Conv2D, filters: 4, kernel_size: 3}\n")
    assert "kernel_regularizer" not in spec.model.layers[0].model_dump() and "data_format" not in spec.model.layers[0].model_dump()
    unknown = spec_errors("{type: Dense, units: 4, lora: 4}")[0]
    assert unknown.startswith("<string>:4:31: model.layers[0].lora: unknown key; allowed keys: name, inputs, units, activation, use_bias, kernel_initializer")
    assert "lora_rank" not in unknown


def test_every_reason_is_used_and_every_refused_name_is_not_offered_elsewhere():
    used = {key for keys in catalogue.NOT_OFFERED.values() for key in keys}
    assert set(catalogue.REASONS) <= used | {"name", "dtype"}
    assert {(layer, key) for layer, key in catalogue.LAYER_REASONS} <= {(layer, key) for layer, keys in catalogue.NOT_OFFERED.items() for key in keys}
    assert not set(catalogue.NOT_OFFERED_LAYERS) & {name for name, r in builtin_layers().items() if (r.params.model_config.get("json_schema_extra") or {}).get("not") is None}


def test_the_development_script_reports_agreement(monkeypatch, capsys):
    """``python tools/keras_catalogue.py --check``, run as its own ``__main__`` in this process (where
    Keras is loaded already: a process of its own spent its time importing TensorFlow)."""
    script = REPO / "tools" / "keras_catalogue.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--check"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr()
    assert (done.value.code, printed.out.strip()) == (0, "the catalogue agrees with Keras"), printed.err[-2000:]


def test_the_readme_layer_reference_lists_every_layer_with_its_parameters_and_every_refused_layer():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Layers") : text.index("### Augmentation layers")]
    rows = {}
    for cells, parameters in re.findall(r"^\| ([^|]+) \| (.*)\|$", section, re.MULTILINE):
        for name in re.findall(r"`([A-Za-z0-9]+)`", cells):
            rows[name] = parameters
    for name, registration in builtin_layers().items():
        if registration.augmentation or registration.options.get("not_augmentation") or name in catalogue.NOT_OFFERED_LAYERS:
            continue  # augmentation layers: their own table (tests/spec/test_augmentation_spec.py)
        assert name in rows, f"README's layer table has no row for {name}"
        for parameter, field in registration.params.model_fields.items():
            if parameter not in ("type", "name", "inputs") and catalogue.is_offered(field):
                assert f"`{parameter}`" in rows[name], f"README row of {name} does not name {parameter}"
    for name in catalogue.NOT_OFFERED_LAYERS:
        assert f"`{name}`" in section or name.endswith(("Pooling1D", "Pooling3D")), f"README does not say that {name} is not offered"
