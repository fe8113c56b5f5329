"""Fixtures of the reliability corpus; sizes and the long-run command are in budget.py."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from .budget import FUZZ_EXAMPLES, LONG, REPORT_ENV, TALLY


@pytest.fixture(scope="session")
def tally() -> Counter[str]:
    """Add to this what a test tried; the long run reports it (CNNBUILD_RELIABILITY_REPORT)."""
    return TALLY


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(REPORT_ENV)
    if target and TALLY:
        report = {"fuzz_examples": FUZZ_EXAMPLES, "long": LONG, "exit_status": int(exitstatus), "counts": dict(sorted(TALLY.items()))}
        Path(target).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
