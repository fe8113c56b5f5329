"""Run an exported model with its own runtime: LiteRT for .tflite, ONNX Runtime for .onnx,
TensorFlow for a SavedModel, and the in-memory serving graph for a run directory.

Every runtime has the same call: uint8 ``(N, H, W, C)`` images -> float32 ``(N, classes)`` probabilities.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.metadata import INPUT_NAME, OUTPUT_NAME, SAVED_MODEL_ASSET, ExportMetadata
from cnnbuild.export.packages import require

log = logging.getLogger(__name__)

class ExportedModel:
    """A model that takes raw uint8 images and returns class probabilities; ``info`` says what it is."""

    runtime = ""

    def __init__(self, path: Path, info: ExportMetadata) -> None:
        self.path = path
        self.info = info

    def __call__(self, images: Any) -> Any:
        raise NotImplementedError

    def size_bytes(self) -> int:
        """The bytes a deployment copies: the file, or every file of a SavedModel folder."""
        if self.path.is_dir():
            return sum(item.stat().st_size for item in self.path.rglob("*") if item.is_file())
        return self.path.stat().st_size


class TfliteModel(ExportedModel):
    """LiteRT's interpreter, one per input shape seen lately (resizing one reallocates all its tensors)."""

    runtime = "LiteRT"
    KEEP = 8

    def __init__(self, path: Path, info: ExportMetadata, content: bytes) -> None:
        super().__init__(path, info)
        self.interpreter_class = require("ai_edge_litert.interpreter", "running a .tflite model").Interpreter
        self.delegate = True
        self.content = content
        self.interpreters: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.lock = threading.Lock()  # an interpreter is not thread-safe

    def _interpreter(self, shape: tuple[int, ...]) -> Any:
        interpreter = self.interpreters.pop(shape, None)
        if interpreter is None:
            try:
                interpreter = self._allocated(shape, self.delegate)
            except RuntimeError as exc:
                if not self.delegate:
                    raise
                # XNNPACK refuses some int8 graphs (a squeeze-excitation block's broadcast multiply):
                # LiteRT's own kernels run them, slower
                log.warning("%s: XNNPACK cannot run this model (%s); using LiteRT's reference kernels", self.path.name, " ".join(str(exc).split())[:200])
                self.delegate = False
                self.runtime = "LiteRT (reference kernels; XNNPACK refused the model)"
                self.interpreters.clear()
                interpreter = self._allocated(shape, self.delegate)
            if len(self.interpreters) >= self.KEEP:
                self.interpreters.popitem(last=False)
        self.interpreters[shape] = interpreter
        return interpreter

    def _allocated(self, shape: tuple[int, ...], delegate: bool) -> Any:
        from ai_edge_litert.interpreter import OpResolverType

        from cnnbuild.export.native_output import quiet_native_output

        resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        with quiet_native_output():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter = self.interpreter_class(model_content=self.content, experimental_op_resolver_type=resolver)
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape, strict=False)
            interpreter.allocate_tensors()
        return interpreter

    def __call__(self, images: Any) -> Any:
        import numpy as np

        count = len(images)
        padded = 1 << (count - 1).bit_length()  # batches of 1, 2, 4, 8, ...: few interpreters to keep
        if padded != count:
            images = np.concatenate([images, np.zeros((padded - count, *images.shape[1:]), images.dtype)])
        with self.lock:
            interpreter = self._interpreter(tuple(images.shape))
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[:count].copy()


class OnnxModel(ExportedModel):
    runtime = "ONNX Runtime"

    def __init__(self, path: Path, info: ExportMetadata, session: Any) -> None:
        super().__init__(path, info)
        self.session = session

    def __call__(self, images: Any) -> Any:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: images})[0]


class SavedModelModel(ExportedModel):
    runtime = "TensorFlow (SavedModel)"

    def __init__(self, path: Path, info: ExportMetadata) -> None:
        super().__init__(path, info)
        import tensorflow as tf

        self.tf = tf
        self.function = tf.saved_model.load(str(path)).signatures["serving_default"]

    def __call__(self, images: Any) -> Any:
        return self.function(**{INPUT_NAME: self.tf.constant(images)})[OUTPUT_NAME].numpy()


class KerasModel(ExportedModel):
    """A run's Keras model inside the same serving graph the exports are made from."""

    runtime = "TensorFlow (Keras model)"

    def __init__(self, path: Path, info: ExportMetadata, module: Any) -> None:
        super().__init__(path, info)
        self.module = module

    def __call__(self, images: Any) -> Any:
        return self.module(images)


def open_tflite(path: Path) -> TfliteModel:
    from cnnbuild.export.tflite_format import read_metadata

    content = _read_bytes(path)
    interpreter_class = require("ai_edge_litert.interpreter", "running a .tflite model").Interpreter
    from cnnbuild.export.native_output import quiet_native_output

    try:
        with quiet_native_output():
            interpreter_class(model_content=content)
        info = read_metadata(content, str(path))
    except ExportError:
        raise
    except Exception as exc:  # a file that is not a TFLite flatbuffer
        raise ExportError(f"{path}: not a TFLite model LiteRT can load: {' '.join(str(exc).split())[:300]}") from exc
    return TfliteModel(path, info or _sidecar(path), content)


def open_onnx(path: Path) -> OnnxModel:
    from cnnbuild.export.metadata import METADATA_KEY

    ort = require("onnxruntime", "running an .onnx model")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own exception types for bad files
        raise ExportError(f"{path}: ONNX Runtime cannot load it: {' '.join(str(exc).split())[:300]}") from exc
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if text is None:
        raise ExportError(f"{path}: no cnnbuild metadata in its metadata_props; export the model with cnnbuild export")
    return OnnxModel(path, ExportMetadata.from_json(text, str(path)), session)


def open_saved_model(path: Path) -> SavedModelModel:
    asset = path / "assets" / SAVED_MODEL_ASSET
    if not asset.is_file():
        raise ExportError(f"{path}: assets/{SAVED_MODEL_ASSET} is missing: not a SavedModel made by cnnbuild export")
    info = ExportMetadata.from_json(asset.read_bytes(), str(asset))
    from cnnbuild.builder.runtime import import_tensorflow

    import_tensorflow()
    return SavedModelModel(path, info)


def _sidecar(path: Path) -> ExportMetadata:
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise ExportError(f"{path}: no cnnbuild metadata inside it and no {sidecar.name} beside it; export the model with cnnbuild export")
    return ExportMetadata.from_json(sidecar.read_bytes(), str(sidecar))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror or exc}") from exc
