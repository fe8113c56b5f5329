"""The export formats, one row each.

A :class:`Format` says what ``cnnbuild export --format`` accepts, which module converts to it
and runs it, what the export folder holds, which quantization modes it takes, and which packages
exporting and running it need. The CLI's choices, the request check (made before TensorFlow
loads), finding an export on disk, opening it and the metadata all read this table, so a new
format is one row here and its own module.

The module a row names provides::

    convert(module, info, quantize, folder, calibration) -> None   # write the model into folder
    open(path) -> ExportedModel                                    # the model at path with its runtime
    quantization_facts(path) -> dict                               # optional: weights' dtypes, int8 activations

This module imports nothing heavy: ``--help`` and every check before an export read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from cnnbuild.errors import ExportError

#: a package a step needs: (import name, what needs it, completing "... needs")
Need = tuple[str, str]


@dataclass(frozen=True)
class Format:
    """One export format."""

    name: str  # --format value and the metadata's "format"
    title: str  # in messages
    module: str  # the converter and runtime module (see the module docstring)
    #: the file that marks an export folder of this format; for a SavedModel the model is the folder itself
    model_file: str
    #: the suffix of a model file a user may name directly; None when the model is a folder
    suffix: str | None
    runtime: str  # what runs it (predict, serve, the parity check)
    quantize: tuple[str, ...]  # the --quantize modes it takes, "none" first
    export_needs: tuple[Need, ...] = ()
    #: packages a quantization mode needs besides ``export_needs``
    quantize_needs: dict[str, tuple[Need, ...]] = field(default_factory=dict)
    #: packages predict and serve need to run an export of this format
    run_needs: tuple[Need, ...] = ()
    #: running it needs TensorFlow (predict and serve of the other formats never import it)
    tensorflow: bool = False
    #: what cnnbuild 0.x exports of this format wrote (names, or folders ending in "/"), for an
    #: export.json that lists no files: those are replaced, anything else is kept
    written: tuple[str, ...] = ()

    @property
    def model_is_folder(self) -> bool:
        return self.suffix is None

    def converter(self) -> ModuleType:
        """The format's module (imported now: it may import its packages lazily, never TensorFlow at import)."""
        return importlib.import_module(self.module)


SAVED_MODEL = Format(
    "saved_model", "SavedModel", "cnnbuild.export.saved_model_format", model_file="saved_model.pb", suffix=None,
    runtime="TensorFlow (SavedModel)", quantize=("none",), tensorflow=True,
    written=("saved_model.pb", "fingerprint.pb", "variables/", "assets/"),
)  # fmt: skip
TFLITE = Format(
    "tflite", "TFLite", "cnnbuild.export.tflite_format", model_file="model.tflite", suffix=".tflite", runtime="LiteRT",
    quantize=("none", "float16", "dynamic", "int8"),
    export_needs=(("ai_edge_litert.interpreter", "TFLite export (its parity check runs the model with LiteRT)"),),
    run_needs=(("ai_edge_litert.interpreter", "running a .tflite model"),),
    written=("model.tflite", "model.tflite.json"),
)  # fmt: skip
ONNX = Format(
    "onnx", "ONNX", "cnnbuild.export.onnx_format", model_file="model.onnx", suffix=".onnx", runtime="ONNX Runtime",
    quantize=("none", "float16", "dynamic", "int8"),
    export_needs=(("tf2onnx", "ONNX export"), ("onnx", "ONNX export"), ("onnxruntime", "ONNX export (its parity check runs the model with ONNX Runtime)")),
    quantize_needs={"float16": (("onnxconverter_common", "float16 ONNX export"),)},
    run_needs=(("onnxruntime", "running an .onnx model"),),
    written=("model.onnx",),
)  # fmt: skip

FORMATS: tuple[Format, ...] = (SAVED_MODEL, TFLITE, ONNX)
BY_NAME = {format.name: format for format in FORMATS}
BY_SUFFIX = {format.suffix: format for format in FORMATS if format.suffix}
#: every --quantize mode some format takes, in the order the rows list them
QUANTIZE_MODES: tuple[str, ...] = tuple(dict.fromkeys(mode for format in FORMATS for mode in format.quantize))


def get(name: str) -> Format:
    """The row named ``name``; ExportError listing the formats when there is none."""
    try:
        return BY_NAME[name]
    except KeyError as exc:
        raise ExportError(f"unknown export format {name!r}; choose one of {', '.join(BY_NAME)}") from exc


def check_request(name: str, quantize: str) -> Format:
    """The row for ``--format name --quantize quantize``, refusing an unknown format or mode, a
    combination the format does not take, or a missing package (found without importing it, so
    before TensorFlow loads)."""
    from cnnbuild.export.packages import check_installed

    format = get(name)
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown --quantize {quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if quantize not in format.quantize:
        others = [other.name for other in FORMATS if quantize in other.quantize]
        if format.quantize == ("none",):
            raise ExportError(f"a {format.title} cannot be quantized (--quantize {quantize}); use {' or '.join(f'--format {name}' for name in others)} for {quantize}")
        raise ExportError(f"--format {format.name} takes --quantize {', '.join(format.quantize)}, not {quantize}")
    for module, purpose in (*format.export_needs, *format.quantize_needs.get(quantize, ())):
        check_installed(module, purpose)
    return format
