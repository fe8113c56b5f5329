"""How big a reliability run is, and the tally its figures come from.

The default (CI) run tries a few hundred generated cases; the long run is

    CNNBUILD_FUZZ_EXAMPLES=10000 CNNBUILD_RELIABILITY_REPORT=reliability.json python -m pytest tests/reliability -q

which multiplies every generated corpus and writes what was tried to the JSON file.
"""

from __future__ import annotations

import os
from collections import Counter

#: Generated spec documents per property test; the long run sets 10000.
FUZZ_EXAMPLES = int(os.environ.get("CNNBUILD_FUZZ_EXAMPLES", "300"))
LONG = FUZZ_EXAMPLES >= 2000
REPORT_ENV = "CNNBUILD_RELIABILITY_REPORT"

#: What the corpus tried, by kind (specs fuzzed, files checked, kills survived, ...).
TALLY: Counter[str] = Counter()


def scaled(ci: int, long: int) -> int:
    """``ci`` in the default run, ``long`` in the long one."""
    return long if LONG else ci
