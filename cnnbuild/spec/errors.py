"""Spec errors and their one rendering: ``FILE:LINE:COL: dotted.path: message``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cnnbuild.errors import CnnbuildError


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: where it is and what is wrong."""

    filename: str
    line: int
    column: int
    path: str
    message: str
    #: "error" (the spec cannot run) or "warning" (it can, but the user should know)
    severity: str = "error"

    def render(self) -> str:
        where = self.filename if self.line <= 0 else f"{self.filename}:{self.line}:{self.column}"
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"


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
    if not isinstance(word, str):
        return ""
    choices = list(choices)
    by_lower = {choice.lower(): choice for choice in choices}
    if word.lower() in by_lower:
        return f"; did you mean {by_lower[word.lower()]!r}?"
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""
