"""The layers added for issue 24 without TensorFlow: their parameters' errors at the key's line,
their shape errors at the entry's line, inferred shapes and counts, JSON Schema; a final Softmax
layer gives probabilities (so the loss reads them as such)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import SpecError, spec_from_text
from cnnbuild.spec.json_schema import spec_json_schema
from cnnbuild.spec.labels import label_encoding
from cnnbuild.spec.shapes import infer_spec

NEW_LAYERS = (
    "Conv2DTranspose", "UpSampling2D", "ZeroPadding2D", "Cropping2D", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Reshape", "Permute", "Identity",
    "GaussianDropout", "Minimum", "MultiHeadAttention", "RMSNormalization", "AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D",
)  # fmt: skip


def spec_text(*layers: str, size: str = "[16, 16]") -> str:
    return f"data: {{type: digits, image_size: {size}, color_mode: rgb}}\nmodel:\n  layers:\n" + "".join(f"    - {layer}\n" for layer in layers)


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        spec_from_text(text)
    return [issue.render() for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("layer", "key", "message"),
    [
        ("{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, output_padding: 2}", "output_padding", "must be less than strides [2, 2] on each side, got [2, 2]"),
        ("{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, dilation_rate: 2}", "dilation_rate", "Keras takes strides ([2, 2]) or dilation_rate ([2, 2]) above 1, not both"),
        ("{type: UpSampling2D, interpolation: area}", "interpolation", "must be one of 'nearest', 'bilinear', 'bicubic', 'lanczos3' or 'lanczos5', got 'area'"),
        ("{type: ZeroPadding2D, padding: [1, 2, 3]}", "padding", "expected an integer or a pair [height, width] of integers from 0, got [1, 2, 3]"),
        ("{type: Cropping2D, cropping: [[1, 2], [3]]}", "cropping", "expected an integer, [height, width] or [[top, bottom], [left, right]] of integers from 0, got [[1, 2], [3]]"),
        ("{type: Cropping2D, cropping: -1}", "cropping", "must be from 0 to 1,048,576, got -1"),
        ("{type: Reshape, target_shape: [-1, -1]}", "target_shape", "every dimension must be a positive integer, and one at most may be -1 (inferred), got [-1, -1]"),
        ("{type: Permute, dims: [1, 1, 3]}", "dims", "must be an ordering of 1..3 (each axis once, the batch axis 0 not included), got [1, 1, 3]"),
        ("{type: LayerNormalization, axis: [1, 1]}", "axis", "an axis is listed twice in [1, 1]"),
        ("{type: GroupNormalization, groups: 0}", "groups", "must be greater than or equal to 1, got 0"),
        ("{type: ReLU, max_value: -1}", "max_value", "must be greater than or equal to 0, got -1"),
        ("{type: LeakyReLU, negative_slope: -0.1}", "negative_slope", "must be greater than or equal to 0, got -0.1"),
        ("{type: GaussianDropout, rate: 1}", "rate", "must be less than 1, got 1"),
        ("{type: MultiHeadAttention, num_heads: 2}", "key_dim", "required key is missing"),
        ("{type: Identity, units: 3}", "units", "unknown key"),
    ],
)
def test_a_parameter_error_is_at_its_key(layer, key, message):
    found = errors(spec_text(layer, "Flatten"))
    # at the value of the key, or at the key itself when it is unknown, or at the entry when it is missing
    at = layer.index(f"{key}: ") if message == "unknown key" else layer.index(f"{key}: ") + len(key) + 2 if f"{key}: " in layer else 0
    assert found and found[0].startswith(f"<string>:4:{len('    - ') + at + 1}: model.layers[0].{key}: {message}"), found


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        (("{type: GroupNormalization, groups: 2}",), "<string>:4:7: model.layers[0]: GroupNormalization cannot take input shape (16, 16, 3): groups 2 does not divide the 3 channels of (16, 16, 3); choose groups among the divisors of 3"),
        (("{type: Cropping2D, cropping: [8, 0]}",), "<string>:4:7: model.layers[0]: Cropping2D cannot take input shape (16, 16, 3): cropping [[8, 8], [0, 0]] leaves nothing of (16, 16); crop less"),
        (("{type: Reshape, target_shape: [7, 7]}",), "<string>:4:7: model.layers[0]: Reshape cannot take input shape (16, 16, 3): cannot reshape (16, 16, 3) (768 values) to [7, 7] (49 values)"),
        (("{type: Reshape, target_shape: [-1, 5]}",), "<string>:4:7: model.layers[0]: Reshape cannot take input shape (16, 16, 3): cannot reshape (16, 16, 3) (768 values) to [-1, 5]: 768 is not a multiple of 5"),
        (("{type: Permute, dims: [2, 1]}",), "<string>:4:7: model.layers[0]: Permute cannot take input shape (16, 16, 3): dims [2, 1] orders 2 axes, and the input (16, 16, 3) has 3"),
        (("Flatten", "UpSampling2D"), "<string>:5:7: model.layers[1]: UpSampling2D cannot take input shape (768,): needs a (height, width, channels) input"),
        (("{type: Softmax, axis: 4}",), "<string>:4:7: model.layers[0]: Softmax cannot take input shape (16, 16, 3): axis 4 is not an axis"),
        (("{type: PReLU, shared_axes: [4]}",), "<string>:4:7: model.layers[0]: PReLU cannot take input shape (16, 16, 3): shared_axes [4] names axis 4"),
        (("{type: MultiHeadAttention, num_heads: 2, key_dim: 4, attention_axes: -1}",), "<string>:4:7: model.layers[0]: MultiHeadAttention cannot take input shape (16, 16, 3): attention_axes -1 must be axes of (16, 16, 3) other than the batch (0) and the last"),
        (("{type: Conv2D, filters: 4, kernel_size: 1, name: a}", "Flatten", "{type: MultiHeadAttention, num_heads: 1, key_dim: 2, inputs: [a, model_layers_1]}"), None),
    ],
)
def test_a_shape_error_is_at_its_entry(layers, expected):
    found = errors(spec_text(*layers))
    if expected is None:  # an input name that does not exist: the graph's own error, not a shape function's
        assert any("unknown input 'model_layers_1'" in line for line in found), found
    else:
        assert found and found[0].startswith(expected), found


def test_two_inputs_of_attention_are_the_query_and_the_value():
    text = spec_text(
        "{type: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same, name: query}",
        "{type: MaxPooling2D, pool_size: 4, name: context}",
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4, value_dim: 3, inputs: [query, context]}",
        "{type: MultiHeadAttention, num_heads: 1, key_dim: 8, inputs: [query, query, query]}",
    )
    assert errors(text) == ["<string>:7:68: model.layers[3].inputs: MultiHeadAttention takes 1 to 2 inputs, got 3"]
    spec = spec_from_text(text.rsplit("    - ", 1)[0])
    rows = infer_spec(spec, get_registry(), 10)
    # query (8, 8, 8), value (2, 2, 8): 2 heads, key 4, value 3 -> q (8+1)*8, k (8+1)*8, v (8+1)*6, out 6*8+8
    assert [row.output_shape for row in rows] == [(8, 8, 8), (2, 2, 8), (8, 8, 8)]
    assert rows[-1].params == 9 * 8 + 9 * 8 + 9 * 6 + (6 * 8 + 8)


def test_inferred_shapes_and_counts_of_a_decoder():
    text = spec_text(
        "{type: Conv2D, filters: 8, kernel_size: 3, padding: same}",
        "{type: LayerNormalization}",
        "{type: ReLU, max_value: 6}",
        "{type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, padding: same}",
        "{type: UpSampling2D, size: [1, 2]}",
        "{type: ZeroPadding2D, padding: [[1, 0], [2, 3]]}",
        "{type: Cropping2D, cropping: [[0, 1], [2, 3]]}",
        "{type: PReLU, shared_axes: [1, 2]}",
        "{type: GroupNormalization, groups: 2}",
        "{type: Reshape, target_shape: [-1, 4]}",
        "{type: MultiHeadAttention, num_heads: 2, key_dim: 4}",
        "{type: Permute, dims: [2, 1]}",
        "{type: Softmax}",
    )
    rows = infer_spec(spec_from_text(text), get_registry(), 10)
    assert [(row.output_shape, row.params) for row in rows] == [
        ((16, 16, 8), 224), ((16, 16, 8), 16), ((16, 16, 8), 0), ((32, 32, 4), 292), ((32, 64, 4), 0),
        ((33, 69, 4), 0), ((32, 64, 4), 0), ((32, 64, 4), 4), ((32, 64, 4), 8), ((2048, 4), 0),
        ((2048, 4), 3 * 40 + 36), ((4, 2048), 0), ((4, 2048), 0),
    ]  # fmt: skip


def test_a_final_softmax_layer_outputs_probabilities():
    spec = spec_from_text(spec_text("Flatten", "{type: Dense, units: 10}", "Softmax"))
    assert label_encoding(spec, 10).from_logits is False
    found = errors(spec_text("Flatten", "{type: Dense, units: 10}", "Softmax") + "compile:\n  loss: {type: sparse_categorical_crossentropy, from_logits: true}\n")
    assert any("the last layer applies softmax, so its outputs are probabilities" in line for line in found), found


def test_every_new_layer_is_in_the_json_schema():
    schema = spec_json_schema()
    titles = {definition.get("title") for definition in schema["$defs"].values()}
    assert set(NEW_LAYERS) <= titles


def test_validate_loads_no_tensorflow():
    code = (
        "import sys; from cnnbuild.spec import spec_from_text; "
        f"spec_from_text({spec_text('{type: MultiHeadAttention, num_heads: 2, key_dim: 4}', '{type: Conv2DTranspose, filters: 2, kernel_size: 2, strides: 2}')!r}); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_number_in_exponent_notation_is_read_as_yaml_1_2_reads_it():
    # PyYAML (YAML 1.1) gives 1e-6 as text, wanting 1.0e-6; ConvNeXt's LayerNormalization uses epsilon 1e-6
    spec = spec_from_text(spec_text("{type: LayerNormalization, epsilon: 1e-6}", "{type: ELU, alpha: -2.5E+1}"))
    assert (spec.model.layers[0].epsilon, spec.model.layers[1].alpha) == (1e-6, -25.0)
    assert errors(spec_text("{type: LayerNormalization, epsilon: 1e999}")) == ["<string>:4:43: model.layers[0].epsilon: expected a finite number"]
    assert errors(spec_text("{type: LayerNormalization, epsilon: 1e-6x}"))[0].endswith("epsilon: expected a number or a fraction such as 1/255, got '1e-6x'")
