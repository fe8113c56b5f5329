"""What a finished ``task: segmentation`` run records beside its model: per-class IoU and Dice and
the pixel confusion matrix of the validation split, each validation and test image's IoU in
``predictions.csv``, the training curves, and the best and worst validation images with their true
and predicted masks overlaid (``mask_overlays.png``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.reports import figures
from cnnbuild.contracts.run_layout import CURVES, MASK_OVERLAYS, PREDICTIONS

if TYPE_CHECKING:
    from cnnbuild.builder.data.pipelines import PreparedData
    from cnnbuild.builder.reports.drawing import FigureWriter
    from cnnbuild.runs.directory import RunDirectory

#: how many of the best and of the worst validation images ``mask_overlays.png`` shows
SHOWN = 4


@dataclass
class MaskReport:
    """One prediction pass over a split: the pixel confusion matrix, and each image's measures."""

    split: str
    class_names: list[str]
    confusion: Any  # int64 (classes, classes): rows true, columns predicted
    image_iou: list[float]
    image_accuracy: list[float]
    images: Any  # uint8 (N, H, W, C), kept for the overlays (validation only)
    truths: Any
    predictions: Any

    def per_class(self) -> list[dict[str, Any]]:
        """A row per class: its IoU, Dice and pixel counts (true and predicted)."""
        matrix = self.confusion
        table: list[dict[str, Any]] = []
        for index, name in enumerate(self.class_names):
            hits, true, predicted = int(matrix[index, index]), int(matrix[index].sum()), int(matrix[:, index].sum())
            union = true + predicted - hits
            table.append({
                "class": name,
                "iou": round(hits / union, 6) if union else 0.0,
                "dice": round(2 * hits / (true + predicted), 6) if true + predicted else 0.0,
                "true_pixels": true,
                "predicted_pixels": predicted,
            })  # fmt: skip
        return table


def predicted_masks(outputs: Any, binary: bool, from_logits: bool) -> Any:
    """Class indices ``(N, H, W)`` from the model's outputs."""
    import numpy as np

    if binary:
        return (outputs[..., 0] > (0.0 if from_logits else 0.5)).astype("int32")
    return np.argmax(outputs, axis=-1).astype("int32")


def image_measures(truth: Any, predicted: Any, num_classes: int, ignore_index: int | None) -> tuple[float, float]:
    """``(mean IoU over the classes in the truth or the prediction, pixel accuracy)`` of one image."""
    import numpy as np

    valid = (truth >= 0) & (truth < num_classes)
    if ignore_index is not None:
        valid &= truth != ignore_index
    t, p = truth[valid], predicted[valid]
    if t.size == 0:
        return 1.0, 1.0
    ious = []
    for index in np.union1d(np.unique(t), np.unique(p)):
        hits = np.sum((t == index) & (p == index))
        union = np.sum((t == index) | (p == index))
        ious.append(hits / union)
    return float(np.mean(ious)), float(np.mean(t == p))


class MaskReportBuilder:
    """A :class:`MaskReport` built batch by batch from images, true masks and predicted masks (a
    run's split through Keras, or a folder through an exported model)."""

    def __init__(self, split: str, class_names: list[str], ignore_index: int | None, *, keep_images: bool) -> None:
        import numpy as np

        self.split = split
        self.class_names = list(class_names)
        self.ignore_index = ignore_index
        self.keep_images = keep_images
        self.confusion = np.zeros((len(class_names), len(class_names)), dtype="int64")
        self.ious: list[float] = []
        self.accuracies: list[float] = []
        self.images: list[Any] = []
        self.truths: list[Any] = []
        self.predictions: list[Any] = []

    def add(self, images: Any, truths: Any, predicted: Any) -> None:
        """One batch: ``images`` (N, H, W, C), their true masks and the predicted ones (class indices, (N, H, W))."""
        import numpy as np

        count = len(self.class_names)
        truth = np.asarray(truths).astype("int64")
        predicted = np.asarray(predicted).astype("int64")
        valid = (truth >= 0) & (truth < count)
        if self.ignore_index is not None:
            valid &= truth != self.ignore_index
        self.confusion += np.bincount(truth[valid] * count + predicted[valid], minlength=count * count).reshape(count, count)
        for index in range(len(truth)):
            iou, accuracy = image_measures(truth[index], predicted[index], count, self.ignore_index)
            self.ious.append(iou)
            self.accuracies.append(accuracy)
        if self.keep_images:
            self.images.append(np.clip(np.asarray(images), 0, 255).astype("uint8"))
            self.truths.append(truth)
            self.predictions.append(predicted)

    @property
    def seen(self) -> int:
        return len(self.ious)

    def report(self) -> MaskReport:
        import numpy as np

        join = (lambda parts: np.concatenate(parts)) if self.keep_images and self.images else (lambda parts: None)
        return MaskReport(self.split, self.class_names, self.confusion, self.ious, self.accuracies, join(self.images), join(self.truths), join(self.predictions))


def mask_report(model: Any, dataset: Any, prepared: PreparedData, split: str, ignore_index: int | None, *, keep_images: bool) -> MaskReport:
    """Predict every batch of ``dataset`` and measure it."""
    import numpy as np

    binary = prepared.labels.mode == "binary_mask"
    builder = MaskReportBuilder(split, list(prepared.class_names), ignore_index, keep_images=keep_images)
    for batch_images, batch_masks in dataset:
        outputs = np.asarray(model.predict_on_batch(batch_images), dtype="float32")
        builder.add(batch_images, batch_masks, predicted_masks(outputs, binary, prepared.labels.from_logits))
    return builder.report()


def summary_measures(report: MaskReport) -> dict[str, float]:
    """``mean_iou`` and ``dice`` (over the classes in the truth or the prediction) and ``pixel_accuracy``
    of the report's pixel confusion matrix (what a Keras model's metrics give, for a model without them)."""
    rows = report.per_class()
    occurring = [row for row in rows if row["true_pixels"] or row["predicted_pixels"]] or rows
    total = int(report.confusion.sum())
    return {
        "mean_iou": sum(row["iou"] for row in occurring) / len(occurring),
        "dice": sum(row["dice"] for row in occurring) / len(occurring),
        "pixel_accuracy": float(report.confusion.trace()) / total if total else 0.0,
    }


def predictions_csv(reports: list[MaskReport]) -> str:
    """``split, example, mean_iou, pixel_accuracy``: one row per image, examples numbered in the split's order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["split", "example", "mean_iou", "pixel_accuracy"])
    for report in reports:
        for index, (iou, accuracy) in enumerate(zip(report.image_iou, report.image_accuracy, strict=True)):
            writer.writerow([report.split, f"{report.split}[{index}]", f"{iou:.6f}", f"{accuracy:.6f}"])
    return out.getvalue()


def colour_masks(masks: Any, num_classes: int) -> Any:
    """RGB colours (uint8) of class indices: background (0) black, the others from a fixed palette."""
    import numpy as np
    from matplotlib import colormaps

    palette = (np.asarray(colormaps["tab10"].colors)[:, :3] * 255).astype("uint8")
    colours = np.concatenate([np.zeros((1, 3), "uint8"), np.resize(palette, (max(num_classes - 1, 1), 3))])
    return colours[np.clip(masks, 0, num_classes - 1)]


def draw_overlays(report: MaskReport, path: Path, *, shown: int = SHOWN) -> list[str]:
    """The ``shown`` best and worst validation images by IoU: the image, the true mask and the
    predicted mask, each overlaid on the image. Returns the titles drawn."""
    import matplotlib.pyplot as plt
    import numpy as np

    order = np.argsort(report.image_iou)
    worst = list(order[:shown])
    best = [index for index in order[::-1][:shown] if index not in worst]
    picked = [("best", int(i)) for i in best] + [("worst", int(i)) for i in worst]
    figure, axes = plt.subplots(len(picked), 3, figsize=(7.5, 2.5 * len(picked)), squeeze=False)
    titles = []
    count = len(report.class_names)
    for row, (kind, index) in enumerate(picked):
        image = report.images[index]
        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
        title = f"{kind}: {report.split}[{index}] IoU {report.image_iou[index]:.2f}"
        titles.append(title)
        panels = (("image", rgb), ("true mask", _overlay(rgb, colour_masks(report.truths[index], count))), ("predicted", _overlay(rgb, colour_masks(report.predictions[index], count))))
        for column, (name, picture) in enumerate(panels):
            axis = axes[row][column]
            axis.imshow(picture, interpolation="nearest")
            axis.set_title(title if column == 0 else name, fontsize=8)
            axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return titles


def _overlay(image: Any, colours: Any) -> Any:

    return (0.5 * image.astype("float32") + 0.5 * colours.astype("float32")).astype("uint8")


def record_segmentation_visuals(
    run: RunDirectory, model: Any, prepared: PreparedData, history: dict[str, list[float]], spec: Any, drawings: FigureWriter, evaluate: Callable[[Any, Any], dict[str, float]]
) -> dict[str, Any]:
    """What :func:`~cnnbuild.builder.reports.visuals.record_run_visuals` does, for masks. Returns
    what to add to ``metrics.json``: ``total_params``, and with a validation split ``validation``
    (the final model's metrics), ``per_class_iou`` (a row per class: IoU, Dice, pixels) and ``confusion_matrix`` (pixels)."""
    additions: dict[str, Any] = {"total_params": int(model.count_params())}
    drawings.draw(CURVES, lambda path: figures.draw_curves(history, path, title=f"{spec.name}: training curves"))
    ignore = getattr(spec.task, "ignore_index", None)
    reports = [
        mask_report(model, dataset, prepared, split, ignore, keep_images=split == "validation")
        for split, dataset in (("validation", prepared.validation), ("test", prepared.test))
        if dataset is not None
    ]
    if reports:
        run.write_text(PREDICTIONS, predictions_csv(reports))
    validation = next((report for report in reports if report.split == "validation"), None)
    if validation is None:
        return additions
    additions["validation"] = evaluate(model, prepared.validation)
    additions["per_class_iou"] = validation.per_class()
    additions["confusion_matrix"] = validation.confusion.tolist()
    if len(validation.image_iou):
        drawings.draw(MASK_OVERLAYS, lambda path: draw_overlays(validation, path))
    return additions


def format_iou_table(rows: list[dict[str, Any]]) -> str:
    """The per-class IoU table as aligned text, with the mean over the classes that occur."""
    if not rows:
        return ""
    width = max(len("class"), *(len(str(row["class"])) for row in rows), len("mean"))
    lines = [f"{'class':<{width}}    iou   dice  true pixels"]
    for row in rows:
        lines.append(f"{row['class']:<{width}}  {row['iou']:>5.3f}  {row['dice']:>5.3f}  {row['true_pixels']:>11d}")
    occurring = [row for row in rows if row["true_pixels"] or row["predicted_pixels"]] or rows
    mean_iou, mean_dice = (sum(row[key] for row in occurring) / len(occurring) for key in ("iou", "dice"))
    lines.append(f"{'mean':<{width}}  {mean_iou:>5.3f}  {mean_dice:>5.3f}  {sum(row['true_pixels'] for row in rows):>11d}")
    return "\n".join(lines)


def segmentation_sections(run: Any, metrics: dict[str, Any]) -> list[str]:
    """The HTML report's segmentation part: the per-class IoU table, the pixel confusion matrix and the overlays."""
    from cnnbuild.builder.reports.html_report import _esc, _figure, _table

    rows = metrics.get("per_class_iou")
    if not rows:
        return ['<h2>Per-class IoU</h2><p class="missing">no per-class table (no validation split, or the run did not finish).</p>', _figure(run, *OVERLAYS_FIGURE)]
    table = _table(["class", "IoU", "Dice", "true pixels", "predicted pixels"], [[r["class"], r["iou"], r["dice"], r["true_pixels"], r["predicted_pixels"]] for r in rows])
    names = [r["class"] for r in rows]
    matrix = metrics.get("confusion_matrix") or []
    confusion = _table(["true / predicted", *names], [[name, *counts] for name, counts in zip(names, matrix, strict=False)])
    note = f'<p class="note">validation split; mean IoU {_esc(round(metrics.get("validation", {}).get("mean_iou", float("nan")), 4))}</p>'
    return ["<h2>Per-class IoU</h2>" + note + table, "<h2>Pixel confusion matrix</h2>" + confusion, _figure(run, *OVERLAYS_FIGURE)]


#: the report's figure of the best and worst validation images
OVERLAYS_FIGURE = ("Best and worst validation images", MASK_OVERLAYS, "by each image's mean IoU; the true and predicted masks overlaid on the image (background black)")


def overlaid_images(images: list[Any], masks: list[Any], num_classes: int) -> list[Any]:
    """Each image (float 0..255) with its mask's class colours blended in, as float32 RGB for the figures."""
    import numpy as np

    result = []
    for image, mask in zip(images, masks, strict=True):
        rgb = np.clip(np.asarray(image), 0, 255).astype("uint8")
        rgb = np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb[..., :3]
        result.append(_overlay(rgb, colour_masks(np.asarray(mask), num_classes)).astype("float32"))
    return result


def mask_augmentation_draws(spec: Any, image: Any, mask: Any, num_classes: int, draws: int = 9) -> list[Any]:
    """``image`` and its ``mask`` through nine draws of the training augmentation (as the pipeline
    applies it, the mask moved with the image), each mask overlaid on its image."""
    import numpy as np
    import tensorflow as tf

    from cnnbuild.builder.data.segmentation_pipelines import mask_augmenter

    images = tf.constant(np.repeat(np.asarray(image, "float32")[None], draws, axis=0))
    masks = tf.constant(np.repeat(np.asarray(mask, "int32")[None], draws, axis=0))
    moved_images, moved_masks = mask_augmenter(spec)(images, masks)
    return overlaid_images(list(np.asarray(moved_images)), list(np.asarray(moved_masks)), num_classes)
