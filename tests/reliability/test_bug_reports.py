"""Errors keep their cause: `--debug` (or CNNBUILD_DEBUG=1) shows the chained traceback of a user
error, and an exception cnnbuild does not expect says it is a bug, where it was raised and which
file holds its whole traceback (the run folder's traceback.txt in a run, else the cache folder)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..conftest import run_cli
from .processes import install_plugin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

FAILING_COMMAND = """
import click
import cnnbuild

def ratio():
    return 1 / 0

@cnnbuild.hookimpl
def register_commands(cli):
    @cli.command()
    def ratios():
        click.echo(ratio())
"""


def test_an_unexpected_exception_says_it_is_a_bug_and_where_its_traceback_is(tmp_path):
    env = {"PYTHONPATH": str(install_plugin(tmp_path / "site", "cnnbuild_ratios", FAILING_COMMAND, "cnnbuild-ratios", "ratios")), "CNNBUILD_CACHE_DIR": str(tmp_path / "cache")}
    result = run_cli("ratios", env=env, timeout=120)
    assert result.returncode == 70 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    match = re.fullmatch(
        r"internal error: ZeroDivisionError: division by zero \(raised at (.+):(\d+)\); this is a bug in cnnbuild or in a plugin it called, "
        r"not a problem with your spec or data: its traceback is in (.+); please report it with that file",
        line,
    )
    assert match, line
    assert match.group(1) == str(tmp_path / "site" / "cnnbuild_ratios.py") and match.group(2) == "6"
    saved = Path(match.group(3))
    assert saved.parent == tmp_path / "cache" / "tracebacks"
    assert saved.read_text().startswith("Traceback (most recent call last):") and "return 1 / 0" in saved.read_text()
    debug = run_cli("--debug", "ratios", env=env, timeout=120)
    assert debug.returncode == 70 and "Traceback (most recent call last):" in debug.stderr and "ZeroDivisionError: division by zero" in debug.stderr


def test_debug_shows_the_cause_of_a_user_error(tmp_path):
    run = Path(shutil.copytree(FIXTURES / "run-8ba0fb9", tmp_path / "run"))
    (run / "run.json").write_text('{"spec_file": "tiny.yaml",')  # cut off
    plain = run_cli("report", str(run), timeout=120)
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1 and f"{run / 'run.json'}: cannot read: " in plain.stderr
    for args, env in ((("--debug", "report", str(run)), {}), (("report", str(run)), {"CNNBUILD_DEBUG": "1"})):
        debug = run_cli(*args, env=env, timeout=120)
        assert debug.returncode == 1
        assert "json.decoder.JSONDecodeError" in debug.stderr and "The above exception was the direct cause of the following exception" in debug.stderr
        assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def test_a_run_stopped_by_a_bug_keeps_its_traceback_in_the_run_folder(tmp_path):
    from cnnbuild.builder.training.trainer import failure
    from cnnbuild.runs import RunDirectory

    run = RunDirectory(Path(shutil.copytree(FIXTURES / "run-8ba0fb9", tmp_path / "run")))
    try:
        {}["checkpoint"]
    except KeyError as exc:
        error = failure(run, exc)
    assert str(error).startswith("training stopped: internal error: KeyError: 'checkpoint' (raised at ")
    assert f"its traceback is in {run.path.resolve() / 'traceback.txt'}" in str(error) and str(error).endswith(f"cnnbuild run --resume {run.path}")
    assert "{}[\"checkpoint\"]" in (run.path / "traceback.txt").read_text()
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == str(error)
