"""``cnnbuild evaluate EXPORT --data FOLDER``: an exported model on a folder of class sub-folders
(a segmentation export: on ``images/`` and ``masks/``, :mod:`cnnbuild.export.mask_evaluation`).

The files are listed by training's rules and decoded with Pillow as ``predict`` decodes them, so a
TFLite or ONNX export is evaluated without TensorFlow. Every file under the folder is evaluated or
listed with why it was not. The export has no data split of its own, so ``--data`` is required.
"""

from __future__ import annotations

from pathlib import Path

from cnnbuild.builder.evaluate import Evaluation, class_mapping
from cnnbuild.builder.reports.evaluation import ReportBuilder
from cnnbuild.builder.reports.evaluation_folder import EvaluationFolder
from cnnbuild.contracts.tasks import task_named
from cnnbuild.errors import DataError
from cnnbuild.export.prediction import read_pixels


def evaluate_export(model_path: str | Path, data: str | Path, *, out: str | Path | None = None, allow_modified: bool = False) -> Evaluation:
    """The exported model at ``model_path`` on ``data``, a folder of some or all of its classes.

    Writes ``predictions.csv``, ``confusion_matrix.png`` and ``misclassified.png`` to ``out`` when
    it is given; nothing is written beside the export (that folder holds only what export wrote).
    """
    import numpy as np

    from cnnbuild.data.folders import folder_files
    from cnnbuild.export.location import open_exported

    root = Path(data)
    if not root.is_dir():
        raise DataError(f"--data {data}: not a folder; evaluating an export needs a folder of class sub-folders (a segmentation export: images/ and masks/)")
    if out is not None:
        EvaluationFolder(Path(out)).check()  # before any work: refuse a folder holding files evaluate did not write
    model = open_exported(model_path, allow_modified=allow_modified)
    if task_named(model.info.output.task).per_pixel:
        from cnnbuild.export.mask_evaluation import evaluate_export_masks

        return evaluate_export_masks(model, root, Path(out) if out is not None else None)  # type: ignore[return-value]
    names = model.info.class_names
    data_classes, pairs, not_used = folder_files(root, None)
    mapping = dict(zip(data_classes, class_mapping(data_classes, names), strict=True))
    skipped = [{"path": item.path, "reason": item.reason} for item in not_used]
    builder = ReportBuilder(list(names))
    for path, name in pairs:
        pixels = read_pixels(path, model.info.input)
        if isinstance(pixels, str):
            skipped.append({"path": str(path), "reason": pixels})
            continue
        probabilities = np.asarray(model(pixels[None]), dtype="float64")
        builder.add(pixels[None], np.asarray([mapping[name]]), probabilities, [str(path)])
    if not builder.seen:
        raise DataError(f"--data {data}: no image could be evaluated ({len(skipped)} files skipped; the first: {skipped[0]['path']}: {skipped[0]['reason']})" if skipped else f"--data {data}: no images")
    report = builder.report()
    written = EvaluationFolder(Path(out)).write(report, "data") if out is not None else []
    return Evaluation(str(data), report, None, written, skipped)
