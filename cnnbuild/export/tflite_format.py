"""TFLite: TensorFlow's converter (through a SavedModel, as Keras's own LiteRT export does),
the four quantization modes, the metadata entry embedded in the flatbuffer; run with LiteRT
(:class:`TfliteModel`), which needs no TensorFlow."""

from __future__ import annotations

import logging
import math
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.formats import TFLITE
from cnnbuild.export.metadata import METADATA_KEY, ExportMetadata
from cnnbuild.export.packages import require
from cnnbuild.export.runtimes import ExportedModel, read_bytes, sidecar_metadata

log = logging.getLogger(__name__)

TFLITE_FILE_IDENTIFIER = b"TFL3"
#: TFLite's TensorType numbers -> dtype names (schema.fbs)
TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8", 10: "float64", 18: "bfloat16"}


class TfliteModel(ExportedModel):
    """LiteRT's interpreters, one per input shape seen lately.

    A new interpreter costs tens of milliseconds (XNNPACK packs the weights); resizing one that
    exists costs about one. So :meth:`warm` makes ``KEEP`` of them at start-up, and a new shape
    resizes a spare or the least recently used one. Together they hold inputs of at most
    ``KEEP_VALUES`` values (each holds its tensors: a float32 copy of its input at least), so a
    burst of large images does not leave its memory behind.
    """

    runtime = "LiteRT"
    KEEP = 4
    KEEP_VALUES = 8_000_000

    def __init__(self, path: Path, info: ExportMetadata, content: bytes) -> None:
        super().__init__(path, info)
        self.interpreter_class = require("ai_edge_litert.interpreter", "running a .tflite model").Interpreter
        self.delegate = True
        self.content = content
        self.interpreters: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.spares: list[Any] = []
        self.lock = threading.Lock()  # an interpreter is not thread-safe

    def warm(self) -> None:
        height, width = self.info.input.image_size
        super().warm()
        with self.lock:
            while len(self.interpreters) + len(self.spares) < self.KEEP:
                self.spares.append(self._made((1, height, width, self.info.input.channels)))

    def _interpreter(self, shape: tuple[int, ...]) -> Any:
        interpreter = self.interpreters.pop(shape, None)
        if interpreter is None:
            if self.spares:
                interpreter = self._resized(self.spares.pop(), shape)
            elif len(self.interpreters) >= self.KEEP:
                interpreter = self._resized(self.interpreters.popitem(last=False)[1], shape)
            else:
                interpreter = self._made(shape)
        self.interpreters[shape] = interpreter
        while len(self.interpreters) > 1 and sum(map(math.prod, self.interpreters)) > self.KEEP_VALUES:
            self.interpreters.popitem(last=False)  # the least recently used (never the one in hand: it is last)
        return interpreter

    def _made(self, shape: tuple[int, ...]) -> Any:
        try:
            return self._allocated(shape, self.delegate)
        except RuntimeError as exc:
            if not self.delegate:
                raise
            # XNNPACK refuses some int8 graphs (a squeeze-excitation block's broadcast multiply):
            # LiteRT's own kernels run them, slower
            log.warning("%s: XNNPACK cannot run this model (%s); using LiteRT's reference kernels", self.path.name, " ".join(str(exc).split())[:200])
            self.delegate = False
            self.runtime = "LiteRT (reference kernels; XNNPACK refused the model)"
            self.interpreters.clear()
            self.spares.clear()
            return self._allocated(shape, self.delegate)

    def _resized(self, interpreter: Any, shape: tuple[int, ...]) -> Any:
        try:
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape, strict=False)
            interpreter.allocate_tensors()
        except RuntimeError:
            return self._made(shape)
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
        padded = 1 << (count - 1).bit_length()  # batches of 1, 2, 4, 8, ...: few shapes to keep
        if padded != count:
            images = np.concatenate([images, np.zeros((padded - count, *images.shape[1:]), images.dtype)])
        with self.lock:
            interpreter = self._interpreter(tuple(images.shape))
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[:count].copy()


def convert(module: Any, info: ExportMetadata, quantize: str, folder: Path, calibration: list[Any]) -> None:
    """Write ``model.tflite`` (the metadata embedded) and its sidecar ``model.tflite.json`` into ``folder``."""

    def representative() -> Iterator[Any]:
        for image in calibration:
            yield [image[None]]

    path = folder / TFLITE.model_file
    path.write_bytes(with_metadata(to_flatbuffer(module, quantize, representative), info))
    path.with_name(path.name + ".json").write_text(info.to_json(indent=1), encoding="utf-8")  # for readers without a flatbuffer library


def open(path: Path) -> TfliteModel:
    """The .tflite model at ``path`` with LiteRT; ExportError when LiteRT cannot load it."""
    from cnnbuild.export.native_output import quiet_native_output

    content = read_bytes(path)
    interpreter_class = require("ai_edge_litert.interpreter", "running a .tflite model").Interpreter
    try:
        with quiet_native_output():
            interpreter_class(model_content=content)
        info = read_metadata(content, str(path))
    except ExportError:
        raise
    except Exception as exc:  # a file that is not a TFLite flatbuffer
        raise ExportError(f"{path}: not a TFLite model LiteRT can load: {' '.join(str(exc).split())[:300]}") from exc
    return TfliteModel(path, info or sidecar_metadata(path), content)


def to_flatbuffer(module: Any, quantize: str, calibration: Callable[[], Iterator[Any]] | None = None) -> bytes:
    """The serving module as a .tflite flatbuffer, quantized as asked (int8 calibrates on ``calibration()``)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="cnnbuild-tflite-") as folder:
        # from_concrete_functions leaves Keras 3 weights as resource variables; a SavedModel freezes them
        tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            converter.representative_dataset = calibration
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()


def _schema() -> Any:
    return require("ai_edge_litert.schema_py_generated", "reading and writing TFLite metadata")


def with_metadata(content: bytes, info: ExportMetadata) -> bytes:
    """``content`` with the metadata document as the flatbuffer's ``cnnbuild`` metadata entry
    (where TFLite keeps model metadata; any flatbuffer reader finds it, and LiteRT ignores it)."""
    import flatbuffers
    import numpy as np

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(info.to_json().encode("utf-8"), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [item for item in (model.metadata or []) if item.name not in (METADATA_KEY, METADATA_KEY.encode())] + [entry]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_FILE_IDENTIFIER)
    return bytes(builder.Output())


def _model(content: bytes) -> Any:
    return _schema().Model.GetRootAsModel(content, 0)


def read_metadata(content: bytes, where: str) -> ExportMetadata | None:
    """The embedded metadata document, or None when the file has none."""
    model = _model(content)
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name() and entry.Name().decode("utf-8", "replace") == METADATA_KEY:
            return ExportMetadata.from_json(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes(), where)
    return None


def quantization_facts(path: Path) -> dict[str, Any]:
    """``weights``: how many weight values (constant tensors) are stored in each dtype;
    ``int8_activations``: how many computed tensors are int8 (none unless fully quantized)."""
    model = _model(path.read_bytes())
    weights: dict[str, int] = {}
    activations = 0
    for graph_index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(graph_index)
        for tensor_index in range(graph.TensorsLength()):
            tensor = graph.Tensors(tensor_index)
            buffer = model.Buffers(tensor.Buffer())
            name = TENSOR_TYPES.get(tensor.Type(), f"type{tensor.Type()}")
            if buffer is None or buffer.DataLength() == 0:  # computed, not stored
                activations += name == "int8"
                continue
            elements = 1
            for dim in tensor.ShapeAsNumpy() if tensor.ShapeLength() else []:
                elements *= int(dim)
            weights[name] = weights.get(name, 0) + elements
    return {"weights": weights, "int8_activations": activations}
