"""A spec keeps the registry it was validated against: its graph, checks, overrides, diff and model
are made with those types, and a layer made of other entries (Pipeline) builds them from its
context, not from the process's plugin manager."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnnbuild
from cnnbuild.plugins.manager import get_registry, make_registry
from cnnbuild.spec import apply_to_spec, validate_source
from cnnbuild.spec.diff import diff_specs
from cnnbuild.spec.yaml_source import parse_yaml


class Triple(cnnbuild.Params):
    pass


class Widen(cnnbuild.Params):
    filters: int


def _triple(params):
    import keras

    return keras.layers.Rescaling(3.0, name="tripled")


def _widen(params):
    import keras

    return keras.layers.Conv2D(params.filters, 1)


class OwnTypes:
    """Registered only in a registry of its own, never on the process's plugin manager."""

    @cnnbuild.hookimpl
    def register_layers(self, register):
        register("Triple", Triple, _triple, shape=lambda params, shape: cnnbuild.LayerShape(shape), augmentation=True)
        register(
            "Widen", Widen, _widen, shape=lambda params, shape: cnnbuild.LayerShape((*shape[:2], params.filters), shape[2] * params.filters + params.filters)
        )


SPEC = """
data: {type: digits, image_size: [8, 8], color_mode: grayscale}
augmentation:
  - {type: Pipeline, layers: [Triple, {type: RandomFlip, mode: horizontal}]}
model:
  layers:
    - {type: Widen, filters: 5}
    - Flatten
    - {type: Dense, units: auto}
"""


@pytest.fixture(scope="module")
def own() -> object:
    return make_registry(OwnTypes())


def test_a_spec_validated_with_its_own_registry_keeps_it(own, tmp_path: Path):
    assert "Widen" not in get_registry().layers
    spec = validate_source(parse_yaml(SPEC, "own.yaml"), own, base_dir=tmp_path)  # checks the graph and its shapes
    assert spec.registry is own and [node.type for node in spec.graph.nodes][0] == "Widen"
    changed = apply_to_spec(spec, ["model.layers[0].filters=7"])  # validated again, with the same types
    assert changed.registry is own and changed.model.layers[0].filters == 7
    diff = diff_specs(spec, changed)
    assert (diff.total_a, diff.total_b) == (1 * 5 + 5 + 8 * 8 * 5 * 10 + 10, 1 * 7 + 7 + 8 * 8 * 7 * 10 + 10)  # the ten digits


def test_the_model_and_a_pipeline_inside_it_are_built_with_the_spec_registry(own, tmp_path: Path):
    spec = validate_source(parse_yaml(SPEC.replace("augmentation:", "augmentation_placement: model\naugmentation:"), "own.yaml"), own, base_dir=tmp_path)
    model = cnnbuild.build_model(spec, include_augmentation=True)
    pipeline = model.layers[0]
    assert type(pipeline).__name__ == "Pipeline" and [layer.name for layer in pipeline.layers][0] == "tripled"
    assert model.count_params() == 1 * 5 + 5 + 8 * 8 * 5 * 10 + 10
