"""The ``task`` section: stated once, checked before TensorFlow with positioned errors, read from the task table."""

from __future__ import annotations

import pytest

from cnnbuild.contracts.tasks import TASKS
from cnnbuild.spec import spec_from_text
from cnnbuild.spec.format_history import ADDED_KEYS
from cnnbuild.spec.sections import METRICS

from .issues import issue_codes

HEAD = """
seed: 1
data: {type: shapes, count: 16, image_size: [12, 12]}
"""


def spec_text(task: str, output: str = "{type: Dense, units: auto, activation: sigmoid}", extra: str = "") -> str:
    return f"{HEAD}task: {task}\nmodel:\n  layers:\n    - Flatten\n    - {output}\n{extra}"


def test_the_task_table_names_every_metric_the_spec_accepts_and_each_task_its_defaults():
    assert set(METRICS) == {metric for task in TASKS.values() for metric in task.metrics}
    for task in TASKS.values():
        assert set(task.default_metrics) <= set(task.metrics)
        assert task.default_loss == "auto" or task.default_loss in task.losses
    assert "task" in ADDED_KEYS


def test_without_a_task_a_spec_is_single_label_and_its_canonical_form_has_no_task():
    spec = spec_from_text(f"{HEAD}model: {{layers: [Flatten, {{type: Dense, units: auto}}]}}\n")
    assert spec.task is None and spec.task_row.name == "single_label"
    assert "task" not in spec.canonical()
    assert spec.compile.metrics == ["accuracy"]


def test_a_task_gets_its_own_metrics_and_keeps_them_in_the_canonical_form():
    spec = spec_from_text(spec_text("multi_label"))
    assert spec.task.type == "multi_label" and spec.task.threshold == "auto"
    assert spec.compile.metrics == ["f1_micro", "f1_macro", "average_precision"]
    canonical = spec.canonical()
    assert canonical["task"] == {"type": "multi_label", "threshold": "auto", "positive_weight": "none"}
    assert list(canonical)[:4] == ["format_version", "name", "seed", "task"]
    again = spec_from_text(__import__("yaml").safe_dump(canonical))
    assert again.canonical() == canonical
    regression = spec_from_text(spec_text("regression", "{type: Dense, units: auto}"))
    assert regression.compile.metrics == ["mae", "rmse"] and regression.task.standardize is True


def test_multi_label_refuses_softmax_categorical_loss_top_k_label_mode_and_class_weight():
    extra = "compile: {loss: categorical_crossentropy, metrics: [f1_macro, top_3_accuracy]}\ntrain: {class_weight: auto}\n"
    text = spec_text("multi_label", "{type: Dense, units: auto, activation: softmax}", extra).replace("image_size: [12, 12]", "image_size: [12, 12], label_mode: int")
    assert issue_codes(text) == [
        ("3:67", "data.label_mode", "task-mismatch"),
        ("8:46", "model.layers[1].activation", "task-mismatch"),
        ("9:17", "compile.loss.type", "task-mismatch"),
        ("9:63", "compile.metrics[1]", "task-mismatch"),
        ("10:23", "train.class_weight", "task-mismatch"),
    ]


def test_regression_refuses_an_activation_a_classification_metric_and_a_wrong_unit_count():
    text = spec_text("regression", "{type: Dense, units: 2, activation: sigmoid}", "compile: {metrics: [accuracy]}\n")
    assert issue_codes(text) == [
        ("8:28", "model.layers[1].units", "task-mismatch"),
        ("8:43", "model.layers[1].activation", "task-mismatch"),
        ("9:21", "compile.metrics[0]", "task-mismatch"),
    ]
    assert issue_codes(spec_text("regression", "{type: Dense, units: auto}", "compile: {loss: huber}\n")) == []


def test_positive_weights_name_labels_of_the_data():
    text = spec_text("{type: multi_label, positive_weight: {circle: 2, hexagon: 3}}")
    assert issue_codes(text) == [("4:56", "task.positive_weight.hexagon", "task-mismatch")]


def test_a_data_source_that_does_not_declare_the_task_is_refused_at_the_task():
    text = "data: {type: digits}\ntask: regression\nmodel: {layers: [Flatten, {type: Dense, units: auto}]}\n"
    assert issue_codes(text) == [("2:7", "task", "task-unsupported")]


@pytest.mark.parametrize("task", ["multi_label", "regression"])
def test_the_data_source_tells_the_output_size_of_units_auto(task):
    from cnnbuild.spec.labels import class_count
    from cnnbuild.spec.shapes import infer_spec

    spec = spec_from_text(spec_text(task, "{type: Dense, units: auto}" if task == "regression" else "{type: Dense, units: auto, activation: sigmoid}"))
    assert infer_spec(spec, spec.registry, class_count(spec))[-1].output_shape == (1 if task == "regression" else 3,)


def test_a_sweep_can_optimise_a_task_metric_and_minimises_errors(tmp_path):
    from cnnbuild.contracts.tasks import lower_is_better
    from cnnbuild.spec.sweep_checks import check_sweep, load_sweep

    text = spec_text("regression", "{type: Dense, units: auto}", "sweep: {metric: val_mae, trials: 2, space: {data.batch_size: {choice: [8, 16]}}}\n")
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    setup = load_sweep(path)
    assert setup.sweep.goal == "minimize"
    assert check_sweep(setup, to_run=False).errors == []
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("val_mae", "val_accuracy"))
    assert [issue.code for issue in check_sweep(load_sweep(wrong), to_run=False).errors] == ["unknown-metric"]
    assert [lower_is_better(name) for name in ("val_loss", "val_mae", "rmse", "val_f1_macro", "average_precision")] == [True, True, True, False, False]


def test_validate_says_which_keys_a_csv_needs_for_the_task(tmp_path):
    (tmp_path / "labels.csv").write_text("filename,label,age\na.png,sky|sea,3\n", encoding="utf-8")
    model = "model:\n  layers:\n    - Flatten\n    - {type: Dense, units: auto}\n"
    text = "task: multi_label\ndata: {type: csv, path: labels.csv, image_size: [8, 8]}\n" + model
    assert issue_codes(text, base_dir=tmp_path) == [("2:25", "data.path", "data-invalid")]
    with pytest.raises(Exception, match="needs data.label_separator"):
        spec_from_text(text, base_dir=tmp_path)
    separated = text.replace("image_size: [8, 8]", "image_size: [8, 8], label_separator: '|'").replace("units: auto}", "units: auto, activation: sigmoid}")
    spec = spec_from_text(separated, base_dir=tmp_path)
    from cnnbuild.spec.labels import known_class_names

    assert known_class_names(spec, spec.registry) == ["sea", "sky"]
    regression = "task: regression\ndata: {type: csv, path: labels.csv, image_size: [8, 8]}\n" + model
    assert issue_codes(regression, base_dir=tmp_path) == [("2:25", "data.path", "data-invalid")]
    assert issue_codes(regression.replace("image_size: [8, 8]", "image_size: [8, 8], target_columns: [age]"), base_dir=tmp_path) == []


def test_a_plugin_data_source_declares_its_tasks_and_a_bad_declaration_is_named(plugin):
    from cnnbuild import DataParams, hookimpl

    class Tagged(DataParams):
        pass

    class Source:
        @hookimpl
        def register_data_sources(self, register):
            register("tagged", Tagged, lambda params, context: None, class_names=lambda params, context: ["a", "b"], tasks=("single_label", "regression"))

    class Bad:
        @hookimpl
        def register_data_sources(self, register):
            register("badtasks", Tagged, lambda params, context: None, tasks=("bogus",))

    registry = plugin(Source(), "tagged-source")
    assert registry.data_sources["tagged"].tasks == ("single_label", "regression")
    assert registry.data_sources["shapes"].tasks == ("single_label", "multi_label", "regression")
    assert registry.data_sources["digits"].tasks == ("single_label",)  # not declared: single-label only, as before 1.4
    text = "data: {type: tagged}\ntask: %s\nmodel: {layers: [Flatten, {type: Dense, units: auto%s}]}\n"
    assert issue_codes(text % ("regression", "")) == []
    assert issue_codes(text % ("multi_label", ", activation: sigmoid")) == [("2:7", "task", "task-unsupported")]
    registry = plugin(Bad(), "bad-tasks")
    assert "badtasks" not in registry.data_sources
    assert any("tasks=('bogus',)" in failure for failure in registry.failures)
