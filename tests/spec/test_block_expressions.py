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
        ("9" * 400 + " / 2", Code.INVALID_VALUE, 401),  # too large for a fraction: an error, not a crash
        ("round_to(" + "9" * 400 + ", 8)", Code.INVALID_VALUE, 0),
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


# -- conditional entries and per-repetition arguments ------------------------------------

STAGES = """\
data: {type: digits, image_size: [16, 16], color_mode: rgb}
blocks:
  basic:
    params: {filters: required, strides: 1}
    layers:
      - type: Residual
        activation: relu
        layers:
          - {type: Conv2D, filters: $filters, kernel_size: 3, strides: $strides, padding: same, use_bias: false}
          - BatchNormalization
        shortcut:
          - {type: Conv2D, filters: $filters, kernel_size: 1, strides: $strides, use_bias: false, when: $strides != 1 or $in.channels != $filters}
          - {type: BatchNormalization, when: $strides != 1 or $in.channels != $filters}
model:
  layers:
    - {type: Conv2D, filters: 8, kernel_size: 3, padding: same}
    - {type: basic, repeat: 2, filters: 8}
    - {type: basic, repeat: 3, filters: 16, strides: {first: 2, rest: 1}}
    - GlobalAveragePooling2D
    - {type: Dense, units: auto}
"""


def test_when_leaves_an_entry_out_and_first_rest_differ_between_repetitions():
    spec = spec_from_text(STAGES, num_classes=10)
    nodes = {node.id: node for node in spec.graph.nodes}
    # same width, stride 1: both shortcut entries are left out, the shortcut is the input itself
    assert nodes["1_basic.1.0_residual.add"].inputs == ("1_basic.1.0_residual.1_batch_normalization", "0_conv2d")
    # the first repetition of the next stage strides by 2 and projects with conv+BN, the others do neither
    first = nodes["2_basic.1.0_residual.shortcut.0_conv2d"].entry
    assert (first.filters, first.strides, first.use_bias) == (16, (2, 2), False)
    assert nodes["2_basic.1.0_residual.add"].inputs == ("2_basic.1.0_residual.1_batch_normalization", "2_basic.1.0_residual.shortcut.1_batch_normalization")
    assert nodes["2_basic.2.0_residual.0_conv2d"].entry.strides == (1, 1)
    assert nodes["2_basic.3.0_residual.add"].inputs == ("2_basic.3.0_residual.1_batch_normalization", "2_basic.2")
    assert not [node for node in spec.graph.nodes if node.id.startswith(("1_basic", "2_basic.2", "2_basic.3")) and ".shortcut" in node.id]
    rows = {row.name: row for row in infer_spec(spec, get_registry(), 10)}
    assert rows["2_basic.1.0_residual.shortcut.0_conv2d"].params == 8 * 16 and rows["2_basic"].output_shape == (8, 8, 16)


def test_index_and_repeat_name_the_repetition():
    text = STAGES.replace("padding: same, use_bias: false}\n          - BatchNormalization", "padding: same, use_bias: false}\n          - {type: Dropout, rate: 0.1 * ($index + 1) / $repeat}", 1)
    spec = spec_from_text(text, num_classes=10)
    rates = [node.entry.rate for node in spec.graph.nodes if node.type == "Dropout"]
    assert rates == pytest.approx([0.05, 0.1, 0.1 / 3, 0.2 / 3, 0.1])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a value of one repetition is wrong at the use, where it is written (in the first: 2 it also reaches the shortcut's Conv2D)
        ("strides: {first: 2, rest: 1}", "strides: {first: 2, rest: 0}", [("18:71", "blocks.basic.layers[0].layers[0].strides", "invalid-value")]),
        # an entry after one left out is still reported at its own line
        ("{type: BatchNormalization, when: $strides != 1 or $in.channels != $filters}", "{type: BatchNormalization, when: $strides != 1 or $in.channels != $filters, momentum: 2}",
         [("13:99", "blocks.basic.layers[0].shortcut[1].momentum", "invalid-value")]),
        ("when: $strides != 1 or $in.channels != $filters}\n          - {type: Batch", "when: $strides}\n          - {type: Batch",
         [("12:105", "blocks.basic.layers[0].shortcut[0].when", "wrong-type")] * 2),  # once for each use
        ("when: $strides != 1 or $in.channels != $filters}\n          - {type: Batch", "when: 1}\n          - {type: Batch",
         [("12:105", "blocks.basic.layers[0].shortcut[0].when", "wrong-type")]),
        ("when: $strides != 1 or $in.channels != $filters}\n          - {type: Batch", "when: $strides != 1 or}\n          - {type: Batch",
         [("12:121", "blocks.basic.layers[0].shortcut[0].when", "expression-syntax")]),
    ],
)
def test_errors_of_conditions_and_repetitions_are_at_their_line(old, new, expected):
    assert old in STAGES
    assert issue_codes(STAGES.replace(old, new), num_classes=10) == expected


def test_an_entry_left_out_cannot_be_an_input_and_its_absence_keeps_the_chain():
    text = """\
    data: {type: digits, image_size: [16, 16], color_mode: rgb}
    blocks:
      gate:
        params: {se: false}
        layers:
          - {type: Conv2D, filters: 8, kernel_size: 1, name: x}
          - {type: GlobalAveragePooling2D, keepdims: true, name: squeeze, when: $se}
          - {type: Conv2D, filters: 8, kernel_size: 1, activation: sigmoid, name: excite, when: $se}
          - {type: Multiply, inputs: [x, excite], when: $se}
    model:
      layers:
        - {type: gate, se: true}
        - {type: gate}
        - GlobalAveragePooling2D
        - {type: Dense, units: auto}
    """
    spec = spec_from_text(__import__("textwrap").dedent(text), num_classes=10)
    nodes = {node.id: node for node in spec.graph.nodes}
    assert nodes["0_gate"].type == "Multiply" and nodes["0_gate"].inputs == ("0_gate.x", "0_gate.excite")
    assert nodes["1_gate"].type == "Conv2D" and nodes["1_gate"].inputs == ("0_gate",)  # the list ends at the last entry present
    # an entry after those left out keeps its place: its id and its errors are those of the entry as written
    after = text.replace("      - {type: Multiply, inputs: [x, excite], when: $se}\n", "      - {type: Multiply, inputs: [x, excite], when: $se}\n          - {type: Conv2D, filters: 4, kernel_size: 1}\n")
    assert spec_from_text(__import__("textwrap").dedent(after), num_classes=10).graph.node("1_gate").inputs == ("1_gate.x",)
    assert issue_codes(after.replace("filters: 4, kernel_size: 1", "filters: 4, kernel_size: 0"), num_classes=10) == [("10:49", "blocks.gate.layers[4].kernel_size", "invalid-value")]
    referenced = text.replace("- {type: Multiply, inputs: [x, excite], when: $se}", "- {type: Multiply, inputs: [x, excite]}")
    assert issue_codes(referenced, num_classes=10) == [("9:38", "blocks.gate.layers[3].inputs[1]", "absent-entry")]
    try:
        spec_from_text(__import__("textwrap").dedent(referenced), "spec.yaml", num_classes=10)
    except Exception as exc:  # noqa: BLE001 (the message is what is checked)
        assert exc.issues[0].message == (
            "input 'excite' is left out of this use: its when: $se is false here ($se = False); give this entry the same when:, "
            "or take another input (in block gate used at model.layers[1])"
        )


def test_the_json_schema_takes_conditions_and_per_repetition_arguments():
    import jsonschema
    import yaml

    from cnnbuild.spec.format_history import ADDED_KEYS
    from cnnbuild.spec.json_schema import spec_json_schema

    schema = spec_json_schema()
    data = yaml.safe_load(STAGES)
    jsonschema.validate(data, schema)
    data["blocks"]["basic"]["layers"][0]["when"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
    assert {"blocks.*.layers[*].when", "blocks.*.layers: expressions", "model.layers[*].<block parameter>: {first, rest}"} <= set(ADDED_KEYS)


def test_when_and_expressions_outside_blocks_say_where_they_are_read():
    text = """\
    data: {type: digits, image_size: [16, 16], color_mode: rgb}
    model:
      layers:
        - {type: Conv2D, filters: 8, kernel_size: 3, when: true}
        - {type: Conv2D, filters: $in.channels * 2, kernel_size: 3}
        - GlobalAveragePooling2D
        - {type: Dense, units: auto}
    """
    assert issue_codes(text, num_classes=10) == [("4:50", "model.layers[0].when", "unknown-key"), ("5:31", "model.layers[1].filters", "wrong-type")]
    try:
        spec_from_text(__import__("textwrap").dedent(text), "spec.yaml", num_classes=10)
    except Exception as exc:  # noqa: BLE001 (the message is what is checked)
        messages = [issue.message for issue in exc.issues]
    assert "is read on the entries of a block's lists only" in messages[0]
    assert messages[1].endswith("expressions ($name, $in.channels * 2) are evaluated in a block's layers only (docs/blocks.md)")


EXPRESSION_PARTS = ["$cin", "$t", "$act", "$in.channels", "$in.height", "$nope", "1", "0", "2.5", "-", "+", "*", "/", "//", "(", ")", ",", "==", "!=", "<",
                    ">=", "and", "or", "not", "min(", "max(", "round_to(", "'relu'", "true", "=", "!", "$", ".", "1e999", "9" * 400, " "]  # fmt: skip


def test_any_text_is_an_expression_or_an_expression_error_never_a_crash():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.sampled_from(EXPRESSION_PARTS), max_size=14) | st.text(max_size=30))
    def check(parts):
        text = parts if isinstance(parts, str) else " ".join(parts)
        try:
            expression = parse(text)
            expression.evaluate(NAMES, shape)
        except ExpressionError as exc:
            assert 0 <= exc.offset <= len(text) and exc.message

    check()


def test_shapes_kept_with_the_graph_follow_the_class_count():
    from cnnbuild.spec.graph.infer import infer_graph

    spec = spec_from_text(STAGES, num_classes=10)
    registry = get_registry()
    for classes in (10, 3, 10, 7):
        rows = infer_graph(spec.graph, spec.data.input_shape, registry, num_classes=classes)
        assert (rows[-1].output_shape, rows[-1].params) == ((classes,), 16 * classes + classes)
        assert [row.index for row in rows] == list(range(len(rows)))
