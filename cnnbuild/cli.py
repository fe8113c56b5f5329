"""The ``cnnbuild`` command: parse arguments, call the library, turn errors into messages and exit codes."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnnbuild.errors import CnnbuildError

# TensorFlow's C++ start-up chatter hides what cnnbuild says; users can set it back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _errors_to_exit(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a user error's message (no traceback) and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CnnbuildError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)

    return wrapper


def _warn_plugin_failures() -> None:
    from cnnbuild.plugins.manager import get_registry

    for failure in get_registry().failures:
        click.echo(f"warning: {failure}", err=True)


class _Commands(click.Group):
    """Adds plugin commands (``register_commands``) the first time commands are listed or looked up."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from cnnbuild.plugins.manager import get_plugin_manager, plugin_info

        pm = get_plugin_manager()
        for impl in pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as exc:  # one broken plugin must not take the CLI down
                click.echo(f"warning: {plugin_info(impl.plugin).describe()} failed to add commands: {type(exc).__name__}: {exc}", err=True)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, name)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="cnnbuild")
def cli() -> None:
    """Describe a convolutional image classifier in YAML, validate it, train it."""


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
def validate(specs: tuple[Path, ...], overrides: tuple[str, ...]) -> None:
    """Check specs without training (no TensorFlow); print every error as FILE:LINE:COL: path: message."""
    from cnnbuild.spec import SpecError, load_spec

    _warn_plugin_failures()
    failed = False
    for path in specs:
        try:
            load_spec(path, overrides)
        except SpecError as exc:
            failed = True
            click.echo(str(exc), err=True)
        else:
            click.echo(f"{path}: ok")
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--num-classes", type=click.IntRange(min=1), help="Class count for 'units: auto' when the data is not on disk yet.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@_errors_to_exit
def summary(spec_path: Path, as_json: bool, num_classes: int | None, overrides: tuple[str, ...]) -> None:
    """Build the model and print its layers, output shapes and parameter counts."""
    from cnnbuild.builder.inspect import model_summary
    from cnnbuild.spec import load_spec

    spec = load_spec(spec_path, overrides, num_classes=num_classes)
    result = model_summary(spec, num_classes)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(f"{result.text}\n Forward pass: about {result.forward_flops / 1e6:,.1f} MFLOP per image (2 x parameters x output positions)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json: bool) -> None:
    """List plugins with their distribution, version and what they register."""
    from cnnbuild.plugins.manager import get_registry

    registry = get_registry()
    rows = [
        {"name": info.name, "distribution": info.distribution, "version": info.version, "builtin": info.builtin, "registers": registry.registered_by(info)}
        for info in registry.plugins
    ]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failures": registry.failures}, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}  ({row['distribution']} {row['version']}{', builtin' if row['builtin'] else ''})")
        for kind, names in row["registers"].items():
            click.echo(f"  {kind}s: {', '.join(names)}")
    for failure in registry.failures:
        click.echo(f"error: {failure}", err=True)


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of standard output.")
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the spec, with every registered type, for editors."""
    from cnnbuild.spec.json_schema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {out}")


@cli.command("run")
@click.argument("spec_path", metavar="SPEC", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value, e.g. --set train.epochs=3 (repeatable).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Write the run to exactly this (new or empty) folder.")
@click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Continue the interrupted run in this folder.")
@click.option("--verbose", type=click.Choice(["auto", "bar", "line", "quiet"]), help="Progress display (default: the spec's train.verbose).")
@click.option("--process-id", type=click.IntRange(min=0), help="distribute.mode machines: this process's index, 0 on the machine that writes the run (or KERAS_DISTRIBUTION_PROCESS_ID, JOB_COMPLETION_INDEX).")
@click.option("--num-processes", type=click.IntRange(min=1), help="distribute.mode machines: how many processes train together (or KERAS_DISTRIBUTION_NUM_PROCESSES).")
@click.option("--coordinator", metavar="HOST:PORT", help="distribute.mode machines: process 0's address, which the others connect to (or KERAS_DISTRIBUTION_JOB_ADDRESSES).")
@_errors_to_exit
def run_command(
    spec_path: Path | None, overrides: tuple[str, ...], output: Path | None, resume: Path | None, verbose: str | None, process_id: int | None, num_processes: int | None, coordinator: str | None
) -> None:
    """Train SPEC and write a run directory (or continue one with --resume).

    With ``distribute: {mode: machines}`` start the same command on every machine, each with its own --process-id.
    """
    from cnnbuild.builder import distribution
    from cnnbuild.builder.training import run

    if (spec_path is None) == (resume is None):
        raise click.UsageError("give either SPEC or --resume RUN_DIR")
    for name, value in ((distribution.PROCESS_ID_ENV, process_id), (distribution.NUM_PROCESSES_ENV, num_processes), (distribution.COORDINATOR_ENV, coordinator)):
        if value is not None:
            os.environ[name] = str(value)  # where the engine reads them; options win over the spec
    # Keras reads its backend once, at import; plugins (loaded next) may import it.
    distribution.select_backend_for_file(resume / "spec.yaml" if resume else spec_path, () if resume else overrides)
    _warn_plugin_failures()
    try:
        result = run(spec_path, overrides, output=output, resume=resume, verbose=verbose)
    except KeyboardInterrupt:  # Ctrl-C while the data is scanned or the model built: nothing trained yet
        again = f"cnnbuild run --resume {resume}" if resume else "the same command"
        click.echo(f"\ninterrupted before training started; nothing new was trained, run {again} to start again", err=True)
        sys.exit(130)
    if result.process[0] != 0:
        index, count = result.process
        state = "finished" if result.completed else "stopped"
        click.echo(f"process {index} of {count} {state}; process 0 writes the run directory")
        sys.exit(0 if result.completed else 130)
    for skipped in result.skipped:
        click.echo(f"skipped {skipped['path']}: {skipped['reason']}", err=True)
    if result.skipped:
        click.echo(f"{len(result.skipped)} file(s) skipped; listed in {result.run_dir / 'skipped.json'}", err=True)
    if not result.completed:
        done = result.metrics.get("completed_epochs", 0)
        click.echo(f"interrupted after {done} complete epoch(s); resume with: cnnbuild run --resume {result.run_dir}", err=True)
        sys.exit(130)
    click.echo(format_run_summary(result))


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--data", type=click.Path(file_okay=False, exists=True, path_type=Path), help="A folder of class sub-folders to evaluate on (default: the run's validation split).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--allow-unsafe-model", is_flag=True, help="Load a model that contains Python code (Lambda layers). Only for files you trust.")
@_errors_to_exit
def evaluate(run_dir: Path, data: Path | None, as_json: bool, allow_unsafe_model: bool) -> None:
    """Evaluate a finished run's model on its validation split or on another folder."""
    from cnnbuild.builder.inference import evaluate as evaluate_run

    results = evaluate_run(run_dir, data, allow_unsafe=allow_unsafe_model)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    click.echo(f"{results.pop('examples')} examples from {results.pop('data')}")
    for key, value in results.items():
        click.echo(f"{key} {value:.4f}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True, help="How many classes to show per image.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON.")
@click.option("--allow-unsafe-model", is_flag=True, help="Load a model that contains Python code (Lambda layers). Only for files you trust.")
@_errors_to_exit
def predict(run_dir: Path, images: tuple[Path, ...], top_k: int, as_json: bool, allow_unsafe_model: bool) -> None:
    """Predict the classes of images (files or folders) with a finished run's model."""
    from cnnbuild.builder.inference import predict as predict_images

    results = predict_images(run_dir, list(images), top_k=top_k, allow_unsafe=allow_unsafe_model)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for result in results:
            if "error" in result:
                click.echo(f"{result['path']}: skipped: {result['error']}", err=True)
                continue
            shown = ", ".join(f"{p['class']} {p['probability']:.1%}" for p in result["predictions"])
            click.echo(f"{result['path']}: {shown}")
    if any("error" in result for result in results):
        sys.exit(1)


@cli.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder for samples.png and augmentation.png.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@_errors_to_exit
def preview(spec_path: Path, out: Path, overrides: tuple[str, ...]) -> None:
    """Show the data: nine training images, nine augmentation draws, and a dataset report."""
    from cnnbuild.builder.preview import preview as write_preview
    from cnnbuild.spec import load_spec

    _warn_plugin_failures()
    result = write_preview(load_spec(spec_path, overrides), out)
    click.echo(result.report.text())
    for note in result.notes:
        click.echo(f"note: {note}")
    for path in result.files.values():
        click.echo(f"wrote {path}")


@cli.command("plot-model")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("model.png"), show_default=True, help="Image file (.png, .svg, .pdf).")
@click.option("--num-classes", type=click.IntRange(min=1), help="Class count for 'units: auto' when the data is not on disk yet.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@_errors_to_exit
def plot_model_command(spec_path: Path, out: Path, num_classes: int | None, overrides: tuple[str, ...]) -> None:
    """Draw the layer stack with output shapes (needs pydot and Graphviz)."""
    from cnnbuild.builder.model_diagram import plot_model
    from cnnbuild.spec import load_spec

    click.echo(f"wrote {plot_model(load_spec(spec_path, overrides, num_classes=num_classes), out, num_classes=num_classes)}")


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="HTML file to write (default: RUN_DIR/report.html).")
@_errors_to_exit
def report(run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML page about a run: spec, model, curves, confusion matrix, mistakes."""
    from cnnbuild.builder.html_report import write_report

    click.echo(f"wrote {write_report(run_dir, out)}")


@cli.command()
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("compare.png"), show_default=True, help="Where to draw the overlaid validation curves.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@_errors_to_exit
def compare(run_dirs: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Compare finished runs side by side and overlay their validation curves."""
    from cnnbuild.builder.compare import compare_runs

    result = compare_runs(list(run_dirs), out)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else f"{result.table}\nwrote {result.figure}")


@cli.command()
@click.argument("spec_a", metavar="SPEC_A", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("spec_b", metavar="SPEC_B", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--num-classes", type=click.IntRange(min=1), help="Class count for 'units: auto' when the data is not on disk yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@_errors_to_exit
def diff(spec_a: Path, spec_b: Path, num_classes: int | None, as_json: bool) -> None:
    """Show what changed between two specs: layers (with shapes and parameters) and settings. No TensorFlow needed."""
    from cnnbuild.spec import load_spec
    from cnnbuild.spec.diff import diff_specs

    result = diff_specs(load_spec(spec_a, num_classes=num_classes), load_spec(spec_b, num_classes=num_classes), num_classes=num_classes)
    result.name_a, result.name_b = str(spec_a), str(spec_b)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.text())


def format_run_summary(result: Any) -> str:
    """The lines printed when a run finishes."""
    metrics = result.metrics
    lines = [f"run complete: {result.run_dir}"]
    final = metrics.get("final", {})
    shown = "  ".join(f"{key} {value:.4f}" for key, value in final.items() if key.startswith("val_"))
    if shown:
        lines.append(f"final  {shown}")
    best = metrics.get("best", {})
    for key in ("val_accuracy", "val_loss"):
        if key in best:
            lines.append(f"best   {key} {best[key]['value']:.4f} at epoch {best[key]['epoch']}")
    if metrics.get("train_images_per_second"):
        lines.append(f"epochs {metrics['epochs_run']}/{metrics['epochs']}  wall {metrics['wall_seconds']:.1f}s  {metrics['train_images_per_second']:.0f} training images/s  precision {metrics.get('precision')}")
    if metrics.get("validation"):
        lines.append("saved model on the validation split: " + "  ".join(f"{key} {value:.4f}" for key, value in metrics["validation"].items()))
    if metrics.get("per_class"):
        from cnnbuild.builder.evaluation import format_class_table

        lines += ["", format_class_table(metrics["per_class"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cnnbuild`` console script."""
    import warnings

    # Keras warns about arguments cnnbuild passes on purpose; keep the output for what matters.
    warnings.filterwarnings("ignore", message=".*shuffle=True. was passed.*")
    warnings.filterwarnings("ignore", message=".*Your input ran out of data.*")
    cli.main(args=argv, prog_name="cnnbuild")
