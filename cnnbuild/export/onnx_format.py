"""ONNX: tf2onnx from the serving graph; float16 with onnxconverter-common, dynamic and int8 with
ONNX Runtime's quantizers; the metadata document in ``metadata_props``; run with ONNX Runtime
(:class:`OnnxModel`), which needs no TensorFlow."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cnnbuild.errors import ExportError
from cnnbuild.export.formats import ONNX
from cnnbuild.export.metadata import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, ExportMetadata
from cnnbuild.export.packages import require
from cnnbuild.export.runtimes import ExportedModel

#: tf2onnx's default, tried with every quantizer here (21 is not supported by tf2onnx 1.17)
OPSET = 15
#: ONNX TensorProto data types -> dtype names
TENSOR_TYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 10: "float16", 11: "float64", 16: "bfloat16"}


class OnnxModel(ExportedModel):
    """An ONNX Runtime session on the CPU."""

    runtime = "ONNX Runtime"

    def __init__(self, path: Path, info: ExportMetadata, session: Any) -> None:
        super().__init__(path, info)
        self.session = session

    def __call__(self, images: Any) -> Any:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: images})[0]


def convert(module: Any, info: ExportMetadata, quantize: str, folder: Path, calibration: Iterable[Any] = ()) -> None:
    """Write the serving module to ``folder/model.onnx``, quantized as asked, with the metadata in ``metadata_props``."""
    tf2onnx = require("tf2onnx", "ONNX export")
    onnx = require("onnx", "ONNX export")
    for name in ("tf2onnx", "onnxruntime", "onnxconverter_common"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # every step at INFO; unsupported ops at ERROR, reported below
    proto, _ = tf2onnx.convert.from_function(module.serve, input_signature=list(module.serve.input_signature), opset=OPSET)
    # tf2onnx logs an op it cannot convert and leaves it in the graph, where ONNX Runtime refuses it
    unknown = sorted({node.op_type for node in proto.graph.node if not onnx.defs.has(node.op_type, node.domain or "")})
    if unknown:
        raise ValueError(f"tf2onnx has no ONNX equivalent for the TensorFlow op(s) {', '.join(unknown)}")
    _name_dimensions(proto)
    with tempfile.TemporaryDirectory(prefix="cnnbuild-onnx-") as scratch:
        plain = Path(scratch) / "float.onnx"
        onnx.save(proto, str(plain))
        if quantize == "none":
            final = proto
        elif quantize == "float16":
            final = _float16(proto)
        else:
            target = Path(scratch) / f"{quantize}.onnx"
            _quantize(plain, target, quantize, calibration, Path(scratch))
            final = onnx.load(str(target))
    set_metadata(final, info)
    onnx.save(final, str(folder / ONNX.model_file))


def open(path: Path) -> OnnxModel:
    """The .onnx model at ``path`` in an ONNX Runtime session; ExportError when it cannot be loaded."""
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


def _name_dimensions(proto: Any) -> None:
    """batch, height, width instead of tf2onnx's unk__N names (the channels stay fixed)."""
    for value in proto.graph.input:
        if value.name == INPUT_NAME:
            for dim, name in zip(value.type.tensor_type.shape.dim, ("batch", "height", "width"), strict=False):  # four dimensions, the last (channels) unnamed
                dim.dim_param = name
    for value in proto.graph.output:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"


def _float16(proto: Any) -> Any:
    float16 = require("onnxconverter_common.float16", "float16 ONNX export")
    # The uint8 -> float Cast nodes keep their target type while their outputs are retyped
    # float16, which ONNX Runtime refuses; so they stay float32 (op_block_list=["Cast"] hangs).
    casts = [node.name for node in proto.graph.node if node.op_type == "Cast"]
    return float16.convert_float_to_float16(proto, keep_io_types=True, node_block_list=casts)


def _quantize(source: Path, target: Path, quantize: str, calibration: Iterable[Any], folder: Path) -> None:
    quantization = require("onnxruntime.quantization", f"{quantize} ONNX quantization")
    if quantize == "dynamic":
        quantization.quantize_dynamic(str(source), str(target), weight_type=quantization.QuantType.QInt8)
        return
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Images(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            image = next(self.items, None)
            return None if image is None else {INPUT_NAME: image[None]}

    prepared = folder / "prepared.onnx"
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)  # symbolic inference needs sympy; ONNX's own is enough here
    quantization.quantize_static(
        str(prepared), str(target), Images(), quant_format=quantization.QuantFormat.QDQ,
        activation_type=quantization.QuantType.QInt8, weight_type=quantization.QuantType.QInt8,
    )  # fmt: skip


def set_metadata(proto: Any, info: ExportMetadata) -> None:
    onnx = require("onnx", "ONNX export")
    props = {entry.key: entry.value for entry in proto.metadata_props}
    props.update({METADATA_KEY: info.to_json(), "class_names": json.dumps(info.class_names)})
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = f"{info.model_name} (run {info.run_id}), exported by {info.producer}: uint8 images of any size in, class probabilities out"


def quantization_facts(path: Path) -> dict[str, Any]:
    """``weights``: how many weight values (initializers) are stored in each dtype;
    ``int8_activations``: how many QuantizeLinear nodes quantize computed values."""
    onnx = require("onnx", "checking an ONNX export")
    graph = onnx.load(str(path)).graph
    weights: dict[str, int] = {}
    for tensor in graph.initializer:
        elements = 1
        for dim in tensor.dims:
            elements *= int(dim)
        name = TENSOR_TYPES.get(tensor.data_type, f"type{tensor.data_type}")
        weights[name] = weights.get(name, 0) + elements
    return {"weights": weights, "int8_activations": sum(node.op_type == "QuantizeLinear" for node in graph.node)}
