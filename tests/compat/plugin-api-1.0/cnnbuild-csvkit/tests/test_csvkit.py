"""cnnbuild-csvkit's own tests: the shape function, the CSV source's classes, specs using the types."""

from __future__ import annotations

import textwrap

import pytest

import cnnbuild
from cnnbuild.plugins.manager import get_plugin_manager
from cnnbuild_csvkit import plugin

SPEC = """
name: csvkit
seed: 1
data: {type: csv_images, csv: images.csv, image_size: [16, 16]}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: ResidualConv2D, filters: 8}
    - GlobalAveragePooling2D
    - {type: Dense, units: auto}
train:
  callbacks: [{type: ProgressLog}]
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "images.csv").write_text("filename,label\na.png,cat\nb.png,dog\nc.png,cat\n")
    return tmp_path


def test_residual_shape_counts_both_convolutions_and_the_projection():
    shape = plugin.residual_shape(plugin.ResidualParams(filters=8), (16, 16, 3))
    assert shape == cnnbuild.LayerShape((16, 16, 8), (9 * 3 * 8 + 8) + (9 * 8 * 8 + 8) + (3 * 8 + 8))
    assert plugin.residual_shape(plugin.ResidualParams(filters=3), (16, 16, 3)).params == 2 * (9 * 3 * 3 + 3)


def test_residual_shape_refuses_a_flat_input():
    with pytest.raises(cnnbuild.ShapeError):
        plugin.residual_shape(plugin.ResidualParams(filters=8), (10,))


def test_class_names_come_from_the_csv(folder):
    params = plugin.CsvImagesParams(csv="images.csv")
    context = cnnbuild.DataContext(base_dir=folder, seed=1, work_dir=folder / "work", shard=(0, 1))
    assert plugin.csv_class_names(params, context) == ["cat", "dog"]


def test_a_spec_with_the_plugin_types_validates(folder):
    (folder / "spec.yaml").write_text(SPEC)
    spec = cnnbuild.load_spec(folder / "spec.yaml")
    assert spec.data.type == "csv_images" and spec.model.layers[1].filters == 8


def test_a_misspelt_parameter_is_an_error_at_its_line(folder):
    (folder / "spec.yaml").write_text(SPEC.replace("filters: 8", "filter: 8"))
    with pytest.raises(cnnbuild.SpecError) as error:
        cnnbuild.load_spec(folder / "spec.yaml")
    assert "model.layers[1].filter" in str(error.value)


class Extra:
    @cnnbuild.hookimpl
    def register_layers(self, register):
        register("WideResidual", plugin.ResidualParams, plugin.residual, shape=plugin.residual_shape)


def test_a_test_plugin_registered_on_the_plugin_manager_is_usable(folder):
    pm = get_plugin_manager()
    pm.register(Extra(), name="csvkit-extra")
    try:
        (folder / "spec.yaml").write_text(textwrap.dedent(SPEC).replace("ResidualConv2D", "WideResidual"))
        assert cnnbuild.load_spec(folder / "spec.yaml").model.layers[1].type == "WideResidual"
    finally:
        pm.unregister(pm.get_plugin("csvkit-extra"))
