"""Spec format versions: a spec says the format it was written for (absent: the current one); what a
later format moved or renamed is read with a warning naming the new place, and `cnnbuild migrate`
rewrites the file in the current format with its comments and layout kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cnnbuild.spec import SpecError, format_history, spec_from_text
from cnnbuild.spec.format_history import CURRENT, RenamedKey

from ..conftest import run_cli
from .issues import issue_codes, located

REPO = Path(__file__).resolve().parents[2]

#: A spec as the first release's README taught it: GaussianNoise listed under augmentation.
FIRST_RELEASE = """\
# a spec written for the first release
name: noisy
data: {type: digits, image_size: [8, 8], color_mode: grayscale}

augmentation:
  - {type: RandomFlip, mode: horizontal}   # mirror
  - {type: GaussianNoise, stddev: 0.5}     # a little noise
  - RandomRotation: {factor: 0.1}

model:
  layers:
    - {type: Rescaling, scale: 1/255}   # to 0..1
    - Flatten
    - {type: Dense, units: auto}
train:
  epochs: 1
"""

MIGRATED = """\
# a spec written for the first release
format_version: 2
name: noisy
data: {type: digits, image_size: [8, 8], color_mode: grayscale}

augmentation:
  - {type: RandomFlip, mode: horizontal}   # mirror
  - RandomRotation: {factor: 0.1}

model:
  layers:
    - {type: GaussianNoise, stddev: 0.5}   # a little noise
    - {type: Rescaling, scale: 1/255}   # to 0..1
    - Flatten
    - {type: Dense, units: auto}
train:
  epochs: 1
"""


def declared(version: int) -> str:
    return FIRST_RELEASE.replace("name: noisy", f"format_version: {version}\nname: noisy")


def test_a_spec_written_for_format_1_is_read_with_a_warning_naming_the_new_place():
    spec = spec_from_text(declared(1), "old.yaml")
    assert [entry.type for entry in spec.augmentation] == ["RandomFlip", "RandomRotation"]
    assert [entry.type for entry in spec.model.layers] == ["GaussianNoise", "Rescaling", "Flatten", "Dense"]
    assert located(spec.warnings, severity="warning") == [("8:5", "augmentation[1]", "old-spelling")]
    assert "moved to model.layers in spec format 2" in spec.warnings[0].message and "cnnbuild migrate" in spec.warnings[0].message
    assert spec.format_version == 1 and spec.canonical()["format_version"] == CURRENT  # what a run writes is the current format


def test_several_moved_entries_keep_their_order_and_each_warning_its_line():
    text = declared(1).replace("  - RandomRotation: {factor: 0.1}", "  - RandomRotation: {factor: 0.1}\n  - {type: GaussianNoise, stddev: 1}")
    spec = spec_from_text(text, "old.yaml")
    assert [(entry.type, getattr(entry, "stddev", None)) for entry in spec.model.layers[:3]] == [("GaussianNoise", 0.5), ("GaussianNoise", 1), ("Rescaling", None)]
    assert located(spec.warnings, severity="warning") == [("8:5", "augmentation[1]", "old-spelling"), ("10:5", "augmentation[3]", "old-spelling")]


def test_without_format_version_a_spec_is_the_current_format_and_an_old_form_gets_a_note():
    with pytest.raises(SpecError) as caught:
        spec_from_text(FIRST_RELEASE, "old.yaml")
    assert [(f"{i.line}:{i.column}", i.path, str(i.code), i.severity) for i in caught.value.issues] == [
        ("7:5", "augmentation[1]", "not-allowed-here", "error"),
        ("7:5", "augmentation[1]", "old-spelling", "note"),
    ]
    assert "add format_version: 1 to read it as then, or rewrite the spec with cnnbuild migrate" in caught.value.issues[1].message


def test_errors_after_an_old_form_still_point_at_what_the_user_wrote():
    """Positions move with the entries: the error in a later augmentation entry and in a model layer stay at their lines."""
    text = declared(1).replace("RandomRotation: {factor: 0.1}", "RandomRotation: {factr: 0.1}").replace("units: auto}", "units: auto, activation: rellu}")
    assert issue_codes(text, "old.yaml") == [("9:22", "augmentation[1].factr", "unknown-key"), ("15:46", "model.layers[3].activation", "invalid-value")]


@pytest.mark.parametrize(("value", "code"), [(3, "unknown-format-version"), ("two", "invalid-value"), (0, "invalid-value")])
def test_a_format_this_release_cannot_read_is_said_at_its_line(value, code):
    assert issue_codes(declared(1).replace("format_version: 1", f"format_version: {value}"), "old.yaml") == [("2:17", "format_version", code)]


def test_a_renamed_key_in_the_table_is_read_from_older_specs_with_a_warning(monkeypatch):
    """The table drives the reader: had format 2 also moved train.batch_size and renamed Dense's units (it did not)."""
    changes = (
        *format_history.CHANGES,
        RenamedKey(2, ("train", "batch_size"), ("data", "batch_size")),
        RenamedKey(2, ("model", "layers", "*", "outputs"), ("model", "layers", "*", "units"), entry_type="Dense"),
    )
    monkeypatch.setattr(format_history, "CHANGES", changes)
    text = "format_version: 1\ndata: {type: digits}\nmodel:\n  layers:\n    - Flatten\n    - Dense: {outputs: 10}\ntrain: {batch_size: 16, epochs: 1}\n"
    spec = spec_from_text(text, "old.yaml")
    assert spec.data.batch_size == 16 and spec.model.layers[1].units == 10
    assert located(spec.warnings, severity="warning") == [("6:15", "model.layers[1].outputs", "old-spelling"), ("7:9", "train.batch_size", "old-spelling")]
    assert {issue.path: issue.message.split(" (")[0] for issue in spec.warnings} == {
        "train.batch_size": "train.batch_size is spelled data.batch_size since spec format 2",
        "model.layers[1].outputs": "model.layers[1].outputs is spelled model.layers[1].units since spec format 2",
    }
    both = text.replace("data: {type: digits}", "data: {type: digits, batch_size: 8}")
    assert ("7:9", "train.batch_size", "unknown-key") in issue_codes(both, "old.yaml")  # never two values for one key: the old spelling stays unread


def test_a_renamed_key_keeps_its_place_and_comment_in_a_round_trip_document():
    document = YAML(typ="rt").load("train:\n  epochs: 3   # short\n  batch_size: 16   # small\n  verbose: line\n")
    change = RenamedKey(3, ("train", "batch_size"), ("train", "minibatch"))
    [found] = change.find(document)
    change.apply(document, found)
    assert list(document["train"]) == ["epochs", "minibatch", "verbose"] and document["train"]["minibatch"] == 16
    assert "# small" in document["train"].ca.items["minibatch"][2].value


def write(tmp_path: Path, text: str, name: str = "old.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_migrate_prints_the_spec_in_the_current_format_with_its_comments_and_says_what_changed(tmp_path):
    path = write(tmp_path, FIRST_RELEASE)
    result = run_cli("migrate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == MIGRATED
    assert result.stderr.splitlines()[0].startswith(f"{path}:7:5: augmentation[1]: GaussianNoise in augmentation moved to model.layers in spec format 2")
    assert result.stderr.splitlines()[1] == f"{path}:1:1: format_version: set to 2 (was not said: read as the current format)"
    assert path.read_text() == FIRST_RELEASE  # printed, not written
    assert run_cli("validate", str(write(tmp_path, result.stdout, "new.yaml"))).returncode == 0


def test_migrate_in_place_and_to_a_new_file_never_over_another(tmp_path):
    path = write(tmp_path, declared(1))
    out = write(tmp_path, "mine\n", "taken.yaml")
    refused = run_cli("migrate", str(path), "--out", str(out))
    assert refused.returncode == 1 and "already exists" in refused.stderr and out.read_text() == "mine\n"
    written = run_cli("migrate", str(path), "--out", str(tmp_path / "new.yaml"))
    assert written.returncode == 0 and (tmp_path / "new.yaml").read_text() == MIGRATED and path.read_text() == declared(1)
    rewritten = run_cli("migrate", str(path), "--in-place")
    assert rewritten.returncode == 0 and path.read_text() == MIGRATED and f"rewrote {path}" in rewritten.stderr
    again = run_cli("migrate", str(path), "--in-place")
    assert again.returncode == 0 and f"{path}: already in the current spec format (2); nothing to change" in again.stderr
    assert path.read_text() == MIGRATED


def test_migrate_leaves_a_current_spec_as_it_is():
    example = REPO / "examples" / "resnet_small.yaml"
    result = run_cli("migrate", str(example))
    assert result.returncode == 0 and result.stdout == example.read_text()
    assert result.stderr == f"{example}: already in the current spec format (2); nothing to change\n"


def test_migrate_reports_a_spec_it_cannot_read_like_validate(tmp_path):
    result = run_cli("migrate", str(write(tmp_path, "a: [1, 2\n")))
    assert result.returncode == 1 and "old.yaml:2:1: invalid YAML" in result.stderr and "Traceback" not in result.stderr


def test_migrate_keeps_the_file_s_own_indentation():
    from cnnbuild.spec.migrate import migrate_text
    from cnnbuild.spec.yaml_source import parse_yaml

    text = textwrap.dedent(
        """\
        format_version: 1
        data:
            type: digits
        augmentation:
        - type: GaussianNoise
          stddev: 0.2
        model:
            layers:
            -   Flatten
            -   {type: Dense, units: auto}
        """
    )
    migrated = migrate_text(text, parse_yaml(text, "four.yaml")).text
    assert migrated.startswith("format_version: 2\ndata:\n    type: digits\naugmentation: []\nmodel:\n    layers:\n")
    assert parse_yaml(migrated).data["model"]["layers"][0] == {"type": "GaussianNoise", "stddev": 0.2}


def test_migrate_says_in_one_line_when_it_cannot_write_its_result(tmp_path):
    path = write(tmp_path, declared(1))
    (tmp_path / "afile").write_text("not a folder\n")
    result = run_cli("migrate", str(path), "--out", str(tmp_path / "afile" / "new.yaml"))
    assert result.returncode == 1, result.stderr  # a user error, not 70 (a bug)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{tmp_path / 'afile' / 'new.yaml'}: cannot write the migrated spec: ") and last.endswith("; choose another --out")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == declared(1)


def test_migrate_keeps_the_comment_lines_after_a_moved_entry_where_they_were():
    """ruamel.yaml files the lines after a list entry with that entry: they stay in place when it moves
    (before the next key, or with the entry before it), also when the list is left empty."""
    from cnnbuild.spec.migrate import migrate_text
    from cnnbuild.spec.yaml_source import parse_yaml

    def migrated(text: str) -> str:
        return migrate_text(text, parse_yaml(text, "old.yaml")).text

    last = "format_version: 1\naugmentation:\n  - GaussianNoise: {stddev: 0.5}   # noisy\n\n# the model\nmodel:\n  layers:\n    - Flatten\n"
    assert migrated(last) == "format_version: 2\naugmentation: []\n\n# the model\nmodel:\n  layers:\n    - GaussianNoise: {stddev: 0.5} # noisy\n    - Flatten\n"
    alone = "format_version: 1\naugmentation:\n  - GaussianNoise: {stddev: 0.5}\n# the model\nmodel:\n  layers: [Flatten]\n"
    assert "augmentation: []\n# the model\nmodel:\n" in migrated(alone)
    middle = (
        "format_version: 1\naugmentation:\n  - RandomFlip: {mode: horizontal}   # flip\n  - GaussianNoise: {stddev: 0.5}   # noisy\n"
        "  # rotate a little\n  - RandomRotation: {factor: 0.1}\nmodel:\n  layers:\n    - Flatten\n"
    )
    assert migrated(middle).startswith(
        "format_version: 2\naugmentation:\n  - RandomFlip: {mode: horizontal}   # flip\n  # rotate a little\n  - RandomRotation: {factor: 0.1}\nmodel:\n"
    )


def test_migrate_keeps_windows_line_ends(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_bytes(declared(1).replace("\n", "\r\n").encode())
    result = run_cli("migrate", str(path), "--in-place")
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == MIGRATED.replace("\n", "\r\n").encode()
