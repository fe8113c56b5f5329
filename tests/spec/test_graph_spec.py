"""Graph specs without TensorFlow: names and inputs, Residual, Parallel, repeat, blocks; every
graph error at the line of what caused it; the JSON Schema, canonical form and diff of graphs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import SpecError, spec_from_text
from cnnbuild.spec.diff import diff_specs
from cnnbuild.spec.shapes import infer_spec

from .issues import issue_codes

REPO = Path(__file__).resolve().parents[2]
DATA = "data: {type: digits, image_size: [16, 16], color_mode: rgb}\n"

SMALL_RESNET = """\
data: {type: digits, image_size: [16, 16]}
blocks:
  conv_bn:
    params: {filters: required, strides: 1, activation: relu}
    layers:
      - {type: Conv2D, filters: $filters, kernel_size: 3, strides: $strides, padding: same, use_bias: false}
      - BatchNormalization
      - {type: Activation, activation: $activation}
model:
  layers:
    - {type: conv_bn, filters: 8, name: stem}
    - type: Residual
      repeat: 2
      activation: relu
      layers:
        - {type: conv_bn, filters: 8}
        - {type: conv_bn, filters: 8, activation: linear}
    - type: Residual
      activation: relu
      layers:
        - {type: conv_bn, filters: 16, strides: 2}
        - {type: conv_bn, filters: 16, activation: linear}
    - type: Parallel
      branches:
        - [{type: Conv2D, filters: 4, kernel_size: 1}]
        - [{Conv2D: {filters: 4, kernel_size: 3, padding: same}}]
        - []
    - GlobalAveragePooling2D
    - {type: Dense, units: auto}
"""


def errors(text: str) -> list[str]:
    try:
        spec_from_text(textwrap.dedent(text), "spec.yaml", num_classes=10)
    except SpecError as exc:
        return [issue.render() for issue in exc.issues if issue.severity == "error"]
    return []


def test_a_small_resnet_expands_to_named_layers_with_their_inputs():
    spec = spec_from_text(SMALL_RESNET, num_classes=10)
    graph = spec.graph
    assert not graph.chain and graph.output == "5_dense"
    nodes = {node.id: node for node in graph.nodes}
    assert [nodes[i].type for i in ("stem.0_conv2d", "stem.1_batch_normalization", "stem")] == ["Conv2D", "BatchNormalization", "Activation"]
    assert nodes["1_residual.1.add"].inputs == ("1_residual.1.1_conv_bn", "1_residual.1.shortcut")
    assert nodes["1_residual.2.0_conv_bn.0_conv2d"].inputs == ("1_residual.1",)  # the second repetition follows the first
    assert nodes["3_parallel"].type == "Concatenate" and nodes["3_parallel"].inputs == ("3_parallel.b1.0_conv2d", "3_parallel.b2.0_conv2d", "2_residual")
    assert nodes["stem.0_conv2d"].entry.filters == 8 and nodes["2_residual.0_conv_bn.0_conv2d"].entry.strides == (2, 2)
    assert nodes["stem.0_conv2d"].where == "blocks.conv_bn.layers[0]" and nodes["stem.0_conv2d"].context == "in block conv_bn used at model.layers[0]"
    rows = {row.name: row for row in infer_spec(spec, get_registry(), 10)}
    # identical shapes: the first Residual's shortcuts are the input itself; the second's is a 1x1 projection
    assert "1_residual.1.shortcut" not in rows
    projection = rows["2_residual.shortcut"]
    assert (projection.type, projection.input_shape, projection.output_shape, projection.params) == ("Conv2D", (16, 16, 8), (8, 8, 16), 8 * 16 + 16)
    assert projection.note.startswith("a 1x1 Conv2D projection added automatically")
    assert rows["3_parallel"].output_shape == (8, 8, 24) and rows["5_dense"].output_shape == (10,)


def test_a_plain_list_stays_a_chain_with_the_same_rows_and_canonical_form():
    spec = spec_from_text((REPO / "examples" / "flowers.yaml").read_text(), base_dir=REPO / "examples", num_classes=5)
    assert spec.graph.chain
    assert sum(row.params for row in infer_spec(spec, get_registry(), 5)) == 3_989_285
    assert all("name" not in layer and "inputs" not in layer for layer in spec.canonical()["model"]["layers"])


def test_the_canonical_form_of_a_graph_validates_to_the_same_graph():
    spec = spec_from_text(SMALL_RESNET, num_classes=10)
    again = spec_from_text(yaml.safe_dump(spec.canonical(), sort_keys=False), num_classes=10)
    assert [(n.id, n.type, n.inputs) for n in again.graph.nodes] == [(n.id, n.type, n.inputs) for n in spec.graph.nodes]


def test_names_and_inputs_describe_a_graph_and_outputs_picks_the_output():
    spec = spec_from_text(
        DATA
        + textwrap.dedent("""\
        model:
          outputs: head
          layers:
            - {type: Conv2D, name: a, filters: 4, kernel_size: 3, padding: same}
            - {type: Conv2D, name: b, filters: 4, kernel_size: 1, inputs: input}
            - {type: Add, inputs: [a, b], name: sum}
            - {type: Flatten, inputs: sum}
            - {type: Dense, units: auto, name: head}
        """),
        num_classes=10,
    )
    assert [(node.id, node.inputs) for node in spec.graph.nodes][:3] == [("a", ("input",)), ("b", ("input",)), ("sum", ("a", "b"))]
    assert spec.graph.output == "head"


@pytest.mark.parametrize(
    "layers, expected",
    [
        ('- {type: Conv2D, name: stem, filters: 4, kernel_size: 3}\n- {type: Conv2D, filters: 4, kernel_size: 3, inputs: stme}\n', [('5:58', 'model.layers[1].inputs[0]', 'unknown-input')]),
        ('- {type: Conv2D, name: a, filters: 4, kernel_size: 3}\n- {type: Conv2D, name: a, filters: 4, kernel_size: 3}\n- Add\n', [('5:28', 'model.layers[1].name', 'duplicate-name'), ('6:7', 'model.layers[2]', 'input-count')]),
        ('- {type: Conv2D, name: a, filters: 4, kernel_size: 3, padding: same, inputs: b}\n- {type: Conv2D, name: b, filters: 4, kernel_size: 3, padding: same, inputs: a}\n', [('4:82', 'model.layers[0].inputs', 'cycle')]),
        ('- {type: Conv2D, name: a, filters: 4, kernel_size: 3}\n- {type: Conv2D, filters: 4, kernel_size: 3, inputs: input}\n', [('4:7', 'model.layers[0]', 'unused-output')]),
        ('- {type: Conv2D, name: a, filters: 4, kernel_size: 3}\n- {type: Conv2D, name: b, filters: 8, kernel_size: 3, inputs: input}\n- {type: Add, inputs: [a, b]}\n', [('6:7', 'model.layers[2]', 'shape-mismatch')]),
        ('- type: Residual\n  shortcut: identity\n  layers: [{type: Conv2D, filters: 8, kernel_size: 3, padding: same}]\n', [('4:7', 'model.layers[0]', 'shape-mismatch')]),
        ('- type: Residual\n  layers: [{type: Conv2D, filters: 8, kernel_size: 3}]\n', [('4:7', 'model.layers[0]', 'shape-mismatch')]),
        ('- type: Parallel\n  branches:\n    - [{type: Conv2D, filters: 4, kernel_size: 3, padding: same}]\n    - [{type: Conv2D, filters: 4, kernel_size: 3}]\n', [('4:7', 'model.layers[0]', 'shape-mismatch')]),
        ('- type: Residual\n  layers:\n    - {type: Conv2D, filters: 3, kernel_size: 3, padding: same, inputs: stem}\n', [('6:77', 'model.layers[0].layers[0].inputs[0]', 'unknown-input')]),
        ('- {type: Dropout, rate: 0.1, inputs: [input, input]}\n', [('4:42', 'model.layers[0].inputs', 'input-count')]),
        ('- {type: Conv2D, name: input, filters: 3, kernel_size: 1}\n', [('4:28', 'model.layers[0].name', 'reserved-name')]),
        ('- {type: Residual, layers: [Flatten], repeat: 0}\n', [('4:51', 'model.layers[0].repeat', 'invalid-value')]),
    ],
)  # fmt: skip
def test_graph_errors_are_at_their_line(layers, expected):
    text = DATA + "model:\n  layers:\n" + textwrap.indent(layers, "    ") + "    - Flatten\n    - {type: Dense, units: auto}\n"
    assert issue_codes(text, num_classes=10) == expected


def test_graph_errors_say_what_is_wrong_and_what_to_do():
    """The wording of two graph errors (the rest are checked by code and place)."""
    cycle = "- {type: Conv2D, name: a, filters: 4, kernel_size: 3, padding: same, inputs: b}\n- {type: Conv2D, name: b, filters: 4, kernel_size: 3, padding: same, inputs: a}\n"
    assert errors(DATA + "model:\n  layers:\n" + textwrap.indent(cycle, "    ") + "    - Flatten\n    - {type: Dense, units: auto}\n") == [
        "spec.yaml:4:82: model.layers[0].inputs: these entries take each other's outputs as inputs, a cycle: "
        "model.layers[0] <- model.layers[1] <- model.layers[0]; a model's layers must form a graph without cycles"
    ]
    misspelt = "- {type: Conv2D, name: stem, filters: 4, kernel_size: 3}\n- {type: Conv2D, filters: 4, kernel_size: 3, inputs: stme}\n"
    assert errors(DATA + "model:\n  layers:\n" + textwrap.indent(misspelt, "    ") + "    - Flatten\n    - {type: Dense, units: auto}\n") == [
        "spec.yaml:5:58: model.layers[1].inputs[0]: unknown input 'stme'; did you mean 'stem'?"
    ]


def test_an_unknown_output_and_entries_after_the_output_are_errors():
    layers = "model:\n  outputs: {}\n  layers:\n    - Flatten\n    - {{type: Dense, units: auto, name: head}}\n    - {{type: Dropout, rate: 0.1}}\n"
    assert errors(DATA + layers.format("hed")) == ["spec.yaml:3:12: model.outputs: unknown output 'hed'; did you mean 'head'?"]
    assert errors(DATA + layers.format("head")) == [
        "spec.yaml:7:7: model.layers[2]: this entry's output comes after the model's output (model.outputs: head): a branch that leads nowhere; list it in an entry's inputs, or remove it"
    ]


def test_units_auto_only_on_the_output():
    text = DATA + "model:\n  layers:\n    - type: Residual\n      layers: [Flatten, {type: Dense, units: auto}]\n      shortcut: [Flatten, {type: Dense, units: 10}]\n    - {type: Dense, units: auto}\n"
    assert errors(text) == ["spec.yaml:5:46: model.layers[0].layers[1].units: 'auto' is only allowed on the layer whose output the model returns (it means the number of classes)"]


BLOCK = """\
blocks:
  cbr:
    params: {filters: required, unused: 3}
    layers:
      - {type: Conv2D, filters: $filters, kernel_size: 3}
      - {type: Conv2D, filters: $filters, kernel_size: 3}
model:
  layers:
"""


@pytest.mark.parametrize(
    "change, uses, expected",
    [
        (('kernel_size: 3}', 'kernal_size: 3}', 1), '- {type: cbr, filters: 8}\n', [('6:43', 'blocks.cbr.layers[0].kernal_size', 'unknown-key')]),
        (('$filters, kernel_size: 3}\n      - ', '$filtres, kernel_size: 3}\n      - ', 1), '- {type: cbr, filters: 8}\n', [('6:33', 'blocks.cbr.layers[0].filters', 'unknown-parameter')]),
        (None, '- {type: cbr, filters: 8}\n- {type: cbr, filters: -2}\n', [('11:28', 'blocks.cbr.layers[0].filters', 'invalid-value')]),
        (None, '- {type: cbr, filtres: 8}\n', [('10:19', 'model.layers[0].filtres', 'unknown-key')]),
        (None, '- {type: cbr}\n', [('10:7', 'model.layers[0].filters', 'missing-key')]),
        (None, '- {type: cbrr, filters: 3}\n', [('10:7', 'model.layers[0]', 'unknown-type')]),
        (None, '- {type: cbr, filters: 4}\n- {type: cbr, filters: 4}\n- {type: cbr, filters: 4}\n- {type: cbr, filters: 4}\n', [('7:9', 'blocks.cbr.layers[1]', 'shape-mismatch')]),
    ],
)  # fmt: skip
def test_block_errors_are_at_the_line_they_come_from(change, uses, expected):
    block = BLOCK if change is None else BLOCK.replace(*change)
    text = DATA + block + textwrap.indent(uses, "    ") + "    - Flatten\n    - {type: Dense, units: auto}\n"
    assert issue_codes(text, num_classes=10) == expected


def test_an_error_inside_a_block_names_the_use_it_comes_from_once():
    """A problem of a block's body is reported once, at the body's line, naming the use whose value caused it."""
    text = DATA + BLOCK + "    - {type: cbr, filters: 8}\n    - {type: cbr, filters: -2}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    assert errors(text) == ["spec.yaml:11:28: blocks.cbr.layers[0].filters: must be greater than or equal to 1, got -2 (in block cbr used at model.layers[1])"]
    typo = BLOCK.replace("kernel_size: 3}", "kernal_size: 3}", 1) + "    - {type: cbr, filters: 8}\n    - {type: cbr, filters: 4}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    assert errors(DATA + typo) == ["spec.yaml:6:43: blocks.cbr.layers[0].kernal_size: unknown key; did you mean 'kernel_size'? (in block cbr used at model.layers[0])"]


def test_a_block_that_uses_itself_and_unused_parts_of_blocks():
    looped = DATA + "blocks:\n  a:\n    layers: [{type: b}]\n  b:\n    layers: [{type: a}]\nmodel:\n  layers: [{type: a}, Flatten, {type: Dense, units: auto}]\n"
    assert errors(looped) == ["spec.yaml:6:21: blocks.b.layers[0].type: block a uses itself (a -> b -> a); a block cannot contain itself"]
    spare = BLOCK + "    - {type: cbr, filters: 4}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    spare = spare.replace("model:", "  spare:\n    layers: [Flatten]\nmodel:")
    warnings = [issue.render() for issue in spec_from_text(DATA + spare, "spec.yaml", num_classes=10).warnings]
    assert warnings == [
        "spec.yaml:4:33: blocks.cbr.params.unused: warning: parameter unused is declared but no layer of block cbr uses $unused",
        "spec.yaml:8:3: blocks.spare: warning: block spare is defined but model.layers never uses it",
    ]


def test_names_name_and_inputs_are_refused_in_augmentation():
    text = DATA + "augmentation: [{type: RandomFlip, name: flip}]\nmodel:\n  layers: [Flatten, {type: Dense, units: auto}]\n"
    assert errors(text) == ["spec.yaml:2:41: augmentation[0].name: name names entries of model.layers (a graph); augmentation is a list applied in order"]


def test_the_json_schema_accepts_the_graph_examples_and_refuses_a_bad_repeat():
    import jsonschema

    from cnnbuild.spec.json_schema import spec_json_schema

    schema = spec_json_schema()
    for name in ("resnet_small", "flowers_transfer"):
        jsonschema.validate(yaml.safe_load((REPO / "examples" / f"{name}.yaml").read_text()), schema)
    jsonschema.validate(yaml.safe_load(SMALL_RESNET), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(SMALL_RESNET.replace("repeat: 2", "repeat: 0")), schema)


def test_diff_shows_changes_inside_a_block_and_a_branch():
    a = spec_from_text(SMALL_RESNET, num_classes=10)
    b = spec_from_text(SMALL_RESNET.replace("kernel_size: 3, strides: $strides", "kernel_size: 5, strides: $strides").replace("- []", "- [{MaxPooling2D: {pool_size: 3, strides: 1, padding: same}}]"), num_classes=10)
    result = diff_specs(a, b, num_classes=10)
    changed = [(c.kind, c.name_b, c.type_b) for c in result.layers]
    assert ("changed", "stem.0_conv2d", "Conv2D") in changed and ("changed", "2_residual.1_conv_bn.0_conv2d", "Conv2D") in changed
    assert ("added", "3_parallel.b3.0_max_pooling2d", "MaxPooling2D") in changed
    text = result.text()
    assert "~ changed  7 Conv2D layers: kernel_size [3, 3] -> [5, 5] (the same change in each)" in text  # one edit of the block, listed once
    assert "      [stem.0_conv2d] output" in text and "      [2_residual.1_conv_bn.0_conv2d] output" in text
    assert not result.settings  # blocks are compared layer by layer, not as settings


def test_a_projection_added_by_cnnbuild_shows_in_diff():
    plain = DATA + "model:\n  layers:\n    - type: Residual\n      layers: [{type: Conv2D, filters: 3, kernel_size: 3, padding: same}]\n    - Flatten\n    - {type: Dense, units: auto}\n"
    wider = plain.replace("filters: 3", "filters: 6")
    text = diff_specs(spec_from_text(plain, num_classes=10), spec_from_text(wider, num_classes=10), num_classes=10).text()
    assert '+ added    [0_residual.shortcut] Conv2D (kernel_size [1, 1], padding "same", filters 6)' in text
    assert "added by cnnbuild: a 1x1 Conv2D projection added automatically: the shortcut (16, 16, 3) must match the main path's (16, 16, 6)" in text


def test_diff_shows_rewiring_and_a_change_of_input_order():
    base = DATA + (
        "model:\n  layers:\n"
        "    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, name: a}\n"
        "    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, name: b}\n"
        "    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, name: c, inputs: a}\n"
        "    - {type: Concatenate, inputs: [b, c]}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    )
    for other, changed in ((base.replace("name: c, inputs: a", "name: c, inputs: b"), ("c", ["a"], ["b"])), (base.replace("[b, c]", "[c, b]"), ("3_concatenate", ["b", "c"], ["c", "b"]))):
        result = diff_specs(spec_from_text(base, num_classes=10), spec_from_text(other, num_classes=10), num_classes=10)
        assert [(c.kind, c.name_b, c.params) for c in result.layers] == [("changed", changed[0], (("inputs", changed[1], changed[2]),))]


def test_generated_names_never_clash_with_the_entries_around_them():
    block_ending_in_a_container = DATA + (
        "blocks:\n  blk:\n    layers:\n"
        "      - {type: Conv2D, filters: 4, kernel_size: 3, padding: same}\n"
        "      - type: Residual\n        layers: [{type: Conv2D, filters: 4, kernel_size: 3, padding: same}]\n"
        "model:\n  layers: [blk, blk, Flatten, {type: Dense, units: auto}]\n"
    )
    spec = spec_from_text(block_ending_in_a_container, num_classes=10)
    ids = [node.id for node in spec.graph.nodes]
    assert len(ids) == len(set(ids)) and "0_blk.1_residual.0_conv2d" in ids and "0_blk.0_conv2d" in ids
    assert errors(DATA + "model:\n  layers:\n    - type: Residual\n      activation: relu\n      layers: [{type: Conv2D, filters: 3, kernel_size: 3, padding: same, name: add}]\n    - Flatten\n    - {type: Dense, units: auto}\n") == [
        "spec.yaml:6:80: model.layers[0].layers[0].name: name 'add' is the name cnnbuild gives the Residual's addition here; choose another name"
    ]


@pytest.mark.parametrize(
    "blocks, expected",
    [
        ('  Dense:\n    layers: [Flatten]\n', [('3:3', 'blocks.Dense', 'reserved-name')]),
        ('  blk:\n    params: {num-filters: 4}\n    layers: [Flatten]\n', [('4:14', 'blocks.blk.params.num-filters', 'invalid-value')]),
        ('  blk:\n    params: {repeat: 2}\n    layers: [Flatten]\n', [('4:14', 'blocks.blk.params.repeat', 'reserved-name')]),
    ],
)  # fmt: skip
def test_block_and_parameter_names_that_cannot_work_are_refused_at_their_line(blocks, expected):
    assert issue_codes(DATA + "blocks:\n" + blocks + "model:\n  layers: [Flatten, {type: Dense, units: auto}]\n", num_classes=10) == expected


def test_a_merge_inside_parallel_cannot_take_a_name_or_inputs_of_its_own():
    text = DATA + "model:\n  layers:\n    - {type: Parallel, branches: [[], []], merge: {type: Add, inputs: [a]}}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    assert errors(text) == [
        "spec.yaml:4:71: model.layers[0].merge.inputs: a Parallel's merge takes its branches as inputs and is named by the Parallel; give inputs to the Parallel entry"
    ]


def test_a_spec_naming_no_merge_layer_is_validated_as_against_every_merge_layer():
    # validate narrows the model to the types a spec names; a Parallel's merge must still be refused and worded as by the whole model
    text = DATA + "model:\n  layers:\n    - {type: Parallel, branches: [[], []], merge: {type: Dense, units: 3}}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    assert errors(text) == [
        "spec.yaml:4:51: model.layers[0].merge: unknown layer type 'Dense'; known: MultiHeadAttention, Add, Multiply, Average, Maximum, Minimum, Subtract, Concatenate"
    ]
    spec = spec_from_text(DATA + "model:\n  layers:\n    - {type: Parallel, branches: [[], []]}\n    - Flatten\n    - {type: Dense, units: auto}\n", num_classes=10)
    assert [entry.type for entry in spec.model.layers] == ["Parallel", "Flatten", "Dense"] and spec.model.layers[0].merge is None


def test_the_readme_resnet_snippet_and_the_example_have_the_parameter_counts_the_readme_gives():
    import re

    readme = (REPO / "README.md").read_text()
    caption = re.search(r"The first stages of the small ResNet.*?: ([\d,]+) parameters for 5 classes.*?has ([\d,]+)\n.*?```yaml\n(.*?)```", readme, re.S)
    snippet_count, example_count, snippet = int(caption[1].replace(",", "")), int(caption[2].replace(",", "")), caption[3]
    spec = spec_from_text("data: {type: image_directory, path: flowers, image_size: [180, 180]}\n" + snippet, num_classes=5)
    assert sum(row.params for row in infer_spec(spec, get_registry(), 5)) == snippet_count
    example = spec_from_text((REPO / "examples" / "resnet_small.yaml").read_text(), num_classes=5)
    assert sum(row.params for row in infer_spec(example, get_registry(), 5)) == example_count


def test_repeat_on_a_block_use_chains_copies_of_the_block():
    text = DATA + textwrap.dedent("""\
        blocks:
          cbr:
            params: {filters: required}
            layers:
              - {type: Conv2D, filters: $filters, kernel_size: 3, padding: same, use_bias: false}
              - BatchNormalization
              - {type: Activation, activation: relu}
        model:
          layers:
            - {type: cbr, filters: 4, repeat: 3}
            - Flatten
            - {type: Dense, units: auto}
        """)
    spec = spec_from_text(text, num_classes=10)
    nodes = {node.id: node for node in spec.graph.nodes}
    # each copy takes the one before it; the last copy's output is the use's own id
    assert nodes["0_cbr.2.0_conv2d"].inputs == ("0_cbr.1",) and nodes["0_cbr.3.0_conv2d"].inputs == ("0_cbr.2",) and nodes["1_flatten"].inputs == ("0_cbr",)
    rows = {row.name: row.params for row in infer_spec(spec, get_registry(), 10)}
    # 3x3 convolutions without bias: 3 -> 4 channels, then 4 -> 4 twice; BatchNormalization 4 x 4 each time
    assert [rows[f"0_cbr.{copy}.0_conv2d"] for copy in (1, 2, 3)] == [3 * 3 * 3 * 4, 3 * 3 * 4 * 4, 3 * 3 * 4 * 4]
    assert sum(rows.values()) == 108 + 144 + 144 + 3 * 16 + (16 * 16 * 4 * 10 + 10)


SQUEEZE_EXCITE = """\
model:
  layers:
    - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, name: features}
    - GlobalAveragePooling2D
    - {type: Dense, units: 2, activation: relu}
    - {type: Dense, units: 8, activation: sigmoid, name: gate}
    - {type: Multiply, inputs: [features, gate]}
    - Flatten
    - {type: Dense, units: auto}
"""


@pytest.mark.parametrize("order", ["[features, gate]", "[gate, features]"])
def test_merge_layers_broadcast_a_gate_of_ones_against_a_map(order):
    """A (1, 1, C) gate multiplies an (H, W, C) map, in either order, as Keras broadcasts it."""
    text = DATA + SQUEEZE_EXCITE.replace("- GlobalAveragePooling2D", "- {type: GlobalAveragePooling2D, keepdims: true}").replace("[features, gate]", order)
    rows = {row.name: row for row in infer_spec(spec_from_text(text, num_classes=10), get_registry(), 10)}
    assert rows["gate"].output_shape == (1, 1, 8)
    assert rows["4_multiply"].output_shape == (16, 16, 8) and rows["4_multiply"].params == 0


def test_a_gate_without_keepdims_is_told_to_keep_the_pooled_dimensions():
    text = DATA + SQUEEZE_EXCITE
    assert issue_codes(text, num_classes=10) == [("8:7", "model.layers[4]", "shape-mismatch")]
    assert errors(text) == [
        "spec.yaml:8:7: model.layers[4]: Multiply cannot take input shapes (16, 16, 8), (8,): input 2 has shape (8,) and input 1 has shape (16, 16, 8): "
        "they have different ranks (input 1: model.layers[0]; input 2: model.layers[3]); to scale a (16, 16, 8) map by a (8,) gate, "
        "set keepdims: true on the GlobalAveragePooling2D or GlobalMaxPooling2D the gate comes from: the gate becomes (1, 1, 8), which broadcasts "
        "(Flatten would lose the map's layout)"
    ]
    # vectors of another length, and Concatenate, keep the general advice
    for other in (text.replace("units: 8, activation: sigmoid", "units: 5, activation: sigmoid"), text.replace("type: Multiply", "type: Concatenate")):
        assert [message[-80:] for message in errors(other)] == ["they have different ranks (input 1: model.layers[0]; input 2: model.layers[3]); bring them to the same rank first (Flatten or GlobalAveragePooling2D each input)"[-80:]]


def test_a_branch_that_leads_nowhere_is_named_by_its_name():
    layers = "model:\n  layers:\n    - {type: Conv2D, name: side, filters: 4, kernel_size: 3}\n    - {type: Conv2D, filters: 4, kernel_size: 3, inputs: input}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    assert issue_codes(DATA + layers, num_classes=10) == [("4:7", "model.layers[0]", "unused-output")]
    assert errors(DATA + layers) == [
        "spec.yaml:4:7: model.layers[0]: the output of 'side' is not the input of any entry nor the model's output: a branch that leads nowhere; "
        "list 'side' in an entry's inputs, or remove it"
    ]
    residual = layers.replace("{type: Conv2D, name: side, filters: 4, kernel_size: 3}", "{type: Residual, name: side, layers: [{type: Conv2D, filters: 3, kernel_size: 3, padding: same}]}")
    assert errors(DATA + residual)[0].startswith("spec.yaml:4:7: model.layers[0]: the output of 'side' is not the input")


def test_the_readme_conv_bn_projection_and_gate_snippets_validate_with_the_counts_it_gives():
    import re

    readme = (REPO / "README.md").read_text()
    resnet = re.search(r"The first stages of the small ResNet.*?```yaml\n(.*?)```", readme, re.S)[1]
    stage = re.search(r"    - type: Residual +# the shortcut gets a 1x1 projection to 64 filters\n.*?(?=    - GlobalAveragePooling2D)", resnet, re.S)[0]
    claim = re.search(r"\*\*A conv\+BN projection\.\*\*.*?\(([\d,]+)\s+parameters in its shortcut instead of ([\d,]+)\):\n\n```yaml\n(.*?)```", readme, re.S)
    conv_bn, auto, projection = int(claim[1].replace(",", "")), int(claim[2].replace(",", "")), claim[3]
    data = "data: {type: image_directory, path: flowers, image_size: [180, 180]}\n"
    shortcuts = []
    for text in (resnet, resnet.replace(stage, projection)):
        rows = infer_spec(spec_from_text(data + text, num_classes=5), get_registry(), 5)
        shortcuts.append({row.type: row.params for row in rows if row.name.startswith("4_residual.shortcut")})
    assert shortcuts == [{"Conv2D": auto}, {"Conv2D": 64 * 32, "BatchNormalization": 4 * 64}]
    assert (auto, conv_bn) == (32 * 64 + 64, 32 * 64 + 4 * 64)  # auto: a bias and no BatchNormalization
    gate = re.search(r"\*\*Merges broadcast\.\*\*.*?```yaml\n(.*?)```", readme, re.S)[1]
    model = "model:\n  layers:\n    - {type: Conv2D, filters: 64, kernel_size: 3, padding: same}\n    - {type: squeeze_excite, channels: 64, squeezed: 16}\n    - Flatten\n    - {type: Dense, units: auto}\n"
    rows = {row.name: row for row in infer_spec(spec_from_text(DATA + gate + model, num_classes=10), get_registry(), 10)}
    assert rows["1_squeeze_excite.gate"].output_shape == (1, 1, 64) and rows["1_squeeze_excite"].output_shape == (16, 16, 64)
