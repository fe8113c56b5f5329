"""Multi-label and regression through training: the data (CSV and the synthetic source), the
pipelines, the loss, the run's task record, metrics, predictions and figures, and resuming.

One trained run per task, shared by the tests of that task (tiny images, one or two epochs)."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnbuild.builder.data.source import load_source
from cnnbuild.spec import spec_from_text

from ..conftest import make_images

MODEL = """
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
    - GlobalAveragePooling2D
    - {type: Dense, units: auto%s}
"""


def task_spec(task: str, data: str, *, epochs: int = 1, extra: str = "", sigmoid: bool | None = None) -> str:
    sigmoid = task == "multi_label" if sigmoid is None else sigmoid
    return textwrap.dedent(f"""
        name: {'regression' if 'regression' in task else 'multilabel'}
        seed: 2
        task: {task}
        data: {data}
        train: {{epochs: {epochs}, verbose: quiet, precision: float32}}
        {extra}
    """) + MODEL % (", activation: sigmoid" if sigmoid else "")


def train(root: Path, text: str, **options):
    from cnnbuild.builder.training import run

    spec = root / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    return run(spec, output=root / "run", **options)


@pytest.fixture(scope="module")
def multi_label_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("multilabel")
    train(root, task_spec("multi_label", "{type: shapes, count: 48, image_size: [16, 16], batch_size: 16}"))
    return root / "run"


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("regression")
    train(root, task_spec("regression", "{type: shapes, count: 48, image_size: [16, 16], batch_size: 16, max_shapes: 3}", epochs=2))
    return root / "run"


# -- the data ----------------------------------------------------------------------------------
def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def pictures(tmp_path) -> list[str]:
    make_images(tmp_path / "pics", {"a": 6, "b": 6})
    return sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "pics").rglob("*.*"))


def test_csv_multi_label_with_a_separator_lists_rows_without_labels_and_unknown_labels(tmp_path, pictures):
    rows = [[name, ["sky|sea", "sea", "sky", "beach|sea"][i % 4]] for i, name in enumerate(pictures[:10])]
    rows += [[pictures[10], ""], [pictures[11], "sky|moon"]]
    write_csv(tmp_path / "labels.csv", ["filename", "label"], rows)
    spec = spec_from_text(task_spec("multi_label", "{type: csv, path: labels.csv, image_size: [12, 12], label_separator: '|', class_names: [beach, sea, sky], validation_split: 0.3}"), base_dir=tmp_path)
    source = load_source(spec)
    assert source.task == "multi_label" and source.class_names == ["beach", "sea", "sky"]
    assert [(Path(s.path).name, s.reason.split(";")[0]) for s in source.skipped] == [
        ("labels.csv:12", "row without labels in column 'label'"),
        ("labels.csv:13", "label(s) ['moon'] are not in data.class_names"),
    ]
    assert source.train_count + source.validation_count == 10
    image, label = next(iter(source.train))
    assert image.shape == (12, 12, 3) and label.dtype.name == "float32" and label.shape == (3,)
    assert sorted(map(tuple, source.train_targets)) == sorted(tuple(row) for row in source.train_targets)  # one vector per training image
    assert all(set(row) <= {0.0, 1.0} for row in source.train_targets)


def test_csv_multi_label_from_columns_and_a_column_that_is_not_zero_or_one(tmp_path, pictures):
    rows = [[name, str(i % 2), str((i // 2) % 2)] for i, name in enumerate(pictures[:11])] + [[pictures[11], "1", "maybe"]]
    write_csv(tmp_path / "flags.csv", ["filename", "cat", "dog"], rows)
    spec = spec_from_text(task_spec("multi_label", "{type: csv, path: flags.csv, image_size: [12, 12], label_columns: [cat, dog]}"), base_dir=tmp_path)
    source = load_source(spec)
    assert source.class_names == ["cat", "dog"]
    assert [(Path(s.path).name, s.reason) for s in source.skipped] == [("flags.csv:13", "dog: not 0 or 1: 'maybe'; not used")]
    assert source.train_count + source.validation_count == 11


def test_csv_regression_lists_missing_text_and_infinite_values_with_their_rows(tmp_path, pictures):
    values = [str(i * 1.5) for i in range(9)] + ["", "lots", "inf"]
    write_csv(tmp_path / "ages.csv", ["filename", "age"], [[name, value] for name, value in zip(pictures, values, strict=True)])
    spec = spec_from_text(task_spec("regression", "{type: csv, path: ages.csv, image_size: [12, 12], target_columns: [age]}"), base_dir=tmp_path)
    source = load_source(spec)
    assert source.class_names == ["age"]
    assert [(Path(s.path).name, s.reason) for s in source.skipped] == [
        ("ages.csv:11", "age: missing value; not used"),
        ("ages.csv:12", "age: not a number: 'lots'; not used"),
        ("ages.csv:13", "age: not a finite number: 'inf'; not used"),
    ]
    validation = [float(label[0]) for _, label in source.validation.as_numpy_iterator()]
    assert sorted([row[0] for row in source.train_targets] + validation) == [i * 1.5 for i in range(9)]


def test_csv_task_columns_without_a_task_are_refused(tmp_path, pictures):
    write_csv(tmp_path / "ages.csv", ["filename", "label", "age"], [[name, "a", "1"] for name in pictures])
    text = "data: {type: csv, path: ages.csv, image_size: [12, 12], target_columns: [age]}\n" + MODEL % ""
    from cnnbuild.errors import DataError

    with pytest.raises(DataError, match="target_columns is for task multi_label or regression"):
        load_source(spec_from_text(text, base_dir=tmp_path, num_classes=2))


def test_the_synthetic_source_repeats_itself_and_splits_by_label_set():
    text = task_spec("multi_label", "{type: shapes, count: 40, image_size: [12, 12], validation_split: 0.25}")
    first, second = load_source(spec_from_text(text)), load_source(spec_from_text(text))
    assert first.fingerprint == second.fingerprint and first.train_targets == second.train_targets
    assert first.train_count + first.validation_count == 40
    validation_sets = [tuple(float(v) for v in label) for _, label in first.validation.as_numpy_iterator()]
    every = [tuple(row) for row in first.train_targets] + validation_sets
    # stratified by label set: every set two or more images share is in the validation split
    assert {labels for labels in every if every.count(labels) >= 2} == set(validation_sets)
    images = np.stack([image for image, _ in first.train.as_numpy_iterator()])
    assert images.shape == (first.train_count, 12, 12, 3) and 0 <= images.min() and images.max() <= 255
    counts = load_source(spec_from_text(task_spec("regression", "{type: shapes, count: 40, image_size: [12, 12], max_shapes: 2}")))
    assert counts.class_names == ["count"] and {row[0] for row in counts.train_targets} == {0.0, 1.0, 2.0}


# -- training, metrics, predictions ---------------------------------------------------------------
def test_a_multi_label_run_chooses_thresholds_on_validation_and_reports_the_task_measures(multi_label_run):
    record = json.loads((multi_label_run / "task.json").read_text())
    assert record["task"] == "multi_label" and record["names"] == ["circle", "square", "triangle"]
    assert record["threshold_source"] == "validation" and len(record["thresholds"]) == 3
    metrics = json.loads((multi_label_run / "metrics.json").read_text())
    measures = metrics["task_metrics"]["validation"]
    assert measures["examples"] == metrics["validation_examples"] == 10
    assert [row["label"] for row in measures["per_label"]] == record["names"]
    assert [row["threshold"] for row in measures["per_label"]] == record["thresholds"]
    for key in ("micro_f1", "macro_f1", "mean_average_precision", "exact_match"):
        assert 0 <= measures[key] <= 1
    history = json.loads((multi_label_run / "history.json").read_text())
    assert {"loss", "f1_micro", "f1_macro", "average_precision", "val_f1_micro", "val_f1_macro", "val_average_precision"} <= set(history)
    lines = (multi_label_run / "predictions.csv").read_text().splitlines()
    assert lines[0] == "split,file,true,predicted,p_circle,p_square,p_triangle,exact" and len(lines) == 11
    assert (multi_label_run / "pr_curves.png").stat().st_size > 1000
    assert not (multi_label_run / "confusion_matrix.png").exists()


def test_thresholds_maximise_f1_per_label():
    from cnnbuild.builder.reports.task_measures import choose_thresholds

    true = np.array([[1, 0], [1, 0], [0, 0], [0, 1]], dtype=float)
    scores = np.array([[0.9, 0.2], [0.3, 0.4], [0.2, 0.1], [0.1, 0.35]])
    assert choose_thresholds(true, scores) == [0.3, 0.35]  # label 2: 0.35 separates; label 1: 0.3 catches both positives


def test_a_regression_run_standardises_its_targets_and_measures_in_original_units(regression_run):
    from cnnbuild.runs import RunRecord
    from cnnbuild.runs.task_record import read_task_record

    record = read_task_record(RunRecord(regression_run))
    spec = RunRecord(regression_run).spec
    source = load_source(spec)
    targets = np.asarray(source.train_targets)
    assert record.task == "regression" and record.names == ["count"]
    assert record.mean == pytest.approx(targets.mean(axis=0).tolist()) and record.std == pytest.approx(targets.std(axis=0).tolist())
    metrics = json.loads((regression_run / "metrics.json").read_text())
    measures = metrics["task_metrics"]["validation"]["per_target"][0]
    # Keras's mae (in original units, through the standardisation) and the run's own agree
    assert measures["mae"] == pytest.approx(metrics["validation"]["mae"], rel=1e-4)
    assert measures["rmse"] == pytest.approx(metrics["validation"]["rmse"], rel=1e-4)
    rows = list(csv.DictReader((regression_run / "predictions.csv").open()))
    assert len(rows) == measures["examples"] == 10
    assert {float(row["true_count"]) for row in rows} <= {0.0, 1.0, 2.0, 3.0}
    assert np.mean([abs(float(row["error_count"])) for row in rows]) == pytest.approx(measures["mae"], rel=1e-4)
    assert (regression_run / "predicted_vs_true.png").stat().st_size > 1000


def test_an_interrupted_multi_label_run_resumes_with_its_task(tmp_path):
    import keras

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    text = task_spec("multi_label", "{type: shapes, count: 32, image_size: [12, 12], batch_size: 16}", epochs=2, extra="task_extra: 0").replace("task_extra: 0", "")
    text = text.replace("task: multi_label", "task: {type: multi_label, positive_weight: auto}")
    first = train(tmp_path, text, callbacks=[StopAfterFirstEpoch()])
    assert first.status == "interrupted"
    from cnnbuild.builder.training import run

    resumed = run(resume=tmp_path / "run")
    assert resumed.status == "completed"
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 2
    assert json.loads((tmp_path / "run" / "task.json").read_text())["threshold_source"] == "validation"


# -- evaluate, predict, report, compare ------------------------------------------------------------
def cnnbuild_cli(*args: str):
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    return CliRunner().invoke(cli, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def shape_images(tmp_path_factory) -> Path:
    """Three images drawn by the synthetic source's own generator: known shapes."""
    from PIL import Image

    from cnnbuild.plugins.builtin.synthetic_shapes import ShapesParams, generate

    folder = tmp_path_factory.mktemp("shape-images")
    images, _, _ = generate(ShapesParams(count=8, image_size=(16, 16)), "multi_label", seed=99)
    for index in range(3):
        Image.fromarray(images[index]).save(folder / f"shape{index}.png")
    return folder


def test_predict_gives_the_labels_at_their_thresholds_and_every_probability(multi_label_run, shape_images):
    from cnnbuild.builder.inference import predict

    thresholds = json.loads((multi_label_run / "task.json").read_text())["thresholds"]
    results = predict(multi_label_run, [shape_images])
    assert [Path(result["path"]).name for result in results] == ["shape0.png", "shape1.png", "shape2.png"]
    for result in results:
        probabilities = result["probabilities"]
        assert list(probabilities) == ["circle", "square", "triangle"]
        expected = [name for name, threshold in zip(probabilities, thresholds, strict=True) if probabilities[name] >= threshold]
        assert sorted(item["label"] for item in result["labels"]) == sorted(expected)
        assert [item["probability"] for item in result["labels"]] == sorted((item["probability"] for item in result["labels"]), reverse=True)
    printed = cnnbuild_cli("predict", multi_label_run, shape_images / "shape0.png")
    assert printed.exit_code == 0, printed.output
    shown = ", ".join(f"{item['label']} {item['probability']:.1%}" for item in results[0]["labels"]) or "no label"
    assert printed.output == f"{shape_images / 'shape0.png'}: {shown}\n"


def test_predict_gives_regression_values_in_original_units(regression_run, shape_images):
    from cnnbuild.builder.inference import open_finished, predict

    record = json.loads((regression_run / "task.json").read_text())
    result = predict(regression_run, [shape_images / "shape1.png"])[0]
    finished = open_finished(regression_run)
    image = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(shape_images / "shape1.png").convert("RGB"), dtype="float32")[None]
    raw = float(finished.model.predict_on_batch(image)[0, 0])
    assert result["values"]["count"] == pytest.approx(raw * record["std"][0] + record["mean"][0], rel=1e-4)
    printed = cnnbuild_cli("predict", regression_run, shape_images / "shape1.png", "--json")
    assert json.loads(printed.output)[0]["values"]["count"] == pytest.approx(result["values"]["count"], rel=1e-5)


def test_evaluate_measures_the_validation_split_as_the_run_did(multi_label_run, regression_run, tmp_path):
    from cnnbuild.builder.evaluate import evaluate

    for run_dir, figure in ((multi_label_run, "pr_curves.png"), (regression_run, "predicted_vs_true.png")):
        result = evaluate(run_dir, out=tmp_path / run_dir.parent.name)
        at_the_end = json.loads((run_dir / "metrics.json").read_text())["task_metrics"]["validation"]
        found = result.as_dict()
        for key in ("micro_f1", "macro_f1", "mean_average_precision", "mae", "rmse", "r2"):
            if key in at_the_end:
                assert found[key] == pytest.approx(at_the_end[key], rel=1e-5), key
        assert sorted(path.name for path in result.written) == sorted(["predictions.csv", figure])
        assert (tmp_path / run_dir.parent.name / "predictions.csv").read_text() == (run_dir / "predictions.csv").read_text()


def test_report_and_compare_show_the_task_measures(multi_label_run, regression_run, tmp_path):
    from cnnbuild.builder.reports.compare import compare_runs
    from cnnbuild.builder.reports.html_report import render_report

    page = render_report(multi_label_run)
    assert "Precision-recall per label" in page and "Per-label metrics, validation split" in page and "Confusion matrix" not in page
    assert "Predicted against true" in render_report(regression_run)
    comparison = compare_runs([multi_label_run, regression_run], tmp_path / "compare.png")
    rows = comparison.as_dict()["runs"]
    assert [row["task"] for row in rows] == ["multi_label", "regression"]
    assert set(rows[0]["task_measures"]) == {"micro_f1", "macro_f1", "mean_average_precision"} and set(rows[1]["task_measures"]) == {"mae", "rmse", "r2"}
    assert "micro_f1 (task)" in comparison.table and "mae (task)" in comparison.table


# -- export and serve ----------------------------------------------------------------------------
@pytest.mark.parametrize(("fixture", "format"), [("multi_label_run", "onnx"), ("regression_run", "tflite")])
def test_an_export_keeps_the_task_and_passes_parity_by_the_tasks_measure(fixture, format, request, tmp_path, shape_images):
    pytest.importorskip("onnxruntime" if format == "onnx" else "tensorflow")
    from cnnbuild.builder.inference import predict
    from cnnbuild.export.exporter import export_run
    from cnnbuild.export.prediction import predict_images

    run_dir = request.getfixturevalue(fixture)
    record = json.loads((run_dir / "task.json").read_text())
    result = export_run(run_dir, format, out=tmp_path / format)
    output = result.info.output
    assert output.task == record["task"] and result.info.class_names == record["names"]
    assert output.thresholds == record.get("thresholds", []) and output.target_mean == record.get("mean", [])
    document = json.loads((tmp_path / format / "export.json").read_text())
    parity = document["parity"]
    assert parity["passed"] and parity["task"] == record["task"] and parity["agreement"] >= 0.99
    if record["task"] == "regression":
        assert parity["max_value_difference"] <= parity["value_tolerance"] * 20 and parity["export_mae"] == pytest.approx(parity["keras_mae"], rel=0.05)
    exported = predict_images(result.model_path, [shape_images])
    from_run = predict(run_dir, [shape_images])
    for mine, theirs in zip(exported, from_run, strict=True):
        if record["task"] == "regression":
            assert mine["values"]["count"] == pytest.approx(theirs["values"]["count"], abs=0.05 * record["std"][0])
        else:
            assert list(mine["probabilities"]) == record["names"]
            assert max(abs(mine["probabilities"][n] - theirs["probabilities"][n]) for n in record["names"]) < 0.02


def test_serve_answers_with_labels_or_values(multi_label_run, regression_run, tmp_path, shape_images):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from cnnbuild.export.location import open_model
    from cnnbuild.serve.app import create_app

    image = (shape_images / "shape2.png").read_bytes()
    for run_dir in (multi_label_run, regression_run):
        with TestClient(create_app(open_model(run_dir))) as client:
            reply = client.post("/predict", files={"file": ("shape2.png", image, "image/png")})
        assert reply.status_code == 200, reply.text
        answer = reply.json()["predictions"][0]
        assert answer["filename"] == "shape2.png"
        if run_dir == regression_run:
            assert set(answer) == {"filename", "values"} and isinstance(answer["values"]["count"], float)
        else:
            assert set(answer) == {"filename", "labels", "probabilities"} and list(answer["probabilities"]) == ["circle", "square", "triangle"]


def test_preview_counts_images_per_label_and_titles_them_with_their_labels(tmp_path):
    from cnnbuild.builder.reports.preview import preview

    spec = spec_from_text(task_spec("multi_label", "{type: shapes, count: 24, image_size: [12, 12]}"))
    result = preview(spec, tmp_path)
    source = load_source(spec)
    every = source.train_targets + [list(label) for _, label in source.validation.as_numpy_iterator()]
    assert result.report.total == 24
    assert result.report.counts == {name: int(sum(row[i] for row in every)) for i, name in enumerate(["circle", "square", "triangle"])}
    first = "|".join(name for name, value in zip(["circle", "square", "triangle"], source.train_targets[0], strict=True) if value) or "(no label)"
    assert result.titles["samples.png"][1] == first
    counted = preview(spec_from_text(task_spec("regression", "{type: shapes, count: 24, image_size: [12, 12]}")), tmp_path / "r")
    assert counted.report.counts == {"count": 24} and counted.titles["samples.png"][1].startswith("count ")


def test_positive_weights_are_negatives_over_positives_capped_or_as_given():
    from cnnbuild.builder.data.task_targets import MAX_POSITIVE_WEIGHT, positive_weights
    from cnnbuild.contracts.data import Datasets

    targets = [[1.0, 0.0, 0.0]] + [[0.0, 1.0, 0.0]] * 3 + [[1.0, 1.0, 0.0]] * 200
    source = Datasets(train=None, validation=None, class_names=["a", "b", "c"], train_count=len(targets), task="multi_label", train_targets=targets)
    auto = spec_from_text(task_spec("{type: multi_label, positive_weight: auto}", "{type: shapes, count: 16, image_size: [12, 12], shapes: [circle, square, triangle]}"), num_classes=3)
    assert positive_weights(auto, source) == pytest.approx((3 / 201, 1 / 203, 1.0), abs=1e-6)  # c is never present: weight 1
    rare = Datasets(train=None, validation=None, class_names=["a", "b", "c"], train_count=1000, task="multi_label", train_targets=[[1.0, 1.0, 1.0]] + [[0.0, 1.0, 1.0]] * 999)
    assert positive_weights(auto, rare)[0] == MAX_POSITIVE_WEIGHT
    given = spec_from_text(task_spec("{type: multi_label, positive_weight: {square: 4}}", "{type: shapes, count: 16, image_size: [12, 12]}"))
    assert positive_weights(given, Datasets(train=None, validation=None, class_names=["circle", "square", "triangle"], train_count=0)) == (1.0, 4.0, 1.0)


def test_a_regression_run_from_a_csv_names_its_files_and_evaluates_another_csv(tmp_path):
    from cnnbuild.builder.evaluate import evaluate
    from cnnbuild.errors import DataError

    make_images(tmp_path / "pics", {"a": 8, "b": 8}, size=(12, 12))
    pictures = sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "pics").rglob("*.*"))
    write_csv(tmp_path / "train.csv", ["filename", "size", "weight"], [[name, str(i % 5), str(10 + i)] for i, name in enumerate(pictures)] + [["pics/a/none.png", "1", "2"]])
    write_csv(tmp_path / "test.csv", ["filename", "size", "weight"], [[name, "1", "11"] for name in pictures[:4]] + [[pictures[4], "", "3"]])
    result = train(tmp_path, task_spec("regression", "{type: csv, path: train.csv, test_path: test.csv, image_size: [12, 12], target_columns: [size, weight], batch_size: 8}"))
    run_dir = tmp_path / "run"
    assert result.class_names == ["size", "weight"]
    assert sorted(Path(item["path"]).name for item in json.loads((run_dir / "skipped.json").read_text())) == ["none.png", "test.csv:6"]
    measured = json.loads((run_dir / "metrics.json").read_text())["task_metrics"]
    assert measured["test"]["examples"] == 4 and measured["validation"]["examples"] == result.metrics["validation_examples"]
    rows = list(csv.DictReader((run_dir / "predictions.csv").open()))
    assert [row["split"] for row in rows].count("test") == 4 and {row["true_size"] for row in rows if row["split"] == "test"} == {"1"}
    assert rows and all(row["file"].startswith(str(tmp_path / "pics")) for row in rows)
    assert list(rows[0]) == ["split", "file", "true_size", "predicted_size", "error_size", "true_weight", "predicted_weight", "error_weight"]
    write_csv(tmp_path / "other.csv", ["filename", "size", "weight"], [[name, "2", "12"] for name in pictures[:5]])
    evaluation = evaluate(run_dir, data=tmp_path / "other.csv", out=tmp_path / "eval")
    assert evaluation.measures["examples"] == 5 and [row["target"] for row in evaluation.measures["per_target"]] == ["size", "weight"]
    write_csv(tmp_path / "wrong.csv", ["filename", "size"], [[name, "2"] for name in pictures[:5]])
    with pytest.raises(DataError, match="no column"):
        evaluate(run_dir, data=tmp_path / "wrong.csv")


def test_a_multi_label_run_from_a_csv_evaluates_a_csv_holding_some_of_its_labels(tmp_path):
    from cnnbuild.builder.evaluate import evaluate

    make_images(tmp_path / "pics", {"a": 8, "b": 8}, size=(12, 12))
    pictures = sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "pics").rglob("*.*"))
    sets = ["beach|sea", "sea", "sky", "beach|sky", "sea|sky"]
    write_csv(tmp_path / "train.csv", ["filename", "tags"], [[name, sets[i % 5]] for i, name in enumerate(pictures)])
    train(tmp_path, task_spec("multi_label", "{type: csv, path: train.csv, image_size: [12, 12], label_column: tags, label_separator: '|', batch_size: 8}"))
    assert json.loads((tmp_path / "run" / "class_names.json").read_text()) == ["beach", "sea", "sky"]
    write_csv(tmp_path / "other.csv", ["filename", "tags"], [[name, "sky"] for name in pictures[:6]])
    evaluation = evaluate(tmp_path / "run", data=tmp_path / "other.csv", out=tmp_path / "eval")
    rows = evaluation.measures["per_label"]
    assert [row["label"] for row in rows] == ["beach", "sea", "sky"] and [row["support"] for row in rows] == [0, 0, 6]
    lines = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()
    assert lines[0] == "split,file,true,predicted,p_beach,p_sea,p_sky,exact" and all(line.split(",")[2] == "sky" for line in lines[1:])
