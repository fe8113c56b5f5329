"""TFLite: TensorFlow's converter (through a SavedModel, as Keras's own LiteRT export does),
the four quantization modes, and the metadata entry embedded in the flatbuffer."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from cnnbuild.export.metadata import METADATA_KEY, ExportMetadata
from cnnbuild.export.packages import require

TFLITE_FILE_IDENTIFIER = b"TFL3"
#: TFLite's TensorType numbers -> dtype names (schema.fbs)
TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8", 10: "float64", 18: "bfloat16"}


def convert(module: Any, quantize: str, calibration: Callable[[], Iterator[Any]] | None = None) -> bytes:
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


def quantization_facts(content: bytes) -> dict[str, Any]:
    """``weights``: how many weight values (constant tensors) are stored in each dtype;
    ``int8_activations``: how many computed tensors are int8 (none unless fully quantized)."""
    model = _model(content)
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
