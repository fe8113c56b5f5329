from __future__ import annotations

import pytest

from cnnbuild.spec.errors import SpecError
from cnnbuild.spec.yaml_source import parse_yaml


def test_positions_of_keys_and_values_are_one_based():
    source = parse_yaml("a:\n  b: [1, {c: 2}]\n", "f.yaml")
    assert source.data == {"a": {"b": [1, {"c": 2}]}}
    assert source.positions[("a", "b")].line == 2
    assert source.positions[("a", "b")].column == 6
    assert source.positions[("a", "b")].key_column == 3
    assert source.positions[("a", "b", 1, "c")].column == 14


def test_missing_path_falls_back_to_nearest_ancestor():
    source = parse_yaml("a:\n  b: 1\n", "f.yaml")
    assert source.position(("a", "zzz")).line == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x: !!python/object/apply:os.system ['echo hi']\n", ("1:4", "yaml-tag")),
        ("x: !!python/name:os.system\n", ("1:4", "yaml-tag")),
        ("!custom {a: 1}\n", ("1:1", "yaml-tag")),
        ("a: 1\n---\nb: 2\n", ("2:1", "invalid-yaml")),
        ("", ("1:1", "empty-file")),
        ("a: [1, 2\n", ("2:1", "invalid-yaml")),
        ("a: 1\na: 2\n", ("2:1", "duplicate-key")),
        ("a:\n\tb: 1\n", ("2:1", "invalid-yaml")),
        ("a: 1\x07\n", ("1:1", "not-text")),
    ],
)
def test_rejected_documents_name_the_problem(text, expected):
    with pytest.raises(SpecError) as caught:
        parse_yaml(text, "f.yaml")
    [issue] = caught.value.issues
    assert (f"{issue.line}:{issue.column}", str(issue.code)) == expected
    assert str(caught.value).startswith("f.yaml:")


def test_the_wording_of_yaml_errors_that_people_meet():
    for text, fragment in (("a: 1\n---\nb: 2\n", "several YAML documents in one file"), ("a:\n\tb: 1\n", "YAML does not allow tabs for indentation: indent with spaces")):
        with pytest.raises(SpecError, match=fragment):
            parse_yaml(text, "f.yaml")


def test_alias_bomb_is_stopped_quickly():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    with pytest.raises(SpecError) as caught:
        parse_yaml("\n".join(lines), "bomb.yaml")
    assert [str(issue.code) for issue in caught.value.issues] == ["too-large"]


def test_binary_garbage_is_an_error_not_a_crash():
    with pytest.raises(SpecError) as caught:
        parse_yaml(bytes(range(256)), "garbage.yaml")
    assert "garbage.yaml" in str(caught.value)
