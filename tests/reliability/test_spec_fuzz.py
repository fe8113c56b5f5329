"""Property: whatever bytes a spec file holds, ``validate`` and ``summary`` answer with a spec or
with errors at FILE:LINE:COL, quickly, and a valid spec survives the round trip through the
``spec.yaml`` a run directory keeps (``--resume`` reads it back).

Default: a few hundred generated files; ``CNNBUILD_FUZZ_EXAMPLES=10000`` for the long run.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings

from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec import SpecError, load_spec, spec_from_text
from cnnbuild.spec.overrides import apply_overrides
from cnnbuild.spec.shapes import infer_spec
from cnnbuild.spec.yaml_source import read_yaml

from .budget import FUZZ_EXAMPLES, LONG
from .spec_mutations import EXAMPLES, hostile_texts, override_options

#: One spec must never take this long: the real cost is milliseconds, so this catches hangs.
SECONDS_PER_SPEC = 5.0

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,  # timed below instead: a shared CI machine makes per-example deadlines flaky
    derandomize=not LONG,  # the CI subset tries the same cases every time
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)


def assert_located(error: SpecError, where: str) -> None:
    """Every issue names the file (or the --set option) and, for the file, a line and column."""
    assert error.issues, "a SpecError without issues"
    for issue in error.issues:
        if issue.severity == "note":  # context (a plugin that failed to load), not a place in the file
            continue
        if issue.filename.startswith("--set "):
            continue
        assert issue.filename == where, issue
        assert issue.line >= 1 and issue.column >= 1, issue
        assert issue.render().startswith(f"{where}:{issue.line}:{issue.column}: "), issue.render()


def assert_valid_spec_round_trips(spec) -> None:
    """What ``run`` writes as spec.yaml validates again to the same spec, and shapes infer."""
    canonical = spec.canonical()
    again = spec_from_text(yaml.safe_dump(canonical, sort_keys=False, allow_unicode=True), "spec.yaml")
    assert again.canonical() == canonical
    infer_spec(spec, get_registry())


@FUZZ
@given(data=hostile_texts())
def test_any_spec_file_gives_a_spec_or_located_errors(tmp_path_factory, tally, data):
    path = tmp_path_factory.getbasetemp() / "fuzz-spec.yaml"
    path.write_bytes(data)
    started = time.process_time()
    try:
        spec = load_spec(path)
    except SpecError as error:
        assert_located(error, str(path))
        tally["specs fuzzed: invalid, located errors"] += 1
    else:
        assert_valid_spec_round_trips(spec)
        tally["specs fuzzed: valid, round-tripped"] += 1
    assert time.process_time() - started < SECONDS_PER_SPEC


@FUZZ
@given(options=override_options())
def test_any_set_option_gives_a_spec_or_located_errors(tally, options):
    source = read_yaml(EXAMPLES / "digits.yaml")
    started = time.process_time()
    try:
        from cnnbuild.spec.document import validate_source

        spec = validate_source(apply_overrides(source, options))
    except SpecError as error:
        assert_located(error, str(EXAMPLES / "digits.yaml"))
        for issue in error.issues:
            if issue.filename.startswith("--set "):
                assert issue.filename[len("--set ") :] in options, issue
        tally["--set option lists fuzzed: invalid, located errors"] += 1
    else:
        assert_valid_spec_round_trips(spec)
        tally["--set option lists fuzzed: valid"] += 1
    assert time.process_time() - started < SECONDS_PER_SPEC


def test_the_examples_themselves_are_valid_and_round_trip():
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert_valid_spec_round_trips(load_spec(path))


def test_fuzz_budget_is_what_the_docs_say():
    # RELIABILITY.md promises a few hundred cases in CI and at least 10,000 in the long run.
    assert FUZZ_EXAMPLES >= 200
    assert LONG == (FUZZ_EXAMPLES >= 2000)
    assert Path(__file__).with_name("budget.py").read_text().count("CNNBUILD_FUZZ_EXAMPLES=10000") == 1
