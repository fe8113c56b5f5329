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
    "text, fragment",
    [
        ("x: !!python/object/apply:os.system ['echo hi']\n", "python/object/apply:os.system"),
        ("x: !!python/name:os.system\n", "not allowed"),
        ("!custom {a: 1}\n", "not allowed"),
        ("a: 1\n---\nb: 2\n", "several YAML documents"),
        ("", "empty"),
        ("a: [1, 2\n", "invalid YAML"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
    ],
)
def test_rejected_documents_name_the_problem(text, fragment):
    with pytest.raises(SpecError) as caught:
        parse_yaml(text, "f.yaml")
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("f.yaml:")


def test_alias_bomb_is_stopped_quickly():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    with pytest.raises(SpecError) as caught:
        parse_yaml("\n".join(lines), "bomb.yaml")
    assert "too large" in str(caught.value)


def test_binary_garbage_is_an_error_not_a_crash():
    with pytest.raises(SpecError) as caught:
        parse_yaml(bytes(range(256)), "garbage.yaml")
    assert "garbage.yaml" in str(caught.value)
