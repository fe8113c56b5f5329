"""The examples written with expressions, conditions and per-repetition arguments
(examples/resnet20_cifar.yaml, examples/mobilenet_v2.yaml): layer for layer the network of their
copy-per-variant form (tests/spec/copy_per_variant/), in fewer lines, with the published counts.
tests/builder/test_block_examples.py checks the same counts against hand-written Keras."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import load_spec
from cnnbuild.spec.shapes import infer_spec

REPO = Path(__file__).resolve().parents[2]
COPIES = Path(__file__).resolve().parent / "copy_per_variant"
EXAMPLES = {"resnet20_cifar": 10, "mobilenet_v2": 5}


def rows(path: Path, classes: int) -> list:
    return infer_spec(load_spec(path, num_classes=classes), get_registry(), classes)


def graph_lines(path: Path) -> int:
    """Lines of the blocks and model sections that hold something (not blank, not only a comment)."""
    count, inside = 0, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            inside = line.split(":")[0] in ("blocks", "model")
        if inside and line.strip() and not line.strip().startswith("#"):
            count += 1
    return count


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_is_its_copy_per_variant_form_layer_for_layer_in_fewer_lines(name):
    written = rows(REPO / "examples" / f"{name}.yaml", EXAMPLES[name])
    copied = rows(COPIES / f"{name}.yaml", EXAMPLES[name])
    described = [(row.type, row.output_shape, row.params, row.non_trainable) for row in written]
    assert described == [(row.type, row.output_shape, row.params, row.non_trainable) for row in copied]
    assert graph_lines(REPO / "examples" / f"{name}.yaml") < graph_lines(COPIES / f"{name}.yaml")


def test_resnet20_has_the_papers_272474_trainable_parameters():
    found = rows(REPO / "examples" / "resnet20_cifar.yaml", 10)
    total, frozen = sum(row.params for row in found), sum(row.non_trainable for row in found)
    assert (total - frozen, total) == (272_474, 274_042)
    projections = [row for row in found if ".shortcut." in row.name]
    assert [(row.type, row.output_shape) for row in projections] == [
        ("Conv2D", (16, 16, 32)), ("BatchNormalization", (16, 16, 32)), ("Conv2D", (8, 8, 64)), ("BatchNormalization", (8, 8, 64))
    ]  # fmt: skip


def test_mobilenet_v2_features_have_keras_applications_2257984_parameters():
    found = rows(REPO / "examples" / "mobilenet_v2.yaml", 5)
    head = [row for row in found if row.type in ("GlobalAveragePooling2D", "Dropout", "Dense")]
    assert sum(row.params for row in found) - sum(row.params for row in head) == 2_257_984
    adds = [row.name for row in found if row.type == "Add"]
    assert len(adds) == 10  # Keras's block_2, 4, 5, 7, 8, 9, 11, 12, 14 and 15 add their input back
    assert found[[row.name for row in found].index("10_inverted_residual")].output_shape == (5, 5, 320)


def test_the_examples_are_valid_for_the_json_schema():
    import jsonschema

    from cnnbuild.spec.json_schema import spec_json_schema

    schema = spec_json_schema()
    for name in EXAMPLES:
        jsonschema.validate(yaml.safe_load((REPO / "examples" / f"{name}.yaml").read_text(encoding="utf-8")), schema)
