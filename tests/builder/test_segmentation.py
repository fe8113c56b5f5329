"""Segmentation through training: pairing images and masks (every unusable file listed), the split,
augmentation that moves each mask with its image, the loss and metrics on known masks, and one
shared trained run (16x16 images, one epoch) with its metrics, predictions and overlays."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnbuild.errors import RunError
from cnnbuild.spec import spec_from_text

from ..conftest import TINY_UNET

UNET = TINY_UNET


def seg_spec(root: Path, data: str, *, task: str = "{type: segmentation, classes: {0: background, 1: thing}}", extra: str = "", train: str = "") -> Path:
    text = textwrap.dedent(f"""
        name: seg
        seed: 3
        task: {task}
        data: {data}
        train: {{epochs: 1, verbose: quiet, precision: float32{train}}}
    """) + extra + "\n" + UNET
    path = root / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_pair(images: Path, masks: Path, stem: str, mask: np.ndarray, *, image_size: tuple[int, int] | None = None, palette: bool = False) -> None:
    images.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    height, width = image_size or mask.shape
    Image.fromarray(np.full((height, width, 3), 90, "uint8")).save(images / f"{stem}.jpg")
    picture = Image.fromarray(mask.astype("uint8"), mode="L")
    if palette:
        picture = picture.convert("P")
        picture.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    picture.save(masks / f"{stem}.png")


def test_image_masks_pairs_by_stem_and_lists_every_unusable_file(tmp_path):
    from cnnbuild.builder.data.source import load_source

    images, masks = tmp_path / "images", tmp_path / "masks"
    good = np.zeros((8, 8), "uint8")
    good[2:5, 2:5] = 1
    for index in range(6):
        write_pair(images, masks, f"ok{index}", good, palette=index % 2 == 0)
    ignored = good.copy()
    ignored[0, 0] = 255
    write_pair(images, masks, "ignored", ignored)  # 255 is the ignore index: usable
    write_pair(images, masks, "bigger", good, image_size=(10, 8))
    out_of_range = good.copy()
    out_of_range[0, 0] = 7
    write_pair(images, masks, "range", out_of_range)
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(images / "lonely.jpg")
    Image.fromarray(good).save(masks / "orphan.png")
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(images / "rgbmask.jpg")
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(masks / "rgbmask.png")
    path = seg_spec(tmp_path, "{type: image_masks, images: images, masks: masks, image_size: [8, 8], validation_split: 0.25}", task="{type: segmentation, classes: {0: background, 1: thing}, ignore_index: 255}")
    source = load_source(spec_from_text(path.read_text(), str(path)))
    reasons = {Path(s.path).name: s.reason for s in source.skipped}
    assert sorted(reasons) == ["bigger.png", "lonely.jpg", "orphan.png", "range.png", "rgbmask.png"]
    assert "mask is 8x8 but its image bigger.jpg is 8x10" in reasons["bigger.png"]
    assert "index 7, outside the classes 0..1, or the ignore index 255" in reasons["range.png"]
    assert "no mask named lonely.png" in reasons["lonely.jpg"] and "no image named orphan" in reasons["orphan.png"]
    assert "mask is RGB, not class indices" in reasons["rgbmask.png"]
    assert (source.train_count, source.validation_count, source.task) == (5, 2, "segmentation")
    _, mask = next(iter(source.train))
    assert mask.dtype.name == "int32" and mask.shape == (8, 8) and set(np.unique(mask.numpy())) <= {0, 1, 255}
    again = load_source(spec_from_text(path.read_text(), str(path)))
    first = [m.numpy().tobytes() for _, m in source.validation]
    assert first == [m.numpy().tobytes() for _, m in again.validation]  # the same seed, the same split


def test_image_masks_without_class_names_is_a_positioned_spec_error(tmp_path):
    from cnnbuild.spec import SpecError

    path = seg_spec(tmp_path, "{type: image_masks, images: images, masks: masks, image_size: [8, 8]}", task="segmentation")
    with pytest.raises(SpecError, match="needs the class of each mask index: add task.classes"):
        spec_from_text(path.read_text(), str(path))


def test_augmentation_moves_each_mask_exactly_as_its_image(tmp_path):
    import tensorflow as tf

    from cnnbuild.builder.data.segmentation_pipelines import mask_augmenter

    path = seg_spec(tmp_path, "{type: shape_masks, count: 8, image_size: [16, 16]}", task="segmentation", extra="augmentation: [{type: RandomFlip, mode: horizontal_and_vertical}, {type: RandomRotation, factor: 0.2, fill_mode: constant}]")
    spec = spec_from_text(path.read_text(), str(path))
    blocks = np.random.default_rng(0).integers(0, 3, (6, 2, 2))
    masks = np.kron(blocks, np.ones((8, 8))).astype("int32")  # four 8x8 squares of a class each
    images = np.repeat((masks * 100.0)[..., None], 3, axis=-1).astype("float32")  # the image is its mask, scaled
    moved_images, moved_masks = mask_augmenter(spec)(tf.constant(images), tf.constant(masks))
    moved_masks = moved_masks.numpy()
    assert moved_masks.dtype == np.int32 and set(np.unique(moved_masks)) <= {0, 1, 2}  # nearest neighbour: indices only
    assert not np.array_equal(moved_masks, masks)
    # where the image kept a pure value, it is the mask's (bilinear images blur edges; masks never do)
    moved = moved_images.numpy()[..., 0]
    pure = np.min(np.abs(moved[..., None] - np.array([0.0, 100.0, 200.0])), axis=-1) < 0.5
    assert pure.mean() > 0.6 and np.abs(moved[pure] - moved_masks[pure] * 100.0).max() < 0.5


def test_loss_and_metrics_on_known_masks():
    import keras

    from cnnbuild.builder.model.segmentation_objects import ConfusionMeasure, SegmentationLoss

    truth = np.array([[[0, 0], [1, 2]]], "int32")
    predicted_classes = np.array([[[0, 1], [1, 1]]])
    probabilities = keras.ops.one_hot(predicted_classes, 3).numpy() * 0.9 + 0.1 / 3
    # confusion: class 0 1 hit 1 missed; class 1 1 hit 1 false; class 2 0 hits 1 missed
    expected = {"mean_iou": (1 / 2 + 1 / 3 + 0) / 3, "pixel_accuracy": 2 / 4, "dice": (2 / 3 + 2 / 4 + 0) / 3}
    for measure, value in expected.items():
        metric = ConfusionMeasure(3, measure)
        metric.update_state(truth, probabilities)
        assert float(metric.result()) == pytest.approx(value, abs=1e-6), measure
    per_class = ConfusionMeasure(3, "iou", class_id=1)
    per_class.update_state(truth, probabilities)
    assert float(per_class.result()) == pytest.approx(1 / 3)
    ignoring = ConfusionMeasure(3, "pixel_accuracy", ignore_index=2)
    ignoring.update_state(truth, probabilities)
    assert float(ignoring.result()) == pytest.approx(2 / 3)
    plain = SegmentationLoss(3)(truth, probabilities)
    changed = probabilities.copy()
    changed[0, 1, 1] = [1 / 3, 1 / 3, 1 / 3]
    truth_ignored = truth.copy()
    truth_ignored[0, 1, 1] = 255
    with_ignore = SegmentationLoss(3, ignore_index=255)
    assert float(with_ignore(truth_ignored, probabilities)) == pytest.approx(float(with_ignore(truth_ignored, changed)))  # an ignored pixel counts nowhere
    assert float(SegmentationLoss(3, dice_weight=1.0)(truth, probabilities)) > float(plain)


@pytest.fixture(scope="module")
def segmentation_run(tiny_segmentation_run, tmp_path_factory) -> Path:
    """The session's tiny segmentation run (shape_masks 16x16, one epoch, dice_crossentropy, class_weight: auto), copied: these tests write into it."""
    import shutil

    return Path(shutil.copytree(tiny_segmentation_run, tmp_path_factory.mktemp("segmentation") / "run"))


def test_a_run_records_iou_dice_and_pixel_accuracy_per_epoch_and_per_class(segmentation_run):
    metrics = json.loads((segmentation_run / "metrics.json").read_text())
    history = json.loads((segmentation_run / "history.json").read_text())
    names = ["background", "circle", "square"]
    assert json.loads((segmentation_run / "class_names.json").read_text()) == names
    for key in ("mean_iou", "dice", "pixel_accuracy", *(f"iou_{name}" for name in names)):
        assert len(history[key]) == 1 and len(history[f"val_{key}"]) == 1
        assert 0.0 <= metrics["validation"][key] <= 1.0
    rows = metrics["per_class_iou"]
    assert [row["class"] for row in rows] == names
    matrix = np.asarray(metrics["confusion_matrix"])
    assert matrix.sum() == metrics["validation_examples"] * 16 * 16
    assert sum(row["true_pixels"] for row in rows) == matrix.sum()
    for index, row in enumerate(rows):  # the table and the Keras metric measure the same model on the same split
        assert row["iou"] == pytest.approx(metrics["validation"][f"iou_{names[index]}"], abs=1e-4)
    with (segmentation_run / "predictions.csv").open() as handle:
        predicted = list(csv.DictReader(handle))
    assert len(predicted) == metrics["validation_examples"] and {row["split"] for row in predicted} == {"validation"}
    assert (segmentation_run / "mask_overlays.png").stat().st_size > 1000
    assert json.loads((segmentation_run / "skipped.json").read_text()) == []


def test_a_segmentation_checkpoint_loads_with_its_loss_and_metrics(segmentation_run):
    from cnnbuild.builder.model.build import load_saved_model

    model = load_saved_model(segmentation_run / "model.keras")
    assert type(model.loss).__name__ == "SegmentationLoss" and model.loss.dice_weight == 1.0
    assert len(model.loss.class_weights) == 3 and model.loss.class_weights[0] < 1 < model.loss.class_weights[1]  # class_weight: auto, rare shapes up
    assert model.output_shape == (None, 16, 16, 3)


def test_predict_writes_a_mask_png_per_image_at_its_size_and_reports_bad_files(segmentation_run, tmp_path):
    from cnnbuild.builder.segmentation_predict import predict_masks
    from cnnbuild.cli.result_commands import format_answer, is_segmentation_run

    folder = tmp_path / "new"
    folder.mkdir()
    Image.fromarray(np.full((20, 24, 3), 120, "uint8")).save(folder / "wide.jpg")
    (folder / "broken.png").write_bytes(b"not a png")
    results = predict_masks(segmentation_run, [folder], tmp_path / "masks")
    by_name = {Path(result["path"]).name: result for result in results}
    assert "cannot decode" in by_name["broken.png"]["error"]
    answer = by_name["wide.jpg"]
    written = Image.open(answer["mask"])
    assert Path(answer["mask"]).name == "wide.png" and written.mode == "P" and written.size == (24, 20)
    assert set(np.unique(np.asarray(written))) <= {0, 1, 2}
    assert list(answer["classes"]) == ["background", "circle", "square"] and sum(answer["classes"].values()) == pytest.approx(1.0)
    assert format_answer(answer).startswith(f"mask {answer['mask']} (background ")
    assert is_segmentation_run(segmentation_run) and not is_segmentation_run(tmp_path)


def test_predict_never_replaces_a_mask_it_did_not_write(segmentation_run, tmp_path):
    from cnnbuild.builder.segmentation_predict import predict_masks
    from cnnbuild.errors import DataError

    folder = tmp_path / "new"
    folder.mkdir()
    Image.fromarray(np.full((20, 24, 3), 120, "uint8")).save(folder / "wide.jpg")
    first = predict_masks(segmentation_run, [folder], tmp_path / "masks")
    again = predict_masks(segmentation_run, [folder], tmp_path / "masks")  # predict's own PNGs are replaced
    assert first[0]["mask"] == again[0]["mask"] == str(tmp_path / "masks" / "wide.png")
    users = tmp_path / "data" / "masks"
    users.mkdir(parents=True)
    Image.fromarray(np.ones((20, 24), "uint8"), mode="L").save(users / "wide.png")  # a dataset's own mask
    before = (users / "wide.png").read_bytes()
    with pytest.raises(DataError, match=r"wide\.png already there and not written by cnnbuild predict.*choose another --masks-out") as refused:
        predict_masks(segmentation_run, [folder], users)
    assert "\n" not in str(refused.value) and (users / "wide.png").read_bytes() == before and sorted(users.iterdir()) == [users / "wide.png"]
    Image.fromarray(np.ones((20, 24), "uint8"), mode="L").save(tmp_path / "masks" / "wide.png")  # changed since predict wrote it
    with pytest.raises(DataError, match="or changed since"):
        predict_masks(segmentation_run, [folder], tmp_path / "masks")


def test_evaluate_gives_the_per_class_iou_table_and_writes_masks(segmentation_run, tmp_path):
    from cnnbuild.builder.evaluate import evaluate

    metrics = json.loads((segmentation_run / "metrics.json").read_text())
    result = evaluate(segmentation_run)
    assert result.metrics["mean_iou"] == pytest.approx(metrics["validation"]["mean_iou"], abs=1e-5)
    assert [row["iou"] for row in result.as_dict()["per_class_iou"]] == [row["iou"] for row in metrics["per_class_iou"]]
    folder = segmentation_run / "evaluations" / "validation"
    assert len(list((folder / "masks").glob("validation_*.png"))) == metrics["validation_examples"]
    assert (folder / "mask_overlays.png").exists() and "background" in result.text()
    (tmp_path / "out" / "masks").mkdir(parents=True)
    (tmp_path / "out" / "masks" / "mine.png").write_bytes(b"x")
    with pytest.raises(RunError, match="holds files evaluate did not write"):
        evaluate(segmentation_run, out=tmp_path / "out")
    assert (tmp_path / "out" / "masks" / "mine.png").read_bytes() == b"x"


def test_the_html_report_shows_the_iou_table_confusion_and_overlays(segmentation_run):
    from cnnbuild.builder.reports.html_report import write_report

    page = write_report(segmentation_run).read_text()
    assert "<h2>Per-class IoU</h2>" in page and "<h2>Pixel confusion matrix</h2>" in page
    assert page.count("data:image/png;base64,") == 2  # the curves and the overlays
    assert "Confusion matrix</h2>" not in page and "Misclassified" not in page


def test_preview_titles_samples_with_their_classes_and_draws_masks_with_images(tmp_path):
    from cnnbuild.builder.reports.preview import preview

    path = seg_spec(tmp_path, "{type: shape_masks, count: 12, image_size: [16, 16]}", task="segmentation", extra="augmentation: [{type: RandomFlip}]")
    result = preview(spec_from_text(path.read_text(), str(path)), tmp_path / "preview")
    shown = [title for title in result.titles["samples.png"] if title.startswith("background")]  # each sample: the classes its mask shows
    assert len(shown) == 9 and any("circle" in title or "square" in title for title in shown)
    assert result.files["augmentation.png"].exists() and sum(title.startswith("draw ") for title in result.titles["augmentation.png"]) == 9
    assert "classes (images showing each)" in result.report.text() and result.report.counts["background"] == 12


def test_class_weight_auto_weighs_pixels_by_their_class_rarity(tmp_path):
    from cnnbuild.builder.data.segmentation_pipelines import pixel_class_weights
    from cnnbuild.builder.data.source import load_source
    from cnnbuild.builder.model.segmentation_objects import SegmentationLoss

    path = seg_spec(tmp_path, "{type: shape_masks, count: 16, image_size: [16, 16]}", task="segmentation")
    source = load_source(spec_from_text(path.read_text(), str(path)))
    pixels = np.zeros(3)
    for _, mask in source.train.as_numpy_iterator():
        pixels += np.bincount(mask.reshape(-1), minlength=3)
    weights = pixel_class_weights("auto", source, None)
    assert weights == pytest.approx(tuple(pixels.sum() / (3 * pixels)), rel=1e-5) and weights[0] < 1 < weights[1]
    assert pixel_class_weights({1: 4.0}, source, None) == (1.0, 4.0, 1.0)
    truth = np.array([[[0, 1]]], "int32")
    probabilities = np.array([[[[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]]], "float32")
    plain = float(SegmentationLoss(3)(truth, probabilities))
    weighted = float(SegmentationLoss(3, class_weights=[1.0, 3.0, 1.0])(truth, probabilities))
    assert weighted == pytest.approx((-np.log(0.5) + 3 * -np.log(0.25)) / 2) and weighted > plain


def test_an_interrupted_segmentation_run_resumes_with_its_loss_and_metrics(tmp_path):
    import keras

    from cnnbuild.builder.training import run

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    path = seg_spec(tmp_path, "{type: shape_masks, count: 16, image_size: [16, 16], batch_size: 8}", task="segmentation", train=", class_weight: auto")
    path.write_text(path.read_text().replace("epochs: 1", "epochs: 2"), encoding="utf-8")
    assert run(path, output=tmp_path / "run", callbacks=[StopAfterFirstEpoch()]).status == "interrupted"
    resumed = run(resume=tmp_path / "run")
    assert resumed.status == "completed"
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["val_mean_iou"]) == 2 and len(history["iou_background"]) == 2
    assert [row["class"] for row in resumed.metrics["per_class_iou"]] == ["background", "circle", "square"]
