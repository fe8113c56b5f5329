"""Spec errors and their one rendering: ``FILE:LINE:COL: dotted.path: message``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.codes import Code


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: where it is, what kind it is (``code``, stable) and what is wrong (``message``, for people)."""

    filename: str
    line: int
    column: int
    path: str
    message: str
    #: "error" (the spec cannot run), "warning" (it can, but the user should know) or "note" (context for the errors)
    severity: str = "error"
    #: what programs decide by (see :mod:`cnnbuild.spec.codes`)
    code: Code = field(kw_only=True)

    def render(self) -> str:
        where = self.filename if self.line <= 0 else f"{self.filename}:{self.line}:{self.column}"
        message = f"{self.severity}: {self.message}" if self.severity in ("warning", "note") else self.message
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"

    def as_dict(self) -> dict[str, Any]:
        """The issue as ``cnnbuild validate --json`` prints it (line and column None where there is no position)."""
        located = self.line > 0
        return {
            "file": self.filename, "line": self.line if located else None, "column": self.column if located else None,
            "path": self.path, "code": str(self.code), "severity": self.severity, "message": self.message,
        }  # fmt: skip


class SpecError(CnnbuildError):
    """A spec is invalid; carries every issue found, not only the first."""

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues = list(issues)
        super().__init__(render_errors(self.issues))


def render_errors(issues: Iterable[SpecIssue]) -> str:
    """All issues, one per line, in file order."""
    ordered = sorted(issues, key=lambda issue: (issue.filename, issue.line, issue.column))
    return "\n".join(issue.render() for issue in ordered)


def format_path(path: Sequence[Any]) -> str:
    """``('model', 'layers', 3, 'filters')`` -> ``model.layers[3].filters``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def suggest(word: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a near miss (case-insensitive), else ``""``."""
    found = closest(word, choices)
    return f"; did you mean {found!r}?" if found is not None else ""


def closest(word: object, choices: Iterable[str]) -> str | None:
    """The choice ``word`` is a near miss of (case-insensitive), or None."""
    if not isinstance(word, str):
        return None
    by_lower = {choice.lower(): choice for choice in choices}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None
