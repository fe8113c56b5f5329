from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import shared_once


@pytest.fixture(scope="session")
def served_tflite(tiny_digits_run, tmp_path_factory) -> Path:
    """The tiny digits run exported once to TFLite for every serve test (read-only: copy it to change it)."""
    pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")

    def export(folder: Path) -> None:
        import cnnbuild.export

        cnnbuild.export.export_run(tiny_digits_run, "tflite", out=folder / "tflite", latency_runs=2)

    return shared_once(tmp_path_factory, "served-tflite", export) / "tflite" / "model.tflite"
