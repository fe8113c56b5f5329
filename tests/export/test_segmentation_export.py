"""Segmentation through export, predict and evaluate on an export: the task and mask size in every
format's metadata, the parity check by mask IoU (recorded in export.json), mask PNGs from an
export without TensorFlow, and an export measured on a folder of images and masks.

One tiny trained run for the session (``tiny_segmentation_run``: 16x16 shapes, one epoch)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from ..conftest import shared_once

FORMATS = {"tflite": "ai_edge_litert", "onnx": "onnxruntime", "saved_model": "tensorflow"}


def exported(tmp_path_factory, run_dir: Path, format: str) -> Path:
    """``run_dir`` exported once per session to ``format`` (its export folder; read-only)."""

    def export(folder: Path) -> None:
        from cnnbuild.export.exporter import export_run

        export_run(run_dir, format, out=folder / format, latency_runs=2)

    return shared_once(tmp_path_factory, f"segmentation-{format}", export) / format


@pytest.fixture(scope="module")
def seg_tflite(segmentation_tflite) -> Path:
    return segmentation_tflite


@pytest.mark.parametrize("format", list(FORMATS))
def test_every_format_keeps_the_task_and_passes_parity_by_mask_iou(format, tiny_segmentation_run, tmp_path_factory, request):
    pytest.importorskip(FORMATS[format], reason="needs the export extra: pip install -e '.[export]'")
    from cnnbuild.export.location import open_exported
    from cnnbuild.export.mask_parity import MASK_IOU

    folder = request.getfixturevalue("segmentation_tflite") if format == "tflite" else exported(tmp_path_factory, tiny_segmentation_run, format)
    names = json.loads((tiny_segmentation_run / "class_names.json").read_text())
    model = open_exported(folder)
    info = model.info
    assert info.output.task == "segmentation" and info.class_names == names == ["background", "circle", "square"]
    assert info.output.mask_size == [16, 16] and info.output.applied == "none" and info.output.label_mode == "mask"
    document = json.loads((folder / "export.json").read_text())
    parity = document["parity"]
    metrics = json.loads((tiny_segmentation_run / "metrics.json").read_text())
    assert parity["passed"] and parity["task"] == "segmentation" and parity["examples"] == metrics["validation_examples"]
    assert parity["mask_iou_threshold"] == MASK_IOU == 0.99
    assert parity["agreement"] >= MASK_IOU and parity["min_mask_iou"] >= 0.9 and parity["max_probability_difference"] < 1e-4
    assert parity["keras_mean_iou"] == pytest.approx(parity["export_mean_iou"], abs=0.01)
    assert parity["keras_accuracy"] == pytest.approx(metrics["validation"]["pixel_accuracy"], abs=1e-3)  # the same split, the same model
    assert document["metadata"]["output"]["mask_size"] == [16, 16]
    # the model answers a map of class probabilities at the model's size, whatever the image's size
    image = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    probabilities = np.asarray(model(image[None]))
    assert probabilities.shape == (1, 16, 16, 3) and np.allclose(probabilities.sum(axis=-1), 1.0, atol=1e-4)


def test_a_float_export_whose_masks_differ_fails_its_parity_check():
    from cnnbuild.export.mask_parity import mask_problems
    from cnnbuild.export.parity import Parity, judge

    def parity(agreement: float, quantize: str = "none", export_accuracy: float = 0.9) -> Parity:
        return Parity(
            format="onnx", quantize=quantize, examples=4, agreement=agreement, keras_accuracy=0.9, export_accuracy=export_accuracy,
            max_probability_difference=0.1, keras_bytes=1, export_bytes=1, keras_latency_ms=1, export_latency_ms=1, latency_runs=1,
            runtime="x", task="segmentation", min_mask_iou=agreement - 0.1, mask_iou_threshold=0.99, keras_mean_iou=0.5, export_mean_iou=0.5,
        )  # fmt: skip

    assert mask_problems(parity(0.995)) == []
    failing = parity(0.95)
    judge(failing, max_accuracy_drop=2.0, facts={})
    assert failing.problems == [
        "the float export's masks have a pooled IoU of 0.9500 with the Keras model's over all the validation pixels (the lowest image's mean IoU 0.8500), under the 0.99 expected"
    ]
    quantized = parity(0.95, "dynamic", export_accuracy=0.85)  # quantized: judged by the pixel accuracy against the true masks
    judge(quantized, max_accuracy_drop=2.0, facts={"weights": {"int8": 90, "float32": 10}})
    assert quantized.problems == ["pixel accuracy drops 5.00 points (90.00% -> 85.00%), more than the allowed 2"]
    assert "mask IoU with Keras (pooled / lowest image)" in failing.table()


def test_a_pixel_flipped_into_a_new_class_does_not_fail_a_float_export_but_wrong_masks_do():
    from cnnbuild.builder.reports.segmentation_report import image_measures
    from cnnbuild.export.mask_parity import MASK_IOU, mask_confusion, pooled_iou

    keras_masks = np.zeros((3, 16, 16), dtype="int64")
    keras_masks[:, :, 8:] = 1
    flipped = keras_masks.copy()
    flipped[0, 0, 0] = 2  # one pixel of a class neither mask otherwise shows
    assert image_measures(keras_masks[0], flipped[0], 3, None)[0] < 0.7  # per image, that image would fail
    confusion = mask_confusion(keras_masks, flipped, 3)
    assert confusion.sum() == keras_masks.size and confusion[0, 2] == 1 and np.trace(confusion) == keras_masks.size - 1
    assert pooled_iou(confusion) == pytest.approx((768 - 1) / (768 + 1)) and pooled_iou(confusion) >= MASK_IOU
    wrong = keras_masks.copy()
    wrong[:, :2, :] = 2  # an eighth of every mask in another class
    poor = pooled_iou(mask_confusion(keras_masks, wrong, 3))
    assert poor == pytest.approx((768 - 96) / (768 + 96)) and poor < MASK_IOU
    assert pooled_iou(mask_confusion(keras_masks, keras_masks, 3)) == 1.0 and pooled_iou(np.zeros((3, 3))) == 1.0


def test_the_parity_check_measures_batch_by_batch_with_the_figures_of_one_batch(tiny_segmentation_run, seg_tflite):
    from cnnbuild.export import samples
    from cnnbuild.export.location import load_keras_model, open_exported
    from cnnbuild.export.mask_parity import compare_masks
    from cnnbuild.runs.record import RunRecord

    record = RunRecord.open(tiny_segmentation_run)
    exported = open_exported(seg_tflite)
    examples = samples.validation_examples(samples.load_data(record.spec, record.class_names), exported.info.input, 2000)
    model = load_keras_model(record, allow_unsafe=False)
    whole, batched = (compare_masks(model, exported, examples, keras_bytes=1, latency_runs=1, batch=batch) for batch in (len(examples.raw), 3))
    assert len(examples.raw) > 3 and batched.examples == whole.examples == len(examples.raw)  # several batches, one of them partial
    for name in ("agreement", "min_mask_iou", "keras_accuracy", "export_accuracy", "keras_mean_iou", "export_mean_iou", "max_probability_difference"):
        assert getattr(batched, name) == pytest.approx(getattr(whole, name), abs=1e-9), name
    saved = json.loads((seg_tflite / "export.json").read_text())["parity"]
    assert batched.agreement == pytest.approx(saved["agreement"], abs=1e-9) and batched.keras_accuracy == pytest.approx(saved["keras_accuracy"], abs=1e-9)


@pytest.fixture(scope="module")
def new_images(tmp_path_factory) -> Path:
    """Images the run never saw: one of another size than the model's, one at its size, and a broken file."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("seg-new")
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / "square.jpg")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def test_predict_with_a_tflite_export_writes_the_runs_masks_without_tensorflow(seg_tflite, tiny_segmentation_run, new_images, tmp_path):
    from PIL import Image

    from cnnbuild.builder.segmentation_predict import predict_masks

    from . import no_tensorflow

    result = no_tensorflow.run("predict", str(seg_tflite), str(new_images), "--json", "--masks-out", str(tmp_path / "export"))
    assert result.returncode == 1, result.stderr  # the broken file is an error; the others are answered
    answers = {Path(item["path"]).name: item for item in json.loads(result.stdout)}
    assert answers["broken.png"]["error"] == "not an image cnnbuild reads (PNG, JPEG, BMP, GIF, WEBP, TIFF)"
    from_run = {Path(item["path"]).name: item for item in predict_masks(tiny_segmentation_run, [new_images], tmp_path / "run")}
    for name, size in (("wide.png", (24, 20)), ("square.jpg", (16, 16))):
        mine, theirs = answers[name], from_run[name]
        assert Path(mine["mask"]) == tmp_path / "export" / (Path(name).stem + ".png")
        assert list(mine["classes"]) == ["background", "circle", "square"] and sum(mine["classes"].values()) == pytest.approx(1.0, abs=1e-5)
        with Image.open(mine["mask"]) as exported_mask, Image.open(theirs["mask"]) as run_mask:
            assert exported_mask.mode == "P" and exported_mask.size == size  # class indices at the image's own size
            assert exported_mask.getpalette()[:6] == run_mask.getpalette()[:6]
            same = np.mean(np.asarray(exported_mask) == np.asarray(run_mask))
        assert same >= 0.99, f"{name}: only {same:.2%} of the pixels have the run's class"
        assert mine["classes"] == pytest.approx(theirs["classes"], abs=0.01)
    text = no_tensorflow.run("predict", str(seg_tflite), str(new_images / "wide.png"), "--masks-out", str(tmp_path / "text"))
    assert text.returncode == 0 and text.stdout.startswith(f"{new_images / 'wide.png'}: mask {tmp_path / 'text' / 'wide.png'} (background ")


def mask_folder(folder: Path, count: int, seed: int) -> Path:
    """``folder/images`` and ``folder/masks`` of generated shapes, and a mask without its image."""
    from PIL import Image

    from cnnbuild.plugins.builtin.segmentation_sources import ShapeMasksParams, generate_masks

    images, masks = generate_masks(ShapeMasksParams(count=count, image_size=(16, 16)), seed)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for index, (image, mask) in enumerate(zip(images, masks, strict=True)):
        Image.fromarray(np.asarray(image, "uint8")).save(folder / "images" / f"s{index}.png")
        Image.fromarray(np.asarray(mask, "uint8"), mode="L").save(folder / "masks" / f"s{index}.png")
    Image.fromarray(np.asarray(masks[0], "uint8"), mode="L").save(folder / "masks" / "orphan.png")
    return folder


def test_evaluate_a_tflite_export_on_images_and_masks_as_the_run_measures_them_without_tensorflow(seg_tflite, tiny_segmentation_run, tmp_path):
    from cnnbuild.builder.evaluate import evaluate

    from . import no_tensorflow

    data = mask_folder(tmp_path / "data", 8, seed=11)
    result = no_tensorflow.run("evaluate", str(seg_tflite), "--data", str(data), "--out", str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    mine = json.loads(result.stdout)
    theirs = evaluate(tiny_segmentation_run, data, out=tmp_path / "run-out").as_dict()
    assert mine["task"] == "segmentation" and mine["examples"] == theirs["examples"] == 8
    assert mine["mean_iou"] == pytest.approx(theirs["mean_iou"], abs=1e-4) and mine["pixel_accuracy"] == pytest.approx(theirs["pixel_accuracy"], abs=1e-4)
    assert mine["per_class_iou"] == theirs["per_class_iou"] and mine["confusion_matrix"] == theirs["confusion_matrix"]
    assert mine["skipped"] == [{"path": str(data / "masks" / "orphan.png"), "reason": f"no image named orphan.* in {data / 'images'}"}]
    out = tmp_path / "out"
    assert sorted(path.name for path in (out / "masks").iterdir()) == [f"data_{index:05d}.png" for index in range(8)]
    assert (out / "mask_overlays.png").stat().st_size > 1000 and (out / "predictions.csv").read_text().startswith("split,example,mean_iou,pixel_accuracy\ndata,data[0],")
    refused = no_tensorflow.run("evaluate", str(seg_tflite), "--data", str(data / "images"))
    assert refused.returncode != 0 and "a segmentation export evaluates a folder holding images/ and masks/" in refused.stderr + refused.stdout


def test_a_two_class_sigmoid_model_exports_two_columns_per_pixel(tmp_path, tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="needs the export extra: pip install -e '.[export]'")
    from cnnbuild.builder.training import run
    from cnnbuild.export.exporter import export_run
    from cnnbuild.export.prediction import predict_images

    from ..conftest import TINY_SEGMENTATION

    spec = tmp_path / "binary.yaml"
    text = TINY_SEGMENTATION.replace("count: 24,", "count: 16, shapes: [circle],").replace("activation: softmax", "activation: sigmoid").replace("compile: {loss: dice_crossentropy}\n", "")
    spec.write_text(text.lstrip(), encoding="utf-8")
    run(spec, output=tmp_path / "run")
    result = export_run(tmp_path / "run", "onnx", out=tmp_path / "onnx", latency_runs=2)
    output = result.info.output
    assert result.info.class_names == ["background", "circle"] and output.label_mode == "binary_mask"
    assert output.binary_two_columns and output.applied == "none" and result.parity.passed and result.parity.agreement >= 0.99
    pixels = np.random.default_rng(1).integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    from cnnbuild.export.location import open_exported

    probabilities = np.asarray(open_exported(result.model_path)(pixels))
    assert probabilities.shape == (1, 16, 16, 2) and np.allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    from PIL import Image

    Image.fromarray(pixels[0]).save(tmp_path / "x.png")
    (answer,) = predict_images(result.model_path, [tmp_path / "x.png"], masks_out=tmp_path / "masks")
    with Image.open(answer["mask"]) as mask:
        assert set(np.unique(np.asarray(mask))) <= {0, 1} and list(answer["classes"]) == ["background", "circle"]


def test_masks_of_more_than_256_classes_are_refused_not_wrapped():
    from PIL import Image

    from cnnbuild.data.mask_pngs import mask_png
    from cnnbuild.errors import DataError

    mask = np.array([[0, 255], [17, 1]])
    with Image.open(io.BytesIO(mask_png(mask, (2, 2), 256))) as written:  # 256 classes: every index fits a byte
        assert np.array_equal(np.asarray(written), mask)
    with pytest.raises(DataError, match=r"the model has 300 classes, and a mask PNG holds class indices 0\.\.255 only; .*train with at most 256 classes"):
        mask_png(np.array([[0, 299]]), (2, 1), 300)  # index 299 would have been written as 43
