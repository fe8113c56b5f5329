"""A sweep takes no folder and no study that is not its own: ``--output`` must be empty or this
sweep's folder, and a study shared through ``--study`` and ``--storage`` must hold the same
search space and base spec (or be joined on purpose). Nothing here trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.sweep_checks import load_sweep
from cnnbuild.sweep.folder import SweepFolder

from ..conftest import run_cli
from .test_sweeps import FILTERS_AND_RATE, write_spec

OTHER_SPACE = "space:\n  model.layers[1].filters: {choice: [2, 16]}\n"


def test_a_folder_holding_the_users_own_files_is_refused_and_left_as_it_was(tmp_path):
    folder = tmp_path / "mine"
    (folder / "figures").mkdir(parents=True)
    (folder / "best.yaml").write_text("my own notes\n")
    (folder / "figures" / "history.png").write_bytes(b"my own figure")
    with pytest.raises(CnnbuildError, match=r"mine: is not empty and holds no sweep \(best.yaml, figures\); .*choose a new --output folder"):
        SweepFolder.prepare(folder, load_sweep(write_spec(tmp_path)), None, "journal", None)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == ["best.yaml", "figures", "figures/history.png"]
    assert (folder / "best.yaml").read_text() == "my own notes\n" and (folder / "figures" / "history.png").read_bytes() == b"my own figure"


def test_a_run_directory_or_a_file_is_not_turned_into_a_sweep(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "spec.yaml").write_text("name: x\n")
    result = run_cli("sweep", str(write_spec(tmp_path)), "--output", str(run))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "run: is a run directory (run.json, spec.yaml), not a sweep folder" in result.stderr
    assert sorted(p.name for p in run.iterdir()) == ["run.json", "spec.yaml"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(CnnbuildError, match="afile: is a file, not a folder"):
        SweepFolder.prepare(afile, load_sweep(write_spec(tmp_path)), None, "journal", None)


def test_an_empty_folder_and_the_sweeps_own_folder_are_used(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    first = SweepFolder.prepare(empty, load_sweep(write_spec(tmp_path)), None, "journal", None)
    assert not first.continued and first.record.definition["study"] == "tiny"
    again = SweepFolder.prepare(empty, load_sweep(write_spec(tmp_path)), None, "journal", None)
    assert again.continued


# --- a study shared through --study and --storage -------------------------------------------


def _storage(kind: str, tmp_path: Path):
    """A real Optuna storage of ``kind`` and the URL cnnbuild would be given (None: the folder's journal)."""
    import optuna

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        return optuna.storages.RDBStorage(url), url
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "shared.journal"))), None


def _record_of(tmp_path: Path, sweep: str = FILTERS_AND_RATE, epochs: int = 1, folder: str = "a"):
    from cnnbuild.sweep.study_record import StudyRecord

    setup = load_sweep(write_spec(tmp_path, sweep=sweep, epochs=epochs))
    prepared = SweepFolder.prepare(tmp_path / folder, setup, None, "test", None)
    return StudyRecord.of(prepared.record.definition, setup.spec.canonical())


def _finished_trial(study) -> None:
    """A complete trial in ``study``, as any earlier sweep (or Optuna itself) leaves one."""
    import optuna

    study.add_trial(optuna.trial.create_trial(params={"x": 4}, distributions={"x": optuna.distributions.CategoricalDistribution([2, 4, 8])}, value=0.5))


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_study_holding_another_search_space_or_base_spec_is_refused_naming_the_difference(tmp_path, kind):
    optuna = pytest.importorskip("optuna")
    from cnnbuild.sweep.study_record import StudyRecord, check_study

    storage, _ = _storage(kind, tmp_path)
    first = _record_of(tmp_path, folder="a")
    study = optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    check_study(study, first, join=False, continuing=False)  # a new study takes the sweep's record
    _finished_trial(study)
    study = optuna.load_study(study_name="shared", storage=storage)  # as the second sweep finds it
    assert StudyRecord.read(study) == first
    check_study(study, _record_of(tmp_path, folder="b"), join=False, continuing=False)  # the same sweep again: joins
    other_space = _record_of(tmp_path, sweep=OTHER_SPACE, folder="c")
    with pytest.raises(CnnbuildError, match=r"study 'shared' in this storage holds another sweep \(started from .*sweep.yaml\): sweep.space.model.layers\[1\].filters.choice: \[2, 4, 8\] -> \[2, 16\], .*--join-study"):
        check_study(study, other_space, join=False, continuing=False)
    with pytest.raises(CnnbuildError, match=r"holds another sweep .*: train.epochs: 1 -> 2, so the trials would not be comparable"):
        check_study(study, _record_of(tmp_path, epochs=2, folder="d"), join=False, continuing=False)
    check_study(study, other_space, join=True, continuing=False)  # on purpose: a warning, and the first record stays
    assert StudyRecord.read(optuna.load_study(study_name="shared", storage=storage)) == first


def test_a_study_without_a_record_is_joined_only_on_purpose_or_by_its_own_folder(tmp_path):
    optuna = pytest.importorskip("optuna")
    from cnnbuild.sweep.study_record import StudyRecord, check_study

    storage, _ = _storage("sqlite", tmp_path)
    study = optuna.create_study(study_name="old", storage=storage, direction="maximize")  # an older cnnbuild's, or Optuna's own
    _finished_trial(study)
    mine = _record_of(tmp_path)
    with pytest.raises(CnnbuildError, match=r"study 'old' in this storage has 1 trial\(s\) but no record of its search space and base spec .*--join-study"):
        check_study(study, mine, join=False, continuing=False)
    check_study(study, mine, join=True, continuing=False)
    assert StudyRecord.read(study) is None  # joining someone's study does not claim it
    check_study(study, mine, join=False, continuing=True)  # the sweep folder that holds this study continues it
    assert StudyRecord.read(optuna.load_study(study_name="old", storage=storage)) == mine


def test_the_command_refuses_a_shared_study_of_another_sweep_and_leaves_no_folder_behind(tmp_path):
    optuna = pytest.importorskip("optuna")
    storage, url = _storage("sqlite", tmp_path)
    study = optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    _record_of(tmp_path, folder="first").write(study)
    _finished_trial(study)
    spec = write_spec(tmp_path, sweep=OTHER_SPACE)
    result = run_cli("sweep", str(spec), "--storage", url, "--study", "shared", "--output", str(tmp_path / "second"), "--trials", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "study 'shared' in this storage holds another sweep" in result.stderr and "sweep.space.model.layers[1].filters" in result.stderr
    assert not (tmp_path / "second").exists()  # the folder it had prepared is gone again
    joined = run_cli("sweep", str(spec), "--storage", url, "--study", "shared", "--output", str(tmp_path / "second"), "--trials", "1", "--join-study")
    assert joined.returncode == 0, joined.stderr
    assert "joining it anyway (--join-study)" in joined.stderr
    assert json.loads((tmp_path / "second" / "sweep.json").read_text())["counted"] == 1  # the other sweep's trial counts; none was trained


def test_an_abandoned_sweep_removes_the_folders_it_made_and_nothing_else(tmp_path):
    setup = load_sweep(write_spec(tmp_path, sweep=FILTERS_AND_RATE))
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    for where in (tmp_path / "new" / "deep" / "sweep", tmp_path / "kept" / "made" / "sweep"):
        prepared = SweepFolder.prepare(where, setup, None, "test", None)
        prepared.abandon()
    assert not (tmp_path / "new").exists()  # every folder it made, up to the one that was there
    assert sorted(path.name for path in (tmp_path / "kept").iterdir()) == ["notes.txt"]  # the user's folder and file stay
