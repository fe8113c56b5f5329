"""Run folders written by earlier releases stay readable: report, predict, evaluate, export, compare,
`--resume` and `cnnbuild.load_run` read the frozen fixtures of tests/fixtures (each written by a
release, kept byte for byte: copied here before any command writes into them), and a folder of a
later format is refused by name."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import cnnbuild

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Each frozen run folder, the release that wrote it, and its format (README: run folder formats).
RELEASES = {"run-8ca31db": 1, "run-8ba0fb9": 2}
#: A digit drawn in the 8x8 grey of the fixtures' spec.
DIGIT = [[0, 0, 200, 255, 255, 200, 0, 0]] * 8


def _digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module", params=sorted(RELEASES))
def old_run(request, tmp_path_factory) -> Path:
    """A copy of one frozen run folder (commands write reports and exports into the run folder)."""
    return Path(shutil.copytree(FIXTURES / request.param, tmp_path_factory.mktemp("old") / request.param))


def test_the_fixtures_are_as_their_releases_wrote_them():
    """What the tests read is what the releases wrote: run.json says so, and nothing was added (fixtures are frozen)."""
    for name, version in RELEASES.items():
        folder = FIXTURES / name
        assert "format_version" not in json.loads((folder / "run.json").read_text())  # formats 1 and 2 did not record it
        assert cnnbuild.load_run(folder).format.version == version
    assert set(_digests(FIXTURES / "run-8ba0fb9")) == {
        "checkpoints/state.json", "class_names.json", "environment.json", "history.csv", "history.json", "metrics.json", "model.keras",
        "predictions.csv", "run.json", "skipped.json", "spec.yaml", "status.json", "summary.txt",
    }  # fmt: skip


def test_load_run_reads_every_earlier_format(old_run):
    record = cnnbuild.load_run(old_run)
    assert record.format.version == RELEASES[old_run.name] and record.completed
    assert record.class_names == [str(i) for i in range(10)]
    assert record.spec.name == "tiny" and record.spec.data.type == "digits" and record.spec.warnings == []
    assert (record.labels.mode, record.labels.num_classes, record.labels.from_logits) == ("int", 10, True)
    assert len(record.history["val_accuracy"]) == 2 and record.metrics["epochs_run"] == 2
    assert record.total_params == 8 * 8 * 16 + 16 + 16 * 10 + 10


def test_predict_report_evaluate_and_compare_read_every_earlier_format(old_run, tmp_path):
    from PIL import Image

    from cnnbuild.builder.evaluate import evaluate
    from cnnbuild.builder.inference import predict
    from cnnbuild.builder.reports.compare import compare_runs
    from cnnbuild.builder.reports.html_report import render_report

    image = tmp_path / "digit.png"
    Image.frombytes("L", (8, 8), bytes(value for row in DIGIT for value in row)).save(image)
    [result] = predict(old_run, [image], top_k=3)
    assert len(result["predictions"]) == 3 and 0 < sum(p["probability"] for p in result["predictions"]) <= 1 + 1e-6
    assert "tiny: run report" in render_report(old_run)
    evaluation = evaluate(old_run, out=tmp_path / "evaluation")
    assert evaluation.report.examples == 359 and abs(evaluation.report.accuracy - 0.2479) < 0.01  # both releases trained the same seeded run
    other = FIXTURES / ("run-8ba0fb9" if old_run.name == "run-8ca31db" else "run-8ca31db")
    comparison = compare_runs([old_run, other], out=None)
    assert [facts.params for facts in comparison.runs] == [1210, 1210] and all(len(facts.history["val_loss"]) == 2 for facts in comparison.runs)


def test_resume_of_a_finished_run_of_an_earlier_format_says_it_is_complete(old_run, caplog):
    with caplog.at_level("WARNING", logger="cnnbuild"):
        result = cnnbuild.run(resume=old_run)
    assert result.status == "completed" and result.metrics["epochs_run"] == 2
    assert f"{old_run}: this run is already complete" in caplog.text


def test_resume_of_a_finished_run_says_so_without_loading_tensorflow(old_run):
    from .export import no_tensorflow

    # in the command's own process (CNNBUILD_SUPERVISE=0): the supervised child would not have the blocker
    result = no_tensorflow.run("run", "--resume", str(old_run), env={"CNNBUILD_SUPERVISE": "0"})
    assert result.returncode == 0 and f"{old_run}: this run is already complete" in result.stderr and "blocked" not in result.stderr, result.stderr[-2000:]
    assert f"run complete: {old_run}" in result.stdout


def test_export_reads_every_earlier_format(old_run):
    from cnnbuild.export.exporter import export_run

    exported = export_run(old_run, "saved_model", latency_runs=1)
    assert exported.parity.passed and exported.parity.examples == 359


def test_a_run_folder_of_a_later_format_is_refused_by_name(tmp_path):
    run = Path(shutil.copytree(FIXTURES / "run-8ba0fb9", tmp_path / "future"))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "format_version": 99}))
    with pytest.raises(cnnbuild.RunError, match=r"run folder format 99, written by a later cnnbuild; this one \(.+\) reads formats 1 to 3: upgrade cnnbuild"):
        cnnbuild.load_run(run)
    (run / "run.json").write_text(json.dumps({**info, "format_version": "three"}))
    with pytest.raises(cnnbuild.RunError, match="format_version is 'three', not a run folder format"):
        cnnbuild.load_run(run)
