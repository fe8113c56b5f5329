"""Hypothesis strategies that turn the example specs into what people really write: typos,
wrong types, half-edited files, pasted garbage."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE_SPECS = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(EXAMPLES.glob("*.yaml"))}

WORDS = ["type", "data", "model", "layers", "units", "auto", "filters", "kernel_size", "epochs", "name", "Dense", "Conv2D", "relu", "softmax"]
ODD_STRINGS = [
    "", " ", "auto", "none", "memory", "1/255", "1/0", "0/0", "1e999/1", "-1/3", "nan", "inf", "-inf", "true", "~", "null",
    "../../etc/passwd", "/etc/passwd", "C:\\\\x", "\u202eevil", "𝕏𝕐", "名前", "a\tb", "x" * 300, "!!python/object:os.system",
    "__import__('os').system('x')", "os.system", "keras.layers.Lambda", "{epoch}", "%s%n", "\\x00",
]  # fmt: skip
ODD_NUMBERS = [0, -1, 1, 2, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63), 10**40, 10**300, 0.5, -0.0, 1e-320, 1e308, float("nan"), float("inf"), float("-inf")]


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


hostile_values = st.deferred(
    lambda: st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(ODD_NUMBERS),
        st.sampled_from(ODD_NUMBERS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(ODD_STRINGS),
        st.text(max_size=24),
        st.lists(st.one_of(st.integers(-5, 300), st.sampled_from(WORDS)), max_size=5),
        st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=6), st.integers(-3, 3) | st.sampled_from(WORDS), max_size=3),
        st.integers(1, 120).map(_nested),
    )
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _typo(word: str, position: int) -> str:
    if not word:
        return "x"
    position %= len(word)
    return word[:position] + word[position + 1 :] if position % 2 else word[:position] + word[position] + word[position:]


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """An example spec (as plain data) after one to four mutations."""
    doc = copy.deepcopy(BASE_SPECS[draw(st.sampled_from(sorted(BASE_SPECS)))])
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, 4]))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        operation = draw(st.sampled_from(["tweak", "tweak", "tweak", "replace", "replace", "delete", "add_key", "typo_key", "wrong_container"]))
        if not path:
            if operation in ("replace", "wrong_container"):
                doc = draw(hostile_values)
            continue
        parent, last = _get(doc, path[:-1]), path[-1]
        if operation == "tweak":  # a plausible edit, so that many mutants stay valid and reach the round trip
            current = parent[last]
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                continue
            parent[last] = draw(st.integers(1, 64)) if isinstance(current, int) else draw(st.floats(0.0, 0.9, exclude_min=True))
        elif operation == "replace":
            parent[last] = draw(hostile_values)
        elif operation == "delete":
            del parent[last]
        elif operation == "add_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(WORDS) | st.text(min_size=1, max_size=12))] = draw(hostile_values)
        elif operation == "typo_key" and isinstance(parent, dict) and isinstance(last, str):
            parent[_typo(last, draw(st.integers(0, 40)))] = parent.pop(last)
        elif operation == "wrong_container":
            current = parent[last]
            parent[last] = [current] if not isinstance(current, list) else {"item": current}
    return doc


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@st.composite
def hostile_texts(draw: st.DrawFn) -> bytes:
    """The bytes of a spec file: a mutated example, then maybe cut short, edited mid-line,
    doubled into several documents, or given binary garbage."""
    text = dump(draw(mutated_documents()))
    edit = draw(st.sampled_from(["none", "none", "none", "none", "truncate", "insert", "huge_digits", "control", "line_garbage", "two_documents", "binary", "bom", "tabs", "tag"]))
    if edit == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif edit == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(min_size=1, max_size=8)) + text[at:]
    elif edit == "huge_digits":  # more digits than Python converts by default (yaml.safe_dump cannot write it)
        text = re.sub(r"(:\s+)(\d+)", lambda m: m.group(1) + "9" * draw(st.sampled_from([5000, 100_000])), text, count=1)
    elif edit == "control":  # a stray control character, as a bad copy-paste leaves
        at = draw(st.integers(0, len(text)))
        text = text[:at] + chr(draw(st.sampled_from([*range(0, 9), 11, 12, *range(14, 32), 127, 0xFFFE, 0xFFFF]))) + text[at:]
    elif edit == "line_garbage":
        lines = text.splitlines()
        if lines:
            lines[draw(st.integers(0, len(lines) - 1))] = draw(st.sampled_from(["- - -", ": :", "{[", "&a *a", "? x", "!!python/object/apply:os.system ['id']", "  bad indent: [", "\t- x"]))
        text = "\n".join(lines)
    elif edit == "two_documents":
        text = text + "\n---\n" + text
    elif edit == "bom":
        text = "\ufeff" + text
    elif edit == "tabs":
        text = text.replace("  ", "\t", draw(st.integers(1, 5)))
    elif edit == "tag":
        text = text.replace(": ", ": " + draw(st.sampled_from(["!!python/name:os.system ", "!!python/object/new:os.system ", "!custom ", "!!set ", "!!binary "])), 1)
    data = text.encode("utf-8")
    if edit == "binary":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    return data


@st.composite
def override_options(draw: st.DrawFn) -> list[str]:
    """``--set`` options: real and made-up keys, odd indices, YAML and non-YAML values."""
    doc = BASE_SPECS["digits.yaml"]
    options = []
    for _ in range(draw(st.sampled_from([1, 1, 2, 3, 4]))):
        path = draw(st.sampled_from([p for p in _paths(doc)[1:] if isinstance(_get(doc, p), (int, float))] if draw(st.booleans()) else _paths(doc)[1:]))
        key = "".join(f"[{part}]" if isinstance(part, int) else (f".{part}" if i else str(part)) for i, part in enumerate(path))
        key = draw(st.sampled_from([key, key, key, key, key, key + "[0]", key + ".extra", _typo(key, draw(st.integers(0, 30))), "", ".", "[99999999999]", "a..b", key.replace("[", "[-")]))
        value = draw(st.one_of(st.integers(1, 64).map(str), st.integers(1, 64).map(str), st.sampled_from(["3", "[1, 2]", "{a: 1}", "1/0", ".nan", "-.inf", "!!python/object:os.system x", "&a [*a]", "[[[[", "a: 1\n---\nb: 2", ""]), hostile_values.map(lambda v: dump(v).strip()), st.text(max_size=12)))
        options.append(draw(st.sampled_from([f"{key}={value}"] * 4 + [key, f"{key}=={value}"])))
    return options
