"""``cnnbuild evaluate EXPORT --data FOLDER`` for a segmentation export: a folder holding
``images/`` and ``masks/`` (paired and checked as the ``image_masks`` data source pairs them,
every unusable file listed), decoded and resized as training does with Pillow, so a TFLite or ONNX
export is measured without TensorFlow: the per-class IoU and Dice table, mean IoU, pixel accuracy,
and with ``--out`` the run evaluation's files (``predictions.csv``, ``mask_overlays.png``, ``masks/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cnnbuild.builder.reports.evaluation_folder import EvaluationFolder
from cnnbuild.builder.reports.segmentation_report import MaskReportBuilder, draw_overlays, predictions_csv, summary_measures
from cnnbuild.builder.segmentation_evaluate import SegmentationEvaluation, masks_folder, write_masks
from cnnbuild.contracts import run_layout as layout
from cnnbuild.errors import DataError
from cnnbuild.export.answers import pixel_mask

if TYPE_CHECKING:
    from cnnbuild.export.runtimes import ExportedModel

#: images given to the exported model in one call
BATCH = 16
#: the split name of an export's evaluation: in predictions.csv (``data[0]``) and the mask files (``data_00000.png``)
SPLIT = "data"


def evaluate_export_masks(model: ExportedModel, data: str | Path, out: Path | None) -> SegmentationEvaluation:
    """The segmentation export ``model`` on ``data`` (``images/`` and ``masks/``); files written to ``out`` only."""
    import numpy as np

    from cnnbuild.data.masks import pair_masks

    folder = Path(data)
    if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
        raise DataError(f"--data {data}: a segmentation export evaluates a folder holding images/ and masks/ (masks named like their images); {folder} lacks one")
    masks = masks_folder(out, None) if out is not None else None  # before any work: refuse a masks/ folder holding others' files
    info = model.info
    pairs, not_used = pair_masks(folder / "images", folder / "masks", len(info.class_names), info.output.ignore_index, info.input)  # type: ignore[arg-type]
    skipped = [{"path": item.path, "reason": item.reason} for item in not_used]
    if not pairs:
        raise DataError(f"--data {data}: no image and mask pair could be evaluated ({len(skipped)} files skipped; the first: {skipped[0]['path']}: {skipped[0]['reason']})" if skipped else f"--data {data}: no images")
    builder = MaskReportBuilder(SPLIT, info.class_names, info.output.ignore_index, keep_images=True)
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        images = np.stack([pair.image for pair in chunk])
        outputs = model(images)
        builder.add(images, np.stack([pair.mask for pair in chunk]), np.stack([pixel_mask(output) for output in outputs]))
    report = builder.report()
    written: list[Path] = []
    if out is not None and masks is not None:
        written = EvaluationFolder(out).write_files({
            layout.PREDICTIONS: lambda path: path.write_text(predictions_csv([report]), encoding="utf-8"),
            layout.MASK_OVERLAYS: lambda path: draw_overlays(report, path),
        })  # fmt: skip
        height, width = info.input.image_size
        written += write_masks(report, masks, (width, height))
    return SegmentationEvaluation(str(data), report, summary_measures(report), written, skipped)
