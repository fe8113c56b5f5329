"""The problems found while a graph is expanded, each kept once, at the line it is about."""

from __future__ import annotations

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecIssue, format_path
from cnnbuild.spec.yaml_source import PathKey, SpecSource


class IssueList:
    """The issues of one expansion, in the order found; a problem found again (a block's, at each
    of its uses) is kept once, with the first use's ``context``."""

    def __init__(self, source: SpecSource) -> None:
        self.source = source
        self.issues: list[SpecIssue] = []
        self.reported: set[tuple[str, int, int, Code, str]] = set()

    def report(self, path: PathKey | None, code: Code, message: str, *, key: bool = False, position: tuple[str, int, int, str] | None = None, context: str = "") -> None:
        """Add an issue once (a block's problem is reported at its first use; ``context`` names the use)."""
        where, line, column, shown = position or _located(self.source, path, key)
        if (where, line, column, code, message) not in self.reported:
            self.reported.add((where, line, column, code, message))
            self.issues.append(SpecIssue(where, line, column, shown, f"{message} ({context})" if context else message, code=code))


def _located(source: SpecSource, path: PathKey | None, key: bool) -> tuple[str, int, int, str]:
    """Where the node at ``path`` is (file, line, column) and the path as written in messages."""
    if path is None:
        raise TypeError("an issue needs its path or its position")
    return (*source.locate(path, key=key), format_path(path))
