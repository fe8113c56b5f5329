"""evaluate --out replaces only the files evaluate wrote there (evaluation.json lists them with their sha256)."""

from __future__ import annotations

import json

import pytest

from cnnbuild.builder.reports.evaluation import Prediction, ValidationReport
from cnnbuild.builder.reports.evaluation_folder import RECORD, EvaluationFolder
from cnnbuild.errors import RunError


def _report() -> ValidationReport:
    return ValidationReport(
        class_names=["a", "b"], confusion=[[1, 0], [1, 0]], per_class=[], examples=2, correct=1,
        predictions=[Prediction("x.png", 0, 0, 0.9), Prediction("y.png", 1, 0, 0.6)],
    )  # fmt: skip


def test_evaluating_into_the_same_folder_again_replaces_what_evaluate_wrote(tmp_path):
    out = EvaluationFolder(tmp_path / "out")
    written = out.write(_report(), "data")
    assert sorted(path.name for path in written) == ["confusion_matrix.png", "misclassified.png", "predictions.csv"]
    record = json.loads((tmp_path / "out" / RECORD).read_text())
    assert record["written_by"] == "cnnbuild evaluate" and sorted(record["files"]) == ["confusion_matrix.png", "misclassified.png", "predictions.csv"]
    out.write(_report(), "data")  # its own files: replaced
    assert (tmp_path / "out" / "predictions.csv").read_text().splitlines()[1] == "data,x.png,a,a,0.900000,1"


@pytest.mark.parametrize("mine", ["predictions.csv", "confusion_matrix.png", RECORD])
def test_a_file_evaluate_did_not_write_is_never_replaced(tmp_path, mine):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / mine).write_text("the user's own")
    with pytest.raises(RunError, match=rf"--out {folder}: {mine} already there and not written by cnnbuild evaluate .*nothing was replaced"):
        EvaluationFolder(folder).write(_report(), "data")
    assert (folder / mine).read_text() == "the user's own" and sorted(p.name for p in folder.iterdir()) == [mine]


def test_a_file_changed_since_evaluate_wrote_it_is_kept(tmp_path):
    out = EvaluationFolder(tmp_path / "out")
    out.write(_report(), "data")
    (tmp_path / "out" / "predictions.csv").write_text("edited by hand")
    with pytest.raises(RunError, match="predictions.csv already there and not written by cnnbuild evaluate"):
        out.check()
    assert (tmp_path / "out" / "predictions.csv").read_text() == "edited by hand"


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RunError, match="a file, not a folder"):
        EvaluationFolder(tmp_path / "afile").check()
