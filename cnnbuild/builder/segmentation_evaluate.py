"""``cnnbuild evaluate`` for ``task: segmentation`` runs: the per-class IoU and Dice table, mean IoU,
pixel accuracy, each image's IoU in ``predictions.csv``, the best and worst images overlaid
(``mask_overlays.png``), and every predicted mask as a PNG in ``masks/``.

``--data FOLDER`` is a folder with ``images/`` and ``masks/`` (read as the run's ``image_masks``
source reads them, every unusable file listed); without it, the run's validation split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.builder.inference import call_model, open_finished
from cnnbuild.builder.reports.evaluation_folder import EvaluationFolder
from cnnbuild.builder.reports.segmentation_report import MaskReport, draw_overlays, format_iou_table, mask_report, predictions_csv
from cnnbuild.contracts import run_layout as layout
from cnnbuild.data.mask_pngs import save_mask
from cnnbuild.errors import DataError, RunError
from cnnbuild.runs.directory import RunDirectory
from cnnbuild.spec.document import Spec

#: the folder of predicted mask PNGs beside predictions.csv
MASKS = "masks"
#: the names evaluate gives the mask PNGs it writes (``SPLIT_00000.png``; ``data_``: an export evaluated on a folder)
MASK_PREFIXES = ("validation_", "train_", "data_")


@dataclass
class SegmentationEvaluation:
    """What ``evaluate`` found on a segmentation run, and where it wrote its files."""

    data: str
    report: MaskReport
    metrics: dict[str, float]
    written: list[Path]
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "data": self.data, "task": "segmentation", "examples": len(self.report.image_iou), **self.metrics,
            "per_class_iou": self.report.per_class(), "confusion_matrix": self.report.confusion.tolist(), "class_names": self.report.class_names,
            "files": [str(path) for path in self.written], "skipped": self.skipped,
        }  # fmt: skip

    def text(self) -> str:
        shown = "  ".join(f"{key} {self.metrics[key]:.4f}" for key in ("loss", "mean_iou", "dice", "pixel_accuracy") if key in self.metrics)
        lines = [f"{len(self.report.image_iou)} images from {self.data} (segmentation)", shown, "", format_iou_table(self.report.per_class())]
        if self.skipped:
            lines += ["", f"{len(self.skipped)} files not evaluated:"] + [f"  {item['path']}: {item['reason']}" for item in self.skipped]
        written = [path for path in self.written if path.parent.name != MASKS]
        masks = len(self.written) - len(written)
        return "\n".join(lines + [f"wrote {path}" for path in written] + ([f"wrote {masks} mask PNGs in {self.written[-1].parent}"] if masks else []))


def spec_for_mask_data(spec: Spec, data: str | Path, class_names: list[str] | None = None) -> Spec:
    """``spec`` reading ``data/images`` and ``data/masks`` with ``image_masks``, all of it (no split, no shuffle, no cache);
    the masks' indices are the run's ``class_names`` where the spec names no ``task.classes`` (a generated source named them)."""
    folder = Path(data).expanduser().resolve()
    if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
        raise RunError(f"--data {data}: a segmentation run evaluates a folder holding images/ and masks/ (masks named like their images); {folder} lacks one")
    common = {key: getattr(spec.data, key) for key in ("image_size", "color_mode", "batch_size")}
    model = spec.registry.data_sources["image_masks"].params  # the registry's model (the plugin's with its ``type`` tag)
    params = model(type="image_masks", images=str(folder / "images"), masks=str(folder / "masks"), validation_split=0, shuffle_buffer=0, cache="none", **common)
    task = spec.task
    if task is not None and task.classes is None and class_names:
        task = task.model_copy(update={"classes": dict(enumerate(class_names))})
    return spec.model_copy(update={"data": params, "task": task})


def masks_folder(out: Path | None, run_dir: Path | None, inside: str = "") -> Path:
    """Where evaluate writes the predicted masks (``out/masks``, else the run's ``inside/masks``);
    RunError when ``out/masks`` holds files evaluate did not write."""
    folder = (out if out is not None else run_dir / inside) / MASKS  # type: ignore[operator]
    if out is not None and folder.exists() and any(not path.name.startswith(MASK_PREFIXES) for path in folder.iterdir()):
        raise RunError(f"--out {out}: {folder} holds files evaluate did not write; nothing was replaced: choose another --out folder")
    return folder


def write_masks(report: MaskReport, folder: Path, size: tuple[int, int]) -> list[Path]:
    """Every predicted mask of ``report`` as ``folder/SPLIT_00000.png`` at ``size`` (width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, mask in enumerate(report.predictions):
        target = folder / f"{report.split}_{index:05d}.png"
        save_mask(mask, size, target, len(report.class_names))
        written.append(target)
    return written


def evaluate_segmentation(run_dir: str | Path, data: str | Path | None = None, *, out: str | Path | None = None, allow_unsafe: bool = False) -> SegmentationEvaluation:
    """Measure a segmentation run on its validation split, or on ``data`` (images/ and masks/)."""
    from cnnbuild.builder.data.segmentation_pipelines import segmentation_pipelines
    from cnnbuild.builder.data.source import load_source

    out_path = Path(out) if out is not None else None
    if out_path is not None:
        EvaluationFolder(out_path).check()
    finished = open_finished(run_dir, allow_unsafe=allow_unsafe)
    spec = finished.spec
    if data is not None:
        spec = spec_for_mask_data(spec, data, finished.class_names)
    source = load_source(spec)
    if list(source.class_names) != list(finished.class_names):
        raise DataError(f"the data has the classes {source.class_names}, the run was trained on {finished.class_names}; name the run's classes in task.classes")
    split = "validation" if data is None else "train"
    prepared = segmentation_pipelines(spec, source, augment=False)
    dataset = prepared.validation if data is None else prepared.train
    if dataset is None:
        raise DataError("the run's data has no validation split (validation_split: 0); pass --data FOLDER with images/ and masks/")
    name = "validation" if data is None else Path(data).resolve().name
    inside = f"{layout.EVALUATIONS}/{name}"
    masks = masks_folder(out_path, Path(finished.record.path), inside)
    ignore = getattr(spec.task, "ignore_index", None)
    report = call_model(finished, lambda model: mask_report(model, dataset, prepared, split, ignore, keep_images=True))
    metrics = {key: float(value) for key, value in call_model(finished, lambda model: model.evaluate(dataset, verbose=0, return_dict=True)).items()}
    writers = {
        layout.PREDICTIONS: lambda path: path.write_text(predictions_csv([report]), encoding="utf-8"),
        layout.MASK_OVERLAYS: lambda path: draw_overlays(report, path),
    }
    if out_path is not None:
        written = EvaluationFolder(out_path).write_files(writers)
    else:
        written = [RunDirectory(finished.record.path).write_bytes_with(f"{inside}/{file}", writer) for file, writer in writers.items()]
    written += write_masks(report, masks, (spec.data.image_size[1], spec.data.image_size[0]))
    skipped = [{"path": s.path, "reason": s.reason} for s in source.skipped]
    return SegmentationEvaluation(str(data) if data else "the validation split", report, metrics, written, skipped)
