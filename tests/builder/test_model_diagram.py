"""`cnnbuild plot-model`: a diagram when pydot and Graphviz are there, a clear message when not."""

from __future__ import annotations

import shutil
import sys

import pytest
from click.testing import CliRunner

from cnnbuild.builder.model import diagram as model_diagram
from cnnbuild.cli import cli

from ..image_checks import assert_png

SPEC = "name: tiny\ndata: {type: digits, image_size: [8, 8]}\nmodel:\n  layers:\n    - {type: Conv2D, filters: 4, kernel_size: 3}\n    - Flatten\n    - {type: Dense, units: auto}\n"


def test_missing_pydot_and_graphviz_are_named_with_how_to_install(write_spec, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # import pydot now fails
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "model.png"
    result = CliRunner().invoke(cli, ["plot-model", str(write_spec(SPEC)), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "plot-model needs the pydot package (pip install pydot, or pip install 'cnnbuild[plot]') and "
        "Graphviz's dot program (apt-get install graphviz, brew install graphviz or conda install graphviz); "
        "without them, `cnnbuild summary SPEC` prints the same layers and shapes as text"
    )
    assert not out.exists()


def test_only_graphviz_missing(monkeypatch):
    pytest.importorskip("pydot", reason="pydot is not installed")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert model_diagram.missing_tools() == ["Graphviz's dot program (apt-get install graphviz, brew install graphviz or conda install graphviz)"]


@pytest.mark.skipif(bool(model_diagram.missing_tools()), reason="needs pydot and Graphviz: " + "; ".join(model_diagram.missing_tools()))
def test_diagram_is_drawn(write_spec, tmp_path):
    out = tmp_path / "diagram" / "model.png"
    result = CliRunner().invoke(cli, ["plot-model", str(write_spec(SPEC)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    assert_png(out, min_width=300, min_height=400)  # three layer boxes stacked top to bottom


def test_unknown_suffix_is_refused(write_spec, tmp_path):
    if model_diagram.missing_tools():
        pytest.skip("the suffix is checked after the tools")
    result = CliRunner().invoke(cli, ["plot-model", str(write_spec(SPEC)), "--out", str(tmp_path / "model.txt")])
    assert result.exit_code == 1 and "give a file ending in .png, .svg, .pdf or .dot" in result.output
