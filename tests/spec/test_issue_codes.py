"""Every spec issue has a stable code, listed once (spec/codes.py) and in the README; `validate --json`
prints file, line, column, path, code, severity and message of each, in a stable shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cnnbuild.spec.codes import MEANINGS, Code

from ..conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


def readme_codes() -> dict[str, str]:
    """The README's table of codes: code -> meaning."""
    section = REPO.joinpath("README.md").read_text(encoding="utf-8").split("#### Issue codes", 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", section, re.MULTILINE))


def test_every_code_has_a_meaning_and_the_readme_lists_exactly_them():
    assert set(MEANINGS) == set(Code)
    assert len({code.value for code in Code}) == len(Code)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", code.value) for code in Code)
    assert readme_codes() == {code.value: MEANINGS[code] for code in Code}


def test_validate_json_gives_each_issue_with_its_code_and_place(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {type: digits}\nmodel:\n  layers:\n    - {type: Conv2D, filterz: 3, kernel_size: 3}\n    - {type: Dense, units: auto}\n")
    missing = tmp_path / "later.yaml"
    missing.write_text("data: {type: image_directory, path: photos}\nmodel: {layers: [Flatten, {type: Dense, units: 1, activation: sigmoid}]}\n")
    result = run_cli("validate", "--json", str(bad), str(missing), "--set", "train.epochs=0")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "version": 1,
        "valid": False,
        "specs": [
            {"spec": str(bad), "valid": False, "issues": [
                {"file": str(bad), "line": 4, "column": 22, "path": "model.layers[0].filterz", "code": "unknown-key", "severity": "error",
                 "message": "unknown key; did you mean 'filters'?"},
                {"file": "--set train.epochs=0", "line": None, "column": None, "path": "train.epochs", "code": "invalid-value", "severity": "error",
                 "message": "must be greater than or equal to 1, got 0"},
            ]},
            {"spec": str(missing), "valid": False, "issues": [  # the data is looked at once every key is valid
                {"file": "--set train.epochs=0", "line": None, "column": None, "path": "train.epochs", "code": "invalid-value", "severity": "error",
                 "message": "must be greater than or equal to 1, got 0"},
            ]},
        ],
    }  # fmt: skip
    assert result.stderr == ""


def test_validate_json_of_valid_specs_lists_their_warnings_and_exits_0(tmp_path):
    spec = tmp_path / "later.yaml"
    spec.write_text("data: {type: image_directory, path: photos}\nmodel: {layers: [Flatten, {type: Dense, units: 1, activation: sigmoid}]}\n")
    result = run_cli("validate", "--json", str(spec), str(REPO / "examples" / "digits.yaml"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True and [entry["valid"] for entry in report["specs"]] == [True, True]
    assert report["specs"][0]["issues"] == [
        {"file": str(spec), "line": 1, "column": 37, "path": "data.path", "code": "data-missing", "severity": "warning",
         "message": f"{tmp_path / 'photos'}: folder does not exist; set data.path to a folder of class sub-folders (or give data.url); the data was not checked"},
    ]  # fmt: skip
    assert report["specs"][1]["issues"] == []


def test_an_unknown_type_is_followed_by_a_note_of_each_plugin_that_failed_to_load():
    """document.py adds the notes by the issue's code (unknown-type), not by reading its message."""
    import pytest

    from cnnbuild.plugins.manager import get_registry
    from cnnbuild.spec import SpecError, spec_from_text

    failures = get_registry().failures
    failures.append("plugin 'birds' (cnnbuild-birds 0.3) failed to load: ImportError: no module named birdlib")
    try:
        with pytest.raises(SpecError) as caught:
            spec_from_text("data: {type: digits}\nmodel: {layers: [Flatten, {type: BirdConv, units: 3}]}\n", "s.yaml")
        assert [(str(issue.code), issue.severity) for issue in caught.value.issues] == [("unknown-type", "error"), ("plugin-failed", "note")]
        assert "s.yaml: note: plugin 'birds' (cnnbuild-birds 0.3) failed to load: ImportError: no module named birdlib" in str(caught.value).splitlines()
        with pytest.raises(SpecError) as caught:  # an error of another kind: no note
            spec_from_text("data: {type: digits}\nmodel: {layers: [Flatten, {type: Dense, units: 3, unknown_type: x}]}\n", "s.yaml")
        assert [str(issue.code) for issue in caught.value.issues] == ["unknown-key"]
    finally:
        failures.pop()
