"""``cnnbuild new-plugin NAME``: a plugin package that installs and passes its own tests as written.

It holds one of each thing a plugin adds: a layer with its shape function and Keras class, a
data source built on the file-list helper (classes from a pattern in the file names), a callback
writing a file inside the run directory, and tests using ``cnnbuild.testing``.
"""

from __future__ import annotations

import re
from pathlib import Path

from cnnbuild.contracts.plugin_api import PLUGIN_API_VERSION, PLUGIN_API_VERSION_INFO
from cnnbuild.errors import CnnbuildError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def names(name: str) -> dict[str, str]:
    """The names a plugin called ``name`` uses: distribution, module, entry point, type prefixes."""
    if not NAME_PATTERN.match(name):
        raise CnnbuildError(f"plugin name {name!r}: use lower-case letters and digits, words joined by '-' (such as 'birds' or 'medical-scans')")
    camel = "".join(part.capitalize() for part in name.split("-"))
    return {
        "name": name, "distribution": f"cnnbuild-{name}", "module": f"cnnbuild_{name.replace('-', '_')}", "camel": camel, "snake": name.replace("-", "_"),
        "api": f">={PLUGIN_API_VERSION},<{PLUGIN_API_VERSION_INFO[0] + 1}",
    }  # fmt: skip


PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "A cnnbuild plugin: the {camel}ChannelScale layer, the {snake}_files data source and the {camel}JsonLog callback"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["cnnbuild"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points.cnnbuild]
{snake} = "{module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]
'''

README = '''# {distribution}

A [cnnbuild](https://pypi.org/project/cnnbuild/) plugin, written by `cnnbuild new-plugin {name}`. It adds:

- the layer `{camel}ChannelScale`: multiplies each channel by a learned weight;
- the data source `{snake}_files`: a flat folder of images whose class is the start of the file
  name (`cat_0001.jpg` is a `cat`), read with a regular expression (`pattern`);
- the callback `{camel}JsonLog`: every epoch's metrics as a JSON line in the run directory.

```console
$ pip install -e '.[test]'
$ pytest
$ cnnbuild plugins            # lists {snake} and what it registers
```

Change what you need: `src/{module}/plugin.py` registers everything; `layers.py` holds the Keras
classes (imported only when a model is built or loaded, so cnnbuild stays fast). The hooks and
what they are given are described in cnnbuild's docs/plugins.md.
'''

PLUGIN = '''"""The {distribution} plugin: what the ``cnnbuild`` entry point names. No TensorFlow is imported here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

import cnnbuild

#: The cnnbuild plugin API versions this plugin is written for (cnnbuild's docs/plugins.md, "Versions").
CNNBUILD_PLUGIN_API = "{api}"


# -- a layer --------------------------------------------------------------------------------------------
class ChannelScaleParams(cnnbuild.Params):
    initial: cnnbuild.Number = Field(1.0, description="the weights' starting value")


def channel_scale(params: ChannelScaleParams) -> Any:
    from {module}.layers import ChannelScale

    return ChannelScale(initial=params.initial)


def channel_scale_shape(params: ChannelScaleParams, shape: tuple[int, ...]) -> cnnbuild.LayerShape:
    return cnnbuild.LayerShape(shape, params=shape[-1])  # one weight per channel


# -- a data source --------------------------------------------------------------------------------------------
class FilesParams(cnnbuild.DataParams):
    path: cnnbuild.SpecPath = Field(description="a folder of images named CLASS_anything.jpg")
    pattern: str = Field(r"^([^_]+)_", description="a regular expression whose first group is the class, matched at the start of the file name")
    class_names: list[str] | None = Field(None, min_length=2)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            if re.compile(value).groups < 1:
                raise ValueError("needs a group, such as ^([^_]+)_, for the class")
        except re.error as exc:
            raise ValueError(f"not a regular expression: {{exc}}") from None
        return value


def _pairs(params: FilesParams, context: cnnbuild.DataContext) -> tuple[list[tuple[Path, str]], list[cnnbuild.SkippedFile]]:
    folder = context.resolve_path(params.path)
    if not folder.is_dir():
        raise cnnbuild.DataNotFound(f"{{folder}}: folder does not exist; set data.path")
    pairs, skipped = [], []
    for path in sorted(folder.iterdir()):
        match = re.match(params.pattern, path.name)
        if match and path.is_file():
            pairs.append((path, match.group(1)))
        else:
            skipped.append(cnnbuild.SkippedFile(str(path), f"the name does not match data.pattern {{params.pattern!r}}; not used"))
    return pairs, skipped


def load_files(params: FilesParams, context: cnnbuild.DataContext) -> cnnbuild.Datasets:
    pairs, skipped = _pairs(params, context)
    return cnnbuild.file_list_source(pairs, params, context, class_names=params.class_names, skipped=skipped, where=str(context.resolve_path(params.path)))


def files_class_names(params: FilesParams, context: cnnbuild.DataContext) -> list[str]:
    return params.class_names or sorted({{name for _, name in _pairs(params, context)[0]}})


# -- a callback -------------------------------------------------------------------------------------------------
class JsonLogParams(cnnbuild.Params):
    filename: cnnbuild.RunPath = "epochs.jsonl"


def json_log(params: JsonLogParams, context: cnnbuild.CallbackContext) -> Any:
    import keras

    target = context.run_dir / params.filename

    class JsonLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a", encoding="utf-8") as out:
                out.write(json.dumps({{"epoch": epoch + 1, **{{key: float(value) for key, value in (logs or {{}}).items()}}}}) + "\\n")

    return JsonLog()


# -- the hooks ------------------------------------------------------------------------------------------------------
@cnnbuild.hookimpl
def register_layers(register):
    register("{camel}ChannelScale", ChannelScaleParams, channel_scale, shape=channel_scale_shape)


@cnnbuild.hookimpl
def register_data_sources(register):
    register("{snake}_files", FilesParams, load_files, class_names=files_class_names)


@cnnbuild.hookimpl
def register_callbacks(register):
    register("{camel}JsonLog", JsonLogParams, json_log)


@cnnbuild.hookimpl
def keras_objects():
    from {module}.layers import ChannelScale

    return {{"ChannelScale": ChannelScale}}
'''

LAYERS = '''"""The Keras classes of the {distribution} plugin (imported only when a model is built or loaded)."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="{module}")
class ChannelScale(keras.layers.Layer):
    """Multiplies each channel by a learned weight."""

    def __init__(self, initial: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial = initial

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.initial), name="scale")

    def call(self, inputs: Any) -> Any:
        return inputs * self.scale

    def get_config(self) -> dict[str, Any]:
        return {{**super().get_config(), "initial": self.initial}}
'''

TESTS = '''"""The plugin's types are validated, built and trained like cnnbuild's own (fixtures from cnnbuild.testing)."""

from __future__ import annotations

import json

from cnnbuild.testing import assert_shape_matches_keras, write_images

SPEC = """
seed: 1
data: {{type: {snake}_files, path: FOLDER, image_size: [16, 16], batch_size: 4}}
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 4, kernel_size: 3}}
    - {{type: {camel}ChannelScale}}
    - GlobalAveragePooling2D
    - {{type: Dense, units: auto}}
train: {{epochs: 2, callbacks: [{{type: {camel}JsonLog}}]}}
"""


def test_the_layer_shape_function_matches_keras():
    assert_shape_matches_keras("{camel}ChannelScale", {{"initial": 0.5}}, (8, 8, 6))


def test_a_misspelt_parameter_is_located(cnnbuild_spec_errors):
    errors = cnnbuild_spec_errors("data: {{type: digits}}\\nmodel: {{layers: [{{type: {camel}ChannelScale, intial: 2}}, Flatten, {{type: Dense, units: auto}}]}}\\n")
    assert len(errors) == 1 and "model.layers[0].intial: unknown key; did you mean 'initial'?" in errors[0]


def test_classes_come_from_file_names_and_a_run_trains(tmp_path, cnnbuild_run_spec):
    classes = write_images(tmp_path / "sorted", {{"cat": 6, "dog": 6}})
    flat = tmp_path / "flat"
    flat.mkdir()
    for image in classes.rglob("*.png"):
        image.rename(flat / image.name)  # cat_000.png, dog_000.png, ...
    (flat / "notes.txt").write_text("not an image")
    result = cnnbuild_run_spec(SPEC.replace("FOLDER", json.dumps(str(flat))))
    assert result.completed and result.class_names == ["cat", "dog"]
    assert any(item["path"].endswith("notes.txt") for item in result.skipped)
    lines = (result.run_dir / "epochs.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
'''


def new_plugin(name: str, parent: Path) -> Path:
    """Write the package ``cnnbuild-NAME`` into ``parent`` and return its folder; an existing folder is refused."""
    values = names(name)
    root = Path(parent) / values["distribution"]
    if root.exists():
        raise CnnbuildError(f"{root}: already exists; choose another name or folder")
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{values['module']}/__init__.py": '"""The {distribution} cnnbuild plugin."""\n',
        f"src/{values['module']}/plugin.py": PLUGIN,
        f"src/{values['module']}/layers.py": LAYERS,
        "tests/test_plugin.py": TESTS,
    }
    for relative, template in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.format(**values), encoding="utf-8")
    return root
