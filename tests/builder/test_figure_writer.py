"""FigureWriter: a run's figures drawn on a background thread, in order, waited for; a failing one is a warning."""

from __future__ import annotations

import logging
import threading

from cnnbuild.builder.reports.drawing import FigureWriter
from cnnbuild.runs.directory import RunDirectory


def test_figures_are_drawn_in_order_off_the_calling_thread_and_waited_for(tmp_path, caplog) -> None:
    run = RunDirectory(tmp_path)
    drawn: list[tuple[str, str]] = []
    release = threading.Event()

    def writer(name: str, wait: bool = False):
        def draw(path):
            if wait:
                assert release.wait(10)
            drawn.append((name, threading.current_thread().name))
            path.write_bytes(name.encode())
            return [name]

        return draw

    def broken(path):
        raise ValueError("no such colour")

    with caplog.at_level(logging.WARNING), FigureWriter(run) as drawings:
        drawings.draw("first.png", writer("first", wait=True))
        drawings.draw("broken.png", broken)
        drawings.draw("second.png", writer("second"))
        assert drawn == []  # the caller goes on while the first figure is still being drawn
        release.set()
    assert [name for name, _ in drawn] == ["first", "second"]
    assert all(thread.startswith("cnnbuild-figures") for _, thread in drawn)
    assert (tmp_path / "first.png").read_bytes() == b"first" and (tmp_path / "second.png").read_bytes() == b"second"
    assert not (tmp_path / "broken.png").exists()
    assert "could not draw broken.png: ValueError: no such colour" in caplog.text


def test_a_failing_report_drops_the_figures_still_waiting(tmp_path) -> None:
    run = RunDirectory(tmp_path)
    started, release = threading.Event(), threading.Event()

    def slow(path):
        started.set()
        assert release.wait(10)
        path.write_bytes(b"first")
        return ["first"]

    def later(path):
        path.write_bytes(b"later")
        return ["later"]

    try:
        with FigureWriter(run) as drawings:
            drawings.draw("first.png", slow)
            drawings.draw("later.png", later)
            assert started.wait(10)
            release.set()
            raise KeyboardInterrupt  # Ctrl-C while the report predicts
    except KeyboardInterrupt:
        pass
    assert (tmp_path / "first.png").read_bytes() == b"first"  # the figure being drawn was finished
    assert not (tmp_path / "later.png").exists()  # the one waiting was dropped
