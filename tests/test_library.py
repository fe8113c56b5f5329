"""cnnbuild as a library: silent by default, overrides validated (old run directories: test_run_folder_formats.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import cnnbuild
from cnnbuild.spec import SpecError, load_spec

REPO = Path(__file__).resolve().parent.parent


def test_run_from_python_prints_nothing_and_returns_what_the_command_prints(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import cnnbuild
        result = cnnbuild.run({str(REPO / "examples" / "digits.yaml")!r}, ["train.epochs=2"], output={str(tmp_path / "run")!r})
        print("RESULT", result.status, len(result.history["val_accuracy"]), "per_class" in result.metrics, result.warnings)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["RESULT completed 2 True []"]
    assert "epoch 1/2" not in done.stderr and "run complete" not in done.stderr


def test_epoch_lines_reach_a_configured_logger(tmp_path: Path) -> None:
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("cnnbuild")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        result = cnnbuild.run(REPO / "examples" / "digits.yaml", ["train.epochs=1", "train.callbacks=[]"], output=tmp_path / "run")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert result.completed
    assert any(record.getMessage().startswith("epoch 1/1") for record in records)


def test_run_with_a_spec_object_validates_its_overrides_like_the_command_line(tmp_path: Path) -> None:
    spec = load_spec(REPO / "examples" / "digits.yaml")
    with pytest.raises(SpecError) as caught:
        cnnbuild.run(spec, ["train.epochs=lots"], output=tmp_path / "run")
    assert "--set train.epochs=lots: train.epochs:" in str(caught.value)
    with pytest.raises(SpecError, match=r"--set model.layers\[8\].units=16: model.layers\[8\].units: the data has 10 classes but the last layer has 16 units"):
        cnnbuild.run(spec, ["model.layers[8].units=16"], output=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_load_run_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(cnnbuild.RunError, match="not a cnnbuild run directory"):
        cnnbuild.load_run(tmp_path)
