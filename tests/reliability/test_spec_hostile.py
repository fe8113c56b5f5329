"""Named hostile spec files: each is refused with an error at FILE:LINE:COL, in bounded time and
memory, and nothing in a spec can make cnnbuild import or run code."""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from cnnbuild.spec import SpecError, load_spec
from cnnbuild.spec.overrides import apply_overrides
from cnnbuild.spec.yaml_source import MAX_BYTES, read_yaml

from ..conftest import run_cli
from .test_spec_fuzz import assert_located

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits.yaml"
GOOD = DIGITS.read_text(encoding="utf-8")


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


#: name -> (file bytes, text the error must contain)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", "the file is empty"),
    "only whitespace": (b"  \n\n   \n", "the file is empty"),
    "only a comment": (b"# todo\n", "the file is empty"),
    "a list, not a mapping": (b"- data\n- model\n", "a spec is a mapping"),
    "a bare number": (b"42\n", "a spec is a mapping"),
    "null document": (b"~\n", "a spec is a mapping"),
    "several documents": (GOOD.encode() + b"\n---\n" + GOOD.encode(), "several YAML documents"),
    "binary garbage": (bytes(range(256)) * 4, "not UTF-8"),
    "NUL byte in UTF-8 text": (GOOD.replace("epochs: 15", "epochs: 1\x005").encode(), "special characters are not allowed"),
    "stray control character": (GOOD.replace("seed: 42", "seed: 4\x072").encode(), "special characters are not allowed"),
    "UTF-16 file": (GOOD.encode("utf-16"), "not UTF-8"),
    "billion laughs": (billion_laughs().encode(), "more than 100000 nodes"),
    "self-referencing alias": (b"data: &a [*a]\n", "nested deeper than 64"),
    "deep nesting": (b"data: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested deeper than 64"),
    "deep mappings": (b"data: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n", "nested deeper than 64"),
    "too large": (b"# " + b"x" * (MAX_BYTES + 10) + b"\n", "larger than 4 MiB"),
    "5000-digit integer": (GOOD.replace("epochs: 15", "epochs: " + "9" * 5000).encode(), "cannot read value"),
    "impossible date": (GOOD.replace("name: digits", "name: 2024-02-30").encode(), "cannot read value"),
    "NaN epochs": (GOOD.replace("epochs: 15", "epochs: .nan").encode(), "finite number"),
    "infinite learning rate": (GOOD.replace("learning_rate: 0.002", "learning_rate: .inf").encode(), "finite number"),
    "negative batch": (GOOD.replace("batch_size: 32", "batch_size: -32").encode(), "greater than or equal to 1"),
    "huge image": (GOOD.replace("image_size: [16, 16]", "image_size: [1048576, 1048576]").encode(), "above the limit of 1,000,000,000"),
    "huge layer": (GOOD.replace("units: 64,", "units: 2147483647,").encode(), "above the limit of 1,000,000,000"),
    "duplicate key": (GOOD.replace("seed: 42", "seed: 42\nseed: 43").encode(), "duplicate key 'seed'"),
    "list as a key": (b"? [a, b]\n: 1\n", "mapping keys must be plain strings"),
    "unknown keys and typos": (GOOD.replace("epochs: 15", "epoch: 15\n  pateince: 3").encode(), "unknown key"),
    "unicode name": (GOOD.replace("name: digits", "name: 数字🌸").encode(), "name: must be letters, digits, \'.\', \'_\' and \'-\'"),
    "path traversal in name": (GOOD.replace("name: digits", "name: ../../etc").encode(), "name: must be letters, digits, \'.\', \'_\' and \'-\'"),
    "tab indentation": (GOOD.replace("  epochs: 15", "\tepochs: 15").encode(), "invalid YAML"),
    "cut off mid-file": (GOOD[: GOOD.index("compile:") + 20].encode(), ""),
}

#: Tags that in other loaders import or run code; here each is refused by name.
CODE_TAGS = [
    "!!python/object/apply:os.system ['touch {sentinel}']",
    "!!python/object/new:subprocess.Popen [['touch', '{sentinel}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:builtins.object {{}}",
    "!!python/tuple [1, 2]",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {sentinel}']",
    "!custom 1",
    "!!set {{a, b}}",
]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_gets_located_errors_quickly_in_little_memory(tmp_path, tally, name):
    content, expected = HOSTILE[name]
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(SpecError) as caught:
            load_spec(path)
    finally:
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert_located(caught.value, str(path))
    assert expected in str(caught.value)
    # A guard against blow-ups (alias bombs, quadratic scans take minutes), not a speed target: this
    # process's own CPU time, so other work on a shared machine cannot fail it; speed is in benchmarks/.
    assert elapsed < 30, f"{name} took {elapsed:.1f}s of CPU time"
    assert peak < 64 * 2**20 + 4 * len(content), f"{name} peaked at {peak / 2**20:.0f} MiB"
    tally["named hostile spec files refused with FILE:LINE"] += 1


@pytest.mark.parametrize("tag", CODE_TAGS)
def test_tags_that_would_run_code_are_refused_by_name(tmp_path, tally, tag):
    sentinel = tmp_path / "executed"
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD.replace("seed: 42", "seed: " + tag.format(sentinel=sentinel)), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert "is not allowed" in str(caught.value) and f"{path}:5:7:" in str(caught.value)
    assert not sentinel.exists()
    tally["code-execution tags refused"] += 1


def test_no_spec_value_makes_cnnbuild_import_a_module(tmp_path, monkeypatch, tally):
    """Types, activations, optimizers, losses, metrics and callbacks name registered things only:
    a module on sys.path named in every one of them is never imported."""
    module = "cnnbuild_reliability_sentinel"
    (tmp_path / f"{module}.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    dotted = f"{module}.anything"
    spec = f"""
name: sentinel
data: {{type: {dotted}, image_size: [8, 8]}}
augmentation: [{{type: {dotted}}}]
model:
  layers:
    - {{type: {dotted}}}
    - {{type: Dense, units: 3, activation: {dotted}, kernel_initializer: {dotted}}}
compile: {{optimizer: {dotted}, loss: {dotted}, metrics: [{dotted}]}}
train: {{callbacks: [{{type: {dotted}}}, {{type: EarlyStopping, monitor: {dotted}}}]}}
"""
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert len(caught.value.issues) >= 6
    assert module not in sys.modules and not (tmp_path / "imported").exists()
    tally["code-execution attempts through type names refused"] += 1


@pytest.mark.parametrize(
    "option, expected",
    [
        ("train.epochs=!!python/object/apply:os.system ['id']", "is not allowed"),
        ("seed=&a [*a]", "nested deeper"),
        ("model.layers[999999999]=Dense", "past the end"),
        ("model.layers[-1].units=3", "cannot read key"),
        ("train.epochs=" + "9" * 5000, "cannot read value"),
        ("name=\x00", "special characters"),
        ("a..b=1", "cannot read key"),
        ("train.epochs", "expected KEY=VALUE"),
        ("train.epochs=1e400", "must be a valid integer"),
        ("name=../../x", "must be letters, digits"),
    ],
)
def test_hostile_set_options_are_named_in_the_error(tally, option, expected):
    with pytest.raises(SpecError) as caught:
        from cnnbuild.spec.document import validate_source

        validate_source(apply_overrides(read_yaml(DIGITS), [option]))
    assert_located(caught.value, str(DIGITS))
    assert expected in str(caught.value)
    assert f"--set {option}" in str(caught.value) or "must be letters, digits" in str(caught.value) or "valid integer" in str(caught.value)
    tally["named hostile --set options refused"] += 1


def test_validate_and_summary_commands_answer_hostile_files_without_tracebacks(tmp_path, tally):
    names = ["empty file", "binary garbage", "billion laughs", "5000-digit integer", "huge layer", "NUL byte in UTF-8 text", "several documents"]
    paths = []
    for index, name in enumerate(names):
        path = tmp_path / f"hostile{index}.yaml"
        path.write_bytes(HOSTILE[name][0])
        paths.append(path)
    validated = run_cli("validate", *map(str, paths), timeout=120)
    assert validated.returncode == 1
    assert "Traceback" not in validated.stderr
    for path in paths:
        assert f"{path}:" in validated.stderr
    for path in paths[:4] + [paths[4]]:
        summary = run_cli("summary", str(path), timeout=120)
        assert summary.returncode == 1, summary.stderr
        assert "Traceback" not in summary.stderr and summary.stderr.startswith(f"{path}:")
        tally["cnnbuild summary subprocesses on hostile files"] += 1
    tally["cnnbuild validate subprocesses on hostile files"] += 1
