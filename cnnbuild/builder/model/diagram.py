"""``cnnbuild plot-model``: a picture of the layer stack with output shapes, drawn by Keras and Graphviz."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from cnnbuild.errors import CnnbuildError

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


class MissingToolError(CnnbuildError):
    """A program or package the diagram needs is not installed."""


def missing_tools() -> list[str]:
    """What ``keras.utils.plot_model`` needs and this machine lacks, each with how to install it."""
    missing = []
    try:
        import pydot  # noqa: F401
    except ImportError:
        missing.append("the pydot package (pip install pydot, or pip install 'cnnbuild[plot]')")
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot program (apt-get install graphviz, brew install graphviz or conda install graphviz)")
    return missing


def plot_model(spec: Spec, out: str | Path, *, num_classes: int | None = None, dpi: int = 96) -> Path:
    """Draw the spec's model (layer names, types, output shapes, activations) to ``out``;
    the format follows the suffix (.png, .svg, .pdf). Returns the path written."""
    missing = missing_tools()
    if missing:
        raise MissingToolError(f"plot-model needs {' and '.join(missing)}; without them, `cnnbuild summary SPEC` prints the same layers and shapes as text")
    from cnnbuild.builder.model.build import build_model
    from cnnbuild.builder.runtime import import_tensorflow
    from cnnbuild.spec.labels import model_class_count

    num_classes = model_class_count(spec, num_classes)
    import_tensorflow()
    import keras

    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf", ".dot"):
        raise CnnbuildError(f"{out}: give a file ending in .png, .svg, .pdf or .dot")
    model = build_model(spec, num_classes, load_weights=False)  # a diagram needs no pretrained weights
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        keras.utils.plot_model(model, to_file=str(out), show_shapes=True, show_dtype=False, show_layer_names=True, show_layer_activations=True, dpi=dpi)
    except OSError as exc:
        raise CnnbuildError(f"cannot write {out}: {exc.strerror or exc}") from exc
    if not out.exists():
        raise CnnbuildError(f"{out}: Keras did not write the diagram; check that Graphviz's dot program runs (dot -V)")
    return out
