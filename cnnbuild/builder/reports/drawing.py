"""A run's figures drawn on one background thread while the report's other work goes on.

Drawing is Python and Agg, predicting is TensorFlow's C++ with the GIL released, and saving the
model is mostly file writing: on the 2-core benchmark machine the three figures of the flowers
run (1.7 s) were drawn one after the other after the prediction pass. Here they are drawn while
it runs and while the model is saved; :meth:`FigureWriter.finish` waits for them, so a run is
marked completed only once every figure is written (or its failure is a warning).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.runs.directory import RunDirectory

log = logging.getLogger(__name__)


def draw_now(run: RunDirectory, name: str, draw: Callable[[Path], list[str]]) -> None:
    """Write figure ``name`` of ``run`` with ``draw``; a figure that fails to draw must not cost the user a finished training run."""
    try:
        run.write_bytes_with(name, draw)
    except Exception as exc:
        log.warning("warning: could not draw %s: %s: %s", name, type(exc).__name__, exc)


class FigureWriter:
    """Figures of one run directory, drawn in order on one background thread. matplotlib is not
    thread-safe: while a report has a FigureWriter, every figure goes through it, so only its
    thread draws (matplotlib's Figure objects, never pyplot)."""

    def __init__(self, run: RunDirectory) -> None:
        self.run = run
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnbuild-figures")
        self._pending: list[Future[None]] = []

    def draw(self, name: str, draw: Callable[[Path], list[str]]) -> None:
        """Draw figure ``name`` with ``draw`` (given the file's path) once the figures before it are done."""
        self._pending.append(self._pool.submit(draw_now, self.run, name, draw))

    def finish(self) -> None:
        """Wait for every figure asked for."""
        try:
            for pending in self._pending:
                pending.result()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> FigureWriter:
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if kind is None:
            self.finish()
        else:  # the report failed or was interrupted: the figure being drawn ends, those waiting are dropped
            self._pool.shutdown(wait=True, cancel_futures=True)
