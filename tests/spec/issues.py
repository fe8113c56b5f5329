"""What spec tests check: the stable code and the place of each issue (the wording may improve;
a few tests keep it on purpose)."""

from __future__ import annotations

import textwrap
from typing import Any

from cnnbuild.spec import SpecError, spec_from_text


def located(issues: Any, *, severity: str = "error") -> list[tuple[str, str, str]]:
    """``(LINE:COL, dotted.path, code)`` of each issue of ``severity``, in file order."""
    ordered = sorted(issues, key=lambda issue: (issue.filename, issue.line, issue.column))
    return [(f"{issue.line}:{issue.column}", issue.path, str(issue.code)) for issue in ordered if issue.severity == severity]


def issue_codes(text: str, filename: str = "spec.yaml", **options: Any) -> list[tuple[str, str, str]]:
    """The errors of a spec given as (dedented) YAML text, as :func:`located` gives them; [] when it is valid."""
    try:
        spec_from_text(textwrap.dedent(text), filename, **options)
    except SpecError as exc:
        return located(exc.issues)
    return []
