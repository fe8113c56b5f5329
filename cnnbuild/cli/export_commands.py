"""Commands that ship a model: export (verified SavedModel, TFLite, ONNX) and serve (an HTTP API and a web page)."""

from __future__ import annotations

from pathlib import Path

import click

from cnnbuild.cli.common import errors_to_exit
from cnnbuild.export.formats import BY_NAME, QUANTIZE_MODES


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--format", "format_", required=True, type=click.Choice(list(BY_NAME)), help="The exported model's format.")
@click.option("--quantize", type=click.Choice(list(QUANTIZE_MODES)), default="none", show_default=True,
              help=f"float16 weights, dynamic-range int8 weights, or int8 throughout (calibrated on training images). {' and '.join(f.title for f in BY_NAME.values() if len(f.quantize) > 1)} only.")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), help="The export folder (default: RUN_DIR/exports/FORMAT[-QUANTIZE]); the files an earlier export wrote there are replaced, any other file is kept.")
@click.option("--max-accuracy-drop", type=click.FloatRange(min=0), default=2.0, show_default=True, help="Fail when the export's validation accuracy is lower than the Keras model's by more points than this.")
@click.option("--calibration-images", type=click.IntRange(min=1), default=200, show_default=True, help="int8: training images that calibrate the quantization ranges.")
@click.option("--parity-examples", type=click.IntRange(min=1), default=2000, show_default=True, help="At most this many validation images in the parity check.")
@click.option("--latency-runs", type=click.IntRange(min=1), default=50, show_default=True, help="Single-image latency is the median of this many calls.")
@click.option("--allow-unsafe-model", is_flag=True, help="Load a model that contains Python code (Lambda layers). Only for files you trust.")
@errors_to_exit
def export(
    run_dir: Path, format_: str, quantize: str, out: Path | None, max_accuracy_drop: float, calibration_images: int, parity_examples: int, latency_runs: int, allow_unsafe_model: bool
) -> None:
    """Export a finished run's model: raw uint8 images of any size in, class probabilities out.

    The export is checked against the Keras model on the validation split before it is kept.
    """
    from cnnbuild.export.exporter import export_run

    result = export_run(
        run_dir, format_, quantize, out, max_accuracy_drop=max_accuracy_drop, calibration_images=calibration_images,
        parity_examples=parity_examples, latency_runs=latency_runs, allow_unsafe=allow_unsafe_model,
    )  # fmt: skip
    click.echo(result.parity.table())
    others = [name for name in result.files if result.folder / name != result.model_path]
    beside = f" (with {', '.join(others)})" if others and result.model_path != result.folder else ""
    click.echo(f"wrote {result.model_path}{beside}")
    click.echo(f"wrote {result.report}")
    if result.kept:
        click.echo(f"kept {', '.join(result.kept)} in {result.folder} (not written by cnnbuild export)")


@click.command()
@click.argument("model", metavar="RUN_DIR_OR_EXPORT", type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 makes the service reachable from other machines.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8000, show_default=True)
@click.option("--batch-wait-ms", type=click.FloatRange(min=0), default=5.0, show_default=True, help="How long a model call waits for more images while other requests are still arriving.")
@click.option("--max-batch", type=click.IntRange(min=1), default=32, show_default=True, help="Most images in one model call.")
@click.option("--max-body-mb", type=click.FloatRange(min=0.001), default=20.0, show_default=True, help="Largest request body, in megabytes.")
@click.option("--max-megapixels", type=click.FloatRange(min=0.001), default=50.0, show_default=True, help="Largest image, in millions of pixels (checked before decoding).")
@click.option("--max-files", type=click.IntRange(min=1), default=16, show_default=True, help="Most images in one request.")
@click.option("--memory-budget-mb", type=click.FloatRange(min=1), default=1000.0, show_default=True,
              help="Memory all requests in flight may hold together (bodies, images while decoding, decoded pixels); a request that does not fit waits, then gets 503.")  # fmt: skip
@click.option("--max-connections", type=click.IntRange(min=8), default=512, show_default=True, help="Most open connections (kept below the process's open-file limit).")
@click.option("--header-timeout-s", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="A connection that has not sent a whole request head in this time is closed.")
@click.option("--body-timeout-s", type=click.FloatRange(min=0.1), default=60.0, show_default=True, help="A request whose body has not arrived in this time after its head is closed.")
@click.option("--allow-unsafe-model", is_flag=True, help="Load a model that contains Python code (Lambda layers). Only for files you trust.")
@click.option("--allow-modified", is_flag=True, help="Serve an export whose files changed after cnnbuild export wrote them (their sha256 differs from export.json), with a warning.")
@errors_to_exit
def serve(
    model: Path, host: str, port: int, batch_wait_ms: float, max_batch: int, max_body_mb: float, max_megapixels: float, max_files: int,
    memory_budget_mb: float, max_connections: int, header_timeout_s: float, body_timeout_s: float, allow_unsafe_model: bool, allow_modified: bool,
) -> None:  # fmt: skip
    """Serve a run's model or an exported model over HTTP: POST /predict, GET /health, /metadata, /docs and a web page at /."""
    from cnnbuild.serve import ServeSettings
    from cnnbuild.serve import serve as run_server

    settings = ServeSettings(
        max_batch=max_batch, batch_wait_ms=batch_wait_ms, max_body_bytes=int(max_body_mb * 1_000_000),
        max_pixels=int(max_megapixels * 1_000_000), max_files=max_files, memory_budget_bytes=int(memory_budget_mb * 1_000_000),
        max_connections=max_connections, header_timeout_s=header_timeout_s, body_timeout_s=body_timeout_s,
    )  # fmt: skip
    run_server(model, host=host, port=port, settings=settings, allow_unsafe=allow_unsafe_model, allow_modified=allow_modified, announce=click.echo)


COMMANDS = (export, serve)
