"""Commands about finished runs and the data: evaluate, predict, report, compare, preview."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cnnbuild.cli.common import errors_to_exit
from cnnbuild.errors import CnnbuildError


@click.command()
@click.argument("run_dir", metavar="RUN_DIR_OR_EXPORT", type=click.Path(exists=True, path_type=Path))
@click.option("--data", type=click.Path(exists=True, path_type=Path), help="Data to evaluate on, read by the run's data source (a folder of some or all of the run's classes; segmentation: a folder with images/ and masks/). Default: the run's validation split. Required for an export: a folder of class sub-folders (segmentation: images/ and masks/).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for predictions.csv, confusion_matrix.png and misclassified.png (default: RUN_DIR/evaluations/NAME; for an export, nothing is written without --out).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--allow-unsafe-model", is_flag=True, help="Load a model that contains Python code (Lambda layers). Only for files you trust.")
@click.option("--allow-modified", is_flag=True, help="Evaluate an export whose files changed after cnnbuild export wrote them, with a warning.")
@errors_to_exit
def evaluate(run_dir: Path, data: Path | None, out: Path | None, as_json: bool, allow_unsafe_model: bool, allow_modified: bool) -> None:
    """Evaluate a finished run's model, or an exported model (.tflite, .onnx, a SavedModel or export
    folder) on --data: accuracy, per-class table, confusion matrix, and every prediction by file.
    TFLite and ONNX exports are evaluated without TensorFlow."""
    from cnnbuild.export.location import find_export

    if find_export(run_dir) is not None:
        if data is None:
            raise click.UsageError("an export holds no data of its own: pass --data FOLDER (a folder of class sub-folders)")
        from cnnbuild.export.evaluation import evaluate_export

        result = evaluate_export(run_dir, data, out=out, allow_modified=allow_modified)
    else:
        if not run_dir.is_dir():
            raise click.UsageError(f"{run_dir}: neither a run directory nor an exported model (.tflite, .onnx, a SavedModel or export folder)")
        from cnnbuild.builder.evaluate import evaluate as evaluate_run

        result = evaluate_run(run_dir, data, out=out, allow_unsafe=allow_unsafe_model)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.text())
    if not as_json and not result.written and find_export(run_dir) is not None:
        from cnnbuild.builder.segmentation_evaluate import SegmentationEvaluation

        figures = "mask_overlays.png and the masks" if isinstance(result, SegmentationEvaluation) else "confusion_matrix.png and misclassified.png"
        click.echo(f"(pass --out FOLDER to write predictions.csv, {figures})")


@click.command()
@click.argument("model", metavar="RUN_DIR_OR_EXPORT", type=click.Path(exists=True, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True, help="How many classes to show per image.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON.")
@click.option("--allow-unsafe-model", is_flag=True, help="Load a model that contains Python code (Lambda layers). Only for files you trust.")
@click.option("--allow-modified", is_flag=True, help="Use an export whose files changed after cnnbuild export wrote them (their sha256 differs from export.json), with a warning.")
@click.option("--masks-out", type=click.Path(file_okay=False, path_type=Path), default=Path("masks"), show_default=True, help="Segmentation runs and exports: the folder the predicted mask PNGs are written to (one per image, named after it).")
@errors_to_exit
def predict(model: Path, images: tuple[Path, ...], top_k: int, as_json: bool, allow_unsafe_model: bool, allow_modified: bool, masks_out: Path) -> None:
    """Predict the classes of images (files or folders) with a finished run's model or an exported model
    (.tflite, .onnx, a SavedModel or export folder)."""
    from cnnbuild.export.location import find_export

    if find_export(model) is None and is_segmentation_run(model):
        from cnnbuild.builder.segmentation_predict import predict_masks

        results = predict_masks(model, list(images), masks_out, allow_unsafe=allow_unsafe_model)
    elif find_export(model) is not None:
        from cnnbuild.export.prediction import predict_images

        results = predict_images(model, list(images), top_k=top_k, allow_modified=allow_modified, masks_out=masks_out)
    else:
        from cnnbuild.builder.inference import predict as predict_images

        results = predict_images(model, list(images), top_k=top_k, allow_unsafe=allow_unsafe_model)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for result in results:
            if "error" in result:
                click.echo(f"{result['path']}: skipped: {result['error']}", err=True)
                continue
            if "not_used" in result:
                click.echo(f"{result['path']}: not used: {result['not_used']}", err=True)
                continue
            click.echo(f"{result['path']}: {format_answer(result)}")
    if any("error" in result for result in results):
        sys.exit(1)


def is_segmentation_run(path: Path) -> bool:
    """Whether ``path`` is a run folder of a ``task: segmentation`` spec (read without TensorFlow)."""
    from cnnbuild.runs.record import RunRecord

    try:
        return RunRecord.open(path).spec.task_row.name == "segmentation"
    except CnnbuildError:
        return False  # not a run: the ordinary prediction says what it is


def format_answer(result: dict[str, Any]) -> str:
    """One prediction as the command line shows it: the top classes, the labels present, the values, or the mask written."""
    if "mask" in result:
        return f"mask {result['mask']} (" + ", ".join(f"{name} {share:.1%}" for name, share in result["classes"].items()) + ")"
    if "values" in result:
        return ", ".join(f"{name} {value:.4g}" for name, value in result["values"].items())
    if "labels" in result:
        return ", ".join(f"{p['label']} {p['probability']:.1%}" for p in result["labels"]) or "no label"
    return ", ".join(f"{p['class']} {p['probability']:.1%}" for p in result["predictions"])


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="HTML file to write (default: RUN_DIR/report.html).")
@errors_to_exit
def report(run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML page about a run: spec, model, curves, confusion matrix, mistakes.

    For a sweep folder: its settings, leaderboard, best trial and figures."""
    from cnnbuild.builder.reports.html_report import write_report

    click.echo(f"wrote {write_report(run_dir, out)}")


@click.command()
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("compare.png"), show_default=True, help="Where to draw the overlaid validation curves.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@errors_to_exit
def compare(run_dirs: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Compare finished runs side by side and overlay their validation curves."""
    from cnnbuild.builder.reports.compare import compare_runs

    result = compare_runs(list(run_dirs), out)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else f"{result.table}\nwrote {result.figure}")


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder for samples.png and augmentation.png.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@errors_to_exit
def preview(spec_path: Path, out: Path, overrides: tuple[str, ...]) -> None:
    """Show the data: nine training images, nine augmentation draws, and a dataset report."""
    from cnnbuild.builder.reports.preview import preview as write_preview
    from cnnbuild.spec import load_spec

    result = write_preview(load_spec(spec_path, overrides), out)
    click.echo(result.report.text())
    for note in result.notes:
        click.echo(f"note: {note}")
    for path in result.files.values():
        click.echo(f"wrote {path}")



COMMANDS = (evaluate, predict, report, compare, preview)
