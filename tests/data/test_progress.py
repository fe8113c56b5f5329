"""Start-up progress: what a step records, and how the command line shows it on a terminal and elsewhere."""

from __future__ import annotations

import logging
import sys

import click
import pytest

from cnnbuild.cli.main import _Console
from cnnbuild.data.progress import Counts, Step


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger():
    logger = logging.getLogger("cnnbuild.test-progress")
    kept = Kept()
    logger.addHandler(kept)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, kept
    logger.removeHandler(kept)


def test_a_step_records_its_start_its_counts_at_a_limited_rate_and_its_end(logger):
    logger, kept = logger
    with Step("checking image files", total=3000, logger=logger) as step:
        for _ in range(3000):
            step.advance()
    counts = [record.progress for record in kept.records]
    assert counts[0] == Counts("checking image files", 0, 3000, False, counts[0].seconds)
    assert counts[-1].finished and counts[-1].done == 3000
    assert len(counts) <= 3 + 5 * (counts[-1].seconds + 1)  # a few a second, not one per file
    assert counts[0].first_line() == "checking image files (3,000)"
    assert counts[-1].line() == f"checking image files: 3,000 of 3,000 ({counts[-1].seconds:.1f} s)"
    assert Counts("loading TensorFlow", 0, None).line() == "loading TensorFlow ..."


def test_a_step_makes_no_record_where_information_is_not_wanted(logger):
    logger, kept = logger
    logger.setLevel(logging.WARNING)  # as the library's logger is, unless a program asks for more
    with Step("checking image files", total=10, logger=logger) as step:
        step.advance(10)
    assert kept.records == []


def render(records: list[Counts | str], *, terminal: bool, shown: bool = True, monkeypatch) -> str:
    written: list[str] = []
    monkeypatch.setattr(click, "echo", lambda message="", nl=True, err=False: written.append(f"{'E:' if err else ''}{message}{chr(10) if nl else ''}"))
    monkeypatch.setattr(sys, "stdout", type("Stream", (), {"isatty": lambda self: terminal})())
    console = _Console()
    console.progress = shown
    for item in records:
        record = logging.LogRecord("cnnbuild", logging.INFO, __file__, 0, item if isinstance(item, str) else item.line(), None, None)
        if not isinstance(item, str):
            record.progress = item
        console.emit(record)
    return "".join(written)


STEPS = [Counts("loading TensorFlow", 0, None), Counts("loading TensorFlow", 0, None, True, 8.25),
         Counts("checking image files", 0, 600), Counts("checking image files", 300, 600), "a note", Counts("checking image files", 600, 600, True, 1.5)]  # fmt: skip


def test_a_terminal_sees_one_line_rewritten_in_place(monkeypatch):
    assert render(STEPS, terminal=True, monkeypatch=monkeypatch) == (
        "\r\033[Kloading TensorFlow ...\r\033[Kloading TensorFlow (8.2 s)\n"
        "\r\033[Kchecking image files: 0 of 600\r\033[Kchecking image files: 300 of 600\n"  # a message ends the open line first
        "a note\n"
        "\r\033[Kchecking image files: 600 of 600 (1.5 s)\n"
    )


def test_elsewhere_each_step_is_one_line_and_commands_that_do_not_ask_show_none(monkeypatch):
    assert render(STEPS, terminal=False, monkeypatch=monkeypatch) == "loading TensorFlow\nchecking image files (600)\na note\n"
    assert render(STEPS, terminal=True, shown=False, monkeypatch=monkeypatch) == "a note\n"
