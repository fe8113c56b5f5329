"""The sweep section: its errors located like any spec error, and a space checked before any trial trains."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cnnbuild.spec import SpecError, load_spec, render_errors
from cnnbuild.spec.overrides import apply_overrides, format_override
from cnnbuild.spec.sweep_checks import check_sweep, load_sweep, validate_file
from cnnbuild.spec.yaml_source import parse_yaml

from ..conftest import run_cli
from .issues import located

REPO = Path(__file__).resolve().parents[2]
BASE = """\
name: tiny
seed: 3
data: {type: digits, image_size: [8, 8], color_mode: grayscale}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - Flatten
    - {type: Dropout, rate: 0.1}
    - {type: Dense, units: auto}
compile:
  optimizer: {type: adam, learning_rate: 0.01}
train: {epochs: 2}
"""


def without_optuna_note(line: int) -> list[tuple[str, str, str]]:
    """The warning validate adds where Optuna is not installed (the sweep is checked all the same), as :func:`located` gives it."""
    if importlib.util.find_spec("optuna") is not None:
        return []
    return [(f"{line}:1", "sweep", "missing-package")]


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        validate_file(path)
    return render_errors(caught.value.issues).splitlines()


def codes_of(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(SpecError) as caught:
        validate_file(path)
    return located(caught.value.issues)


def test_the_example_sweep_is_valid_and_its_spec_trains_without_the_sweep():
    issues, note = validate_file(REPO / "examples" / "digits_sweep.yaml"), without_optuna_note(43)
    assert located(issues, severity="warning") == note and len(issues) == len(note)
    spec = load_spec(REPO / "examples" / "digits_sweep.yaml")
    assert spec.sweep.goal == "maximize" and spec.sweep.trials == 20 and spec.sweep.pruner.type == "none"
    assert list(spec.sweep.space) == ["model.layers[1].filters", "compile.optimizer.learning_rate", "model.layers[6].rate"]
    assert "sweep" not in spec.canonical()  # a run's spec.yaml holds what it trained, not the search


def test_section_errors_point_at_their_lines(tmp_path):
    path = write(tmp_path, BASE + """\
sweep:
  metric: val_acurracy
  direction: upwards
  space:
    model.layers[1].filters: {choice: [2, 4], int: [1, 8]}
    model.layers[4].rate: {uniform: [0.0, 0.5], step: 0.2}
    compile.optimizer.learning_rate: {log_uniform: [0.1, 0.01]}
    model.layers[1].kernel_size: {int: [1, 5], log: true, step: 2}
""")
    assert codes_of(path) == [
        ("17:14", "sweep.direction", "invalid-value"),
        ("19:30", "sweep.space.model.layers[1].filters", "invalid-value"),
        ("20:27", "sweep.space.model.layers[4].rate", "invalid-value"),
        ("21:38", "sweep.space.compile.optimizer.learning_rate", "invalid-value"),
        ("22:34", "sweep.space.model.layers[1].kernel_size", "invalid-value"),
    ]
    assert errors_of(path)[1] == (
        f"{path}:19:30: sweep.space.model.layers[1].filters: give exactly one of choice: [...], int: [low, high], uniform: [low, high] or log_uniform: [low, high]; got choice, int"
    )


def test_values_that_break_the_spec_are_errors_at_the_value(tmp_path):
    path = write(tmp_path, BASE + """\
sweep:
  metric: val_acurracy
  sampler: grid
  space:
    model.layers[2].pool_size: {choice: [2, 16]}
    model.layers[4].rate: {uniform: [0.0, 1.0], step: 0.5}
    compile.optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}
    model.layers[9].filters: {choice: [4]}
    sweep.trials: {choice: [1, 2]}
""")
    assert codes_of(path) == [
        ("16:11", "sweep.metric", "unknown-metric"),
        ("19:45", "sweep.space.model.layers[2].pool_size.choice[1]", "invalid-trial"),
        ("20:43", "sweep.space.model.layers[4].rate.uniform[1]", "invalid-trial"),
        ("21:38", "sweep.space.compile.optimizer.learning_rate", "invalid-value"),
        ("22:40", "sweep.space.model.layers[9].filters.choice[0]", "invalid-trial"),
        ("23:5", "sweep.space.sweep.trials", "not-allowed-here"),
    ]
    assert errors_of(path) == [
        f"{path}:16:11: sweep.metric: 'val_acurracy' is not a metric the runs record; did you mean 'val_accuracy'?",
        f"{path}:19:45: sweep.space.model.layers[2].pool_size.choice[1]: 16 gives an invalid spec: model.layers[2]: MaxPooling2D cannot take input shape (8, 8, 4): "
        "window (16, 16) with strides (16, 16) shrinks (8, 8) to (0, 0); use padding: same, a smaller kernel or stride, or a larger image_size",
        f"{path}:20:43: sweep.space.model.layers[4].rate.uniform[1]: 1.0 gives an invalid spec: model.layers[4].rate: must be less than 1, got 1.0",
        f"{path}:21:38: sweep.space.compile.optimizer.learning_rate: the grid sampler needs finitely many values: use choice, int, or uniform with step (not log_uniform)",
        f"{path}:22:40: sweep.space.model.layers[9].filters.choice[0]: 4 gives an invalid spec: model.layers[9].filters: index [9] is past the end of a list of 6",
        f"{path}:23:5: sweep.space.sweep.trials: a sweep cannot search its own settings",
    ]


def test_combinations_that_break_the_spec_are_warnings(tmp_path):
    """Each value is fine with the base spec; one combination is not: known before training, recorded invalid when sampled."""
    path = write(tmp_path, BASE + """\
sweep:
  space:
    model.layers[1].kernel_size: {choice: [3, 9]}
    model.layers[1].padding: {choice: [same, valid]}
""")
    note = without_optuna_note(15)
    warnings = validate_file(path)
    assert located(warnings, severity="warning") == [*note, ("16:3", "sweep.space", "invalid-combination")]
    (combination,) = [warning for warning in warnings if warning.code == "invalid-combination"]
    assert combination.message.startswith("1 combination(s) of the values tried give invalid specs; such trials will be recorded invalid: ")
    assert "model.layers[1].kernel_size=9, model.layers[1].padding=valid gives an invalid spec (model.layers[1]: Conv2D cannot take input shape (8, 8, 1)" in combination.message


def test_a_sweep_file_names_its_base_spec(tmp_path):
    base = write(tmp_path, BASE, "base.yaml")
    sweep = write(tmp_path, """\
spec: base.yaml
sweep:
  trials: 3
  space:
    model.layers[1].filters: {choice: [2, 8]}
""", "search.yaml")
    setup = load_sweep(sweep, ["train.epochs=1"])
    assert setup.spec.train.epochs == 1 and setup.spec.source.filename == str(base) and setup.sweep.trials == 3
    assert check_sweep(setup, to_run=False).errors == []
    write(tmp_path, BASE + "sweep:\n  space:\n    seed: {choice: [1, 2]}\n", "base.yaml")
    assert codes_of(sweep) == [("1:7", "spec", "conflict")]
    write(tmp_path, "spec: base.yaml\nsweep:\n  space: {}\n  trails: 3\n", "search.yaml")
    assert codes_of(sweep) == [("3:10", "sweep.space", "invalid-value"), ("4:3", "sweep.trails", "unknown-key")]


#: ``python -c WITHOUT_OPTUNA ...``: Python with ``import optuna`` failing (as where it is not installed), then CODE.
WITHOUT_OPTUNA = "import sys; sys.modules['optuna'] = None; "


def without_optuna(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_OPTUNA + code, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_without_optuna_validate_checks_a_sweep_and_only_warns_and_cnnbuild_sweep_refuses_with_the_pip_command(tmp_path):
    """docs/architecture.md: validate checks a sweep without Optuna; only cnnbuild sweep needs it."""
    good = write(tmp_path, BASE + "sweep:\n  space:\n    seed: {choice: [1, 2]}\n")
    bad = write(tmp_path, BASE + "sweep:\n  metric: val_acuracy\n  space:\n    seed: {choice: [1, 2]}\n", "bad.yaml")
    cli = "from cnnbuild.cli import main; main()"
    validated = without_optuna(cli, "validate", str(good), str(bad))
    assert validated.returncode == 1 and f"{good}: ok" in validated.stdout
    assert validated.stderr.splitlines() == [
        f"{good}:15:1: sweep: warning: cnnbuild sweep needs Optuna: pip install 'cnnbuild[sweep]' (cnnbuild run trains the spec without it)",
        f"{bad}:15:1: sweep: warning: cnnbuild sweep needs Optuna: pip install 'cnnbuild[sweep]' (cnnbuild run trains the spec without it)",
        f"{bad}:16:11: sweep.metric: 'val_acuracy' is not a metric the runs record; did you mean 'val_accuracy'?",
    ]
    swept = without_optuna(cli, "sweep", str(good), "--output", str(tmp_path / "sweep"))
    assert swept.returncode == 1 and swept.stderr.strip() == f"{good}:15:1: sweep: cnnbuild sweep needs Optuna: pip install 'cnnbuild[sweep]'"
    assert not (tmp_path / "sweep").exists()


def test_a_missing_optuna_is_a_missing_package_error_to_sweep_and_a_warning_to_validate(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a))
    setup = load_sweep(write(tmp_path, BASE + "sweep:\n  space:\n    seed: {choice: [1, 2]}\n"))
    assert located(check_sweep(setup).errors) == [("15:1", "sweep", "missing-package")]
    validated = check_sweep(setup, to_run=False)
    assert validated.errors == [] and located(validated.warnings, severity="warning") == [("15:1", "sweep", "missing-package")]


def test_without_optuna_the_tests_that_sweep_are_skipped_not_failed():
    tests = ["tests/sweep", "tests/plugins/test_mlflow_tracking.py::test_a_sweep_is_a_parent_run_with_its_trials_as_children"]
    done = without_optuna("import pytest; sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider', *sys.argv[1:]]))", *tests)
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.splitlines()[-1]
    modules = len(list((REPO / "tests" / "sweep").glob("test_*.py")))
    assert summary.startswith(f"{modules + 1} skipped in ")  # each sweep test module (all its tests) and the MLflow sweep test
    assert "tests/sweep/test_sweeps.py:" in done.stdout and "could not import 'optuna'" in done.stdout


@pytest.mark.parametrize("value", [3e-05, 16, "same", None, [], [{"type": "RandomFlip", "mode": "horizontal"}], "1/255", "yes", True, 0.1])
def test_sampled_values_reach_the_spec_unchanged(value):
    """JSON writes 3e-05, which YAML 1.1 reads as a string: overrides are written as YAML."""
    assert apply_overrides(parse_yaml("x: 1"), [format_override("k", value)]).data["k"] == value


def test_validate_command_checks_the_space(tmp_path):
    path = write(tmp_path, BASE + "sweep:\n  space:\n    model.layers[1].kernel_size: {choice: [3, 9]}\n    model.layers[1].padding: {choice: [same, valid]}\n")
    result = run_cli("validate", str(path), str(REPO / "examples" / "digits_sweep.yaml"))
    assert result.returncode == 0, result.stderr
    assert f"{path}: ok" in result.stdout and "digits_sweep.yaml: ok" in result.stdout
    assert result.stderr.startswith(f"{path}:16:3: sweep.space: warning: 1 combination(s)")
