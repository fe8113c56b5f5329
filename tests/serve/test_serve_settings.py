"""Limits of `cnnbuild serve` that cannot work together are refused before anything loads."""

from __future__ import annotations

from ..conftest import run_cli


def test_a_body_limit_over_the_memory_budget_is_refused_in_one_line(tmp_path):
    """Every body is held within the budget as it arrives, so with --memory-budget-mb under --max-body-mb
    a body of the largest allowed size could never be read: say so at start."""
    result = run_cli("serve", str(tmp_path), "--memory-budget-mb", "10", "--port", "0", timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "--max-body-mb 20 is over --memory-budget-mb 10: a request's body is held within the memory budget, so a body of the largest size allowed "
        "could never be read; lower --max-body-mb to at most the budget, or raise --memory-budget-mb"
    )
    assert "Traceback" not in result.stderr
