"""The example third-party package works from YAML through its entry point (CI installs it)."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from ..conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "plugins" / "cnnbuild-example" / "shapes.yaml"

try:
    metadata.distribution("cnnbuild-example")
    INSTALLED = True
except metadata.PackageNotFoundError:
    INSTALLED = False

needs_plugin = pytest.mark.skipif(
    not INSTALLED, reason="install the example plugin first: pip install -e examples/plugins/cnnbuild-example (.ci/run does)"
)


@needs_plugin
def test_listed_with_distribution_and_registrations():
    listed = json.loads(run_cli("plugins", "--json").stdout)
    example = next(p for p in listed["plugins"] if p["name"] == "example")
    assert example["distribution"] == "cnnbuild-example"
    assert example["version"] == "0.1.0"
    assert example["registers"] == {"layer": ["SqueezeExcitation2D"], "data source": ["synthetic_shapes", "json_manifest"], "callback": ["TimeLimit"]}


@needs_plugin
def test_plugin_types_validate_without_tensorflow(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.read_text().replace("ratio: 4", "ratio: 0"))
    script = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from cnnbuild.cli import main\n"
        f"main(['validate', {str(SPEC)!r}, {str(bad)!r}])\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"{SPEC}: ok" in result.stdout
    assert "model.layers[2].ratio: must be greater than or equal to 1, got 0" in result.stderr


@needs_plugin
def test_trains_and_predicts_with_plugin_types(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("run", str(SPEC), "--output", str(run_dir), "--set", "train.epochs=1", "--set", "data.per_class=16", "--set", "data.image_size=[16,16]")
    assert result.returncode == 0, result.stderr
    summary = (run_dir / "summary.txt").read_text()
    assert "SqueezeExcitation2D" in summary
    assert json.loads((run_dir / "class_names.json").read_text()) == ["circle", "square", "triangle"]
    image = tmp_path / "shape.png"
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 10, 10)).save(image)
    predicted = run_cli("predict", str(run_dir), str(image), "--json", "--top-k", "3")
    assert predicted.returncode == 0, predicted.stderr
    rows = json.loads(predicted.stdout)
    assert {p["class"] for p in rows[0]["predictions"]} == {"circle", "square", "triangle"}
    assert sum(p["probability"] for p in rows[0]["predictions"]) == pytest.approx(1.0, abs=1e-4)
