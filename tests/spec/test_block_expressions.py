"""Expressions in block parameters: the grammar (no Python evaluated), values computed from a use's
arguments and its input's shape before TensorFlow loads, and every error at the column it is about."""

from __future__ import annotations

import pytest

from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import spec_from_text
from cnnbuild.spec.codes import Code
from cnnbuild.spec.graph.expressions import ExpressionError, parse, round_to
from cnnbuild.spec.shapes import infer_spec

from .issues import issue_codes

NAMES = {"cin": 16, "t": 6, "s": 2, "f": 24, "act": "relu", "flag": True, "pair": [3, 3]}


def shape(offset: int) -> tuple[int, int, int]:
    return (32, 24, 16)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$cin * $t", 96),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("-$cin + 2 * (3 + 4)", -2),
        ("- -3", 3),
        ("10 - 4 - 3", 3),  # left to right
        ("7 // 2", 3),
        ("-7 // 2", -4),  # rounds down
        ("$cin / 2", 8),  # a whole result is an integer
        ("$t / 4", 1.5),
        ("min($cin, 8, 9)", 8),
        ("max(1, $t / 4)", 1.5),
        ("round_to($cin * 0.75, 8)", 16),
        ("$in.channels * $t", 96),
        ("$in.height // 2 + $in.width", 40),
        ("$s != 1 or $in.channels != $f", True),
        ("$s == 2 and $in.channels == $f", False),
        ("not $flag or $act == 'relu'", True),
        ("$act != \"relu\"", False),
        ("$cin >= 16 and $cin < 17", True),
        ("$flag == true", True),
        ("1 == true", False),  # a number is not a truth value
        ("1.5e1", 15),
        ("$act", "relu"),  # one $name: the value as given, of any kind
        ("$pair", [3, 3]),
    ],
)
def test_expressions_evaluate_with_precedence_and_parentheses(text, value):
    result = parse(text).evaluate(NAMES, shape)
    assert result == value and type(result) is type(value)


def test_round_to_is_mobilenets_make_divisible():
    # max(divisor, int(v + divisor / 2) // divisor * divisor), plus divisor when that is below 90% of v
    assert [round_to(v, 8) for v in (32, 24, 16 * 0.35, 32 * 0.35, 1280 * 1.3, 9, 4, 20)] == [32, 24, 8, 16, 1664, 16, 8, 24]  # 9: 8 is below 90% of 9
    assert round_to(96 * 0.5, 8) == 48 and round_to(160 * 0.75, 8) == 120 and round_to(11, 3) == 12


def test_and_or_look_at_their_second_side_only_when_needed():
    def no_shape(offset: int) -> tuple[int, ...]:
        raise AssertionError("$in was looked at")

    assert parse("$s != 1 or $in.channels != $f").evaluate(NAMES, no_shape) is True
    assert parse("$s == 1 and $in.channels == $f").evaluate(NAMES, no_shape) is False


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("$cin * ", Code.EXPRESSION_SYNTAX, 7),
        ("$cin = 2", Code.EXPRESSION_SYNTAX, 5),
        ("($cin + 1", Code.EXPRESSION_SYNTAX, 9),
        ("$cin < 2 < 3", Code.EXPRESSION_SYNTAX, 9),
        ("1 $cin", Code.EXPRESSION_SYNTAX, 2),
        ("$cin ** 2", Code.EXPRESSION_SYNTAX, 6),
        ("__import__('os')", Code.UNKNOWN_NAME, 0),  # no Python: a bare word is not a name
        ("foo($cin)", Code.UNKNOWN_NAME, 0),
        ("cin * 2", Code.UNKNOWN_NAME, 0),
        ("$in.depth", Code.UNKNOWN_NAME, 0),
        ("round_to(3)", Code.EXPRESSION_SYNTAX, 0),
    ],
)
def test_expressions_that_cannot_be_read_say_where(text, code, offset):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert (caught.value.code, caught.value.offset) == (code, offset)


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("$cin / ($t - 6)", Code.DIVISION_BY_ZERO, 5),
        ("$cin // 0", Code.DIVISION_BY_ZERO, 5),
        ("$act + 1", Code.WRONG_TYPE, 0),
        ("$pair * 2", Code.WRONG_TYPE, 0),
        ("round_to($cin, 2.5)", Code.NOT_AN_INTEGER, 15),
        ("$cin.x", Code.UNKNOWN_NAME, 0),
        ("not $cin", Code.WRONG_TYPE, 4),
    ],
)
def test_expressions_that_cannot_be_evaluated_say_where(text, code, offset):
    with pytest.raises(ExpressionError) as caught:
        parse(text).evaluate(NAMES, shape)
    assert (caught.value.code, caught.value.offset) == (code, offset)


INVERTED = """\
data: {type: digits, image_size: [16, 16], color_mode: rgb}
blocks:
  inverted:
    params: {filters: required, t: 6}
    layers:
      - {type: Conv2D, filters: $in.channels * $t, kernel_size: 1, use_bias: false}
      - {type: DepthwiseConv2D, kernel_size: 3, padding: same, use_bias: false}
      - {type: Conv2D, filters: "round_to($filters * 0.75, 8)", kernel_size: 1}
model:
  layers:
    - {type: Conv2D, filters: 16, kernel_size: 3}
    - {type: inverted, filters: 32}
    - {type: inverted, filters: 24, t: 4}
    - GlobalAveragePooling2D
    - {type: Dense, units: auto}
"""


def test_a_block_computes_widths_from_its_arguments_and_its_input_shape():
    spec = spec_from_text(INVERTED, num_classes=10)
    nodes = {node.id: node.entry for node in spec.graph.nodes}
    assert nodes["1_inverted.0_conv2d"].filters == 16 * 6 and nodes["1_inverted"].filters == 24
    assert nodes["2_inverted.0_conv2d"].filters == 24 * 4 and nodes["2_inverted"].filters == 24  # round_to(18, 8)
    rows = {row.name: row for row in infer_spec(spec, get_registry(), 10)}
    assert rows["2_inverted.0_conv2d"].params == 24 * 96 and rows["2_inverted"].output_shape == (14, 14, 24)
    # the canonical form keeps the expressions and validates to the same graph
    again = spec_from_text(__import__("yaml").safe_dump(spec.canonical()), num_classes=10)
    assert [node.entry for node in again.graph.nodes] == [node.entry for node in spec.graph.nodes]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a syntax error points inside the expression, quoted or not
        ("$in.channels * $t,", "$in.channels * * $t,", [("6:48", "blocks.inverted.layers[0].filters", "expression-syntax")]),
        ('"round_to($filters * 0.75, 8)"', '"round_to($filters * 0.75, 8"', [("8:61", "blocks.inverted.layers[2].filters", "expression-syntax")]),
        ("$in.channels * $t,", "$in.chanels * $t,", [("6:33", "blocks.inverted.layers[0].filters", "unknown-name")]),
        ("$in.channels * $t,", "$in.channels * $tt,", [("6:48", "blocks.inverted.layers[0].filters", "unknown-parameter")]),
        ("round_to($filters", "rnd($filters", [("8:34", "blocks.inverted.layers[2].filters", "unknown-name")]),
        # the values of a use: the error is in the block, at the operator, for the use that has them
        ("$in.channels * $t,", "$in.channels // ($t - 4),", [("6:46", "blocks.inverted.layers[0].filters", "division-by-zero")]),
        ("$in.channels * $t,", "$in.channels * $t / 5,", [("6:33", "blocks.inverted.layers[0].filters", "not-an-integer")]),
        ("$in.channels * $t,", "$in.channels - 16 * $t,", [("6:33", "blocks.inverted.layers[0].filters", "invalid-value")]),
        ("kernel_size: 3, padding", "kernel_size: $t / 4, padding", [("7:46", "blocks.inverted.layers[1].kernel_size", "not-an-integer")]),
    ],
)
def test_expression_errors_are_at_their_line_and_column(old, new, expected):
    assert old in INVERTED
    assert issue_codes(INVERTED.replace(old, new), num_classes=10) == expected


def test_an_error_from_a_use_names_the_use():
    text = INVERTED.replace("$in.channels * $t,", "$in.channels // ($t - 4),")
    try:
        spec_from_text(text, "spec.yaml", num_classes=10)
    except Exception as exc:  # noqa: BLE001 (the message is what is checked)
        rendered = [issue.render() for issue in exc.issues]
    assert rendered == [
        "spec.yaml:6:46: blocks.inverted.layers[0].filters: division by zero: the right side of '//' is 0 here "
        "(in '$in.channels // ($t - 4)') (in block inverted used at model.layers[2])"
    ]


def test_in_needs_a_shape_known_before_building_and_height_needs_an_image():
    # a Dense with units: auto before the block: its channels are the class count, known only with the data
    dense = INVERTED.replace("- {type: Conv2D, filters: 16, kernel_size: 3}", "- {type: Conv2D, filters: 16, kernel_size: 3}\n    - {type: Dense, units: auto}")
    assert issue_codes(dense, num_classes=10) == [("6:33", "blocks.inverted.layers[0].filters", "unknown-shape")]
    flattened = INVERTED.replace("- {type: Conv2D, filters: 16, kernel_size: 3}", "- {type: Conv2D, filters: 16, kernel_size: 3}\n    - Flatten")
    assert issue_codes(flattened.replace("filters: $in.channels * $t", "filters: $in.height * $t"), num_classes=10) == [
        ("6:33", "blocks.inverted.layers[0].filters", "shape-mismatch")
    ]


def test_a_parameter_used_only_in_an_expression_counts_as_used():
    spec = spec_from_text(INVERTED, num_classes=10)
    assert not [issue for issue in spec.warnings if issue.code == Code.UNUSED_PARAMETER]
