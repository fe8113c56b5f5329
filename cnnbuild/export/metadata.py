"""What travels with an exported model: its class names and preprocessing facts, as one JSON document.

The same document is embedded in every format (TFLite: a ``cnnbuild`` entry of the flatbuffer's
metadata, beside a sidecar ``model.tflite.json``; ONNX: the ``cnnbuild`` key of ``metadata_props``;
SavedModel: ``assets/cnnbuild.json``), and ``cnnbuild predict`` and ``cnnbuild serve`` read it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from cnnbuild.contracts.values import CHANNELS
from cnnbuild.errors import ExportError

if TYPE_CHECKING:
    from cnnbuild.runs.record import RunRecord

#: the name of the metadata entry in every format (TFLite metadata, ONNX metadata_props, SavedModel asset)
METADATA_KEY = "cnnbuild"
EXPORT_JSON = "export.json"
SAVED_MODEL_ASSET = f"{METADATA_KEY}.json"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


class _Facts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # newer exports may say more


class InputFacts(_Facts):
    """The exported model's input: raw pixels of any size, resized inside the model as training resized them."""

    name: str = INPUT_NAME
    dtype: str = "uint8"
    layout: str = "NHWC (batch, height, width, channels); any height and width"
    channels: int
    color_mode: str
    image_size: tuple[int, int]
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool = False
    value_range: tuple[int, int] = (0, 255)


class OutputFacts(_Facts):
    """The exported model's output: one probability per class, in ``class_names`` order."""

    name: str = OUTPUT_NAME
    dtype: str = "float32"
    #: what the graph applies to the Keras model's outputs: softmax or sigmoid to logits, none to probabilities
    applied: Literal["softmax", "sigmoid", "none"]
    label_mode: str
    #: a one-unit binary model's p becomes the two columns [1 - p, p]
    binary_two_columns: bool = False
    #: single_label: one probability per class; multi_label: one probability per label (a label is
    #: present from its ``thresholds`` entry on); regression: one value per target, in its original units;
    #: segmentation: one probability per class for each pixel of a ``mask_size`` map (``(N, height, width, classes)``)
    task: str = "single_label"
    thresholds: list[float] = []
    #: regression: the graph turns the model's standardised outputs into original units (outputs * std + mean)
    target_mean: list[float] = []
    target_std: list[float] = []
    #: segmentation: ``[height, width]`` of the output's map of pixels (the model's input size; the mask of
    #: an image is this map resized to the image's size with nearest neighbour)
    mask_size: list[int] = []
    #: segmentation: the mask value that marks pixels left out of training and measures (None: none)
    ignore_index: int | None = None


class ExportMetadata(_Facts):
    """Everything a consumer needs besides the graph: classes, input and output facts, provenance."""

    schema_version: int = 1
    producer: str
    format: str
    quantize: str
    model_name: str
    run_id: str
    model_version: str
    class_names: list[str]
    input: InputFacts
    output: OutputFacts

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> ExportMetadata:
        """Parse a metadata document; ExportError naming ``where`` when it is not one."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ExportError(f"{where}: cnnbuild metadata is invalid at {'.'.join(map(str, first['loc']))}: {first['msg']}; export the model again with cnnbuild export") from exc

    def with_format(self, format: str, quantize: str) -> ExportMetadata:
        return self.model_copy(update={"format": format, "quantize": quantize})


def file_version(path: Path) -> str:
    """A short content hash of the trained model file: the exported model's version."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def metadata_for_run(record: RunRecord, format: str, quantize: str) -> ExportMetadata:
    """The metadata of an export of ``record``'s model: its classes, the spec's image facts, the label encoding."""
    from importlib.metadata import version

    from cnnbuild.runs.task_record import read_task_record

    spec = record.spec
    labels = record.labels
    binary = labels.mode in ("binary", "binary_mask")  # one unit: p of the second class (per pixel for masks)
    applied = ("sigmoid" if binary or labels.mode == "multi_hot" else "softmax") if labels.from_logits else "none"
    task = read_task_record(record)
    task_facts: dict[str, Any] = {}
    data = spec.data
    if task is not None:
        task_facts = {"task": task.task, "thresholds": task.thresholds, "target_mean": task.mean, "target_std": task.std}
        applied = "none" if task.task == "regression" else applied
    elif spec.task_row.per_pixel:  # the segmentation checks keep the output's height and width equal to the input's
        task_facts = {"task": spec.task_row.name, "mask_size": list(data.image_size), "ignore_index": getattr(spec.task, "ignore_index", None)}
    return ExportMetadata(
        producer=f"cnnbuild {version('cnnbuild')}",
        format=format,
        quantize=quantize,
        model_name=record.name,
        run_id=record.path.resolve().name,
        model_version=file_version(record.model_path),
        class_names=record.class_names,
        input=InputFacts(
            channels=CHANNELS[data.color_mode],
            color_mode=data.color_mode,
            image_size=tuple(data.image_size),
            interpolation=getattr(data, "interpolation", "bilinear"),
            crop_to_aspect_ratio=bool(getattr(data, "crop_to_aspect_ratio", False)),
        ),
        output=OutputFacts(applied=applied, label_mode=labels.mode, binary_two_columns=binary, **task_facts),
    )
