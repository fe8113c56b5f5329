"""Commands about specs: init, validate, summary, diff, schema, plot-model, and the plugins that define what a spec may hold."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cnnbuild.cli.common import errors_to_exit
from cnnbuild.contracts.tasks import DEFAULT_TASK, TASKS


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print every issue as JSON (file, line, column, path, code, severity, message).")
def validate(specs: tuple[Path, ...], overrides: tuple[str, ...], as_json: bool) -> None:
    """Check specs without training (no TensorFlow); print every error as FILE:LINE:COL: path: message.

    A spec with a sweep: section, or a sweep file, also has its search space checked: every value
    it can take is applied to the spec and validated."""
    from cnnbuild.spec import SpecError, render_errors
    from cnnbuild.spec.sweep_checks import validate_file

    results = []
    for path in specs:
        try:
            results.append((path, False, validate_file(path, overrides)))
        except SpecError as exc:
            results.append((path, True, exc.issues))
    if as_json:
        click.echo(json.dumps(validation_report(results), indent=2))
    else:
        for path, failed, issues in results:
            for issue in issues if not failed else ():
                click.echo(issue.render(), err=True)
            click.echo(render_errors(issues) if failed else f"{path}: ok", err=failed)
    sys.exit(1 if any(failed for _, failed, _ in results) else 0)


def validation_report(results: list[tuple[Path, bool, list[Any]]]) -> dict[str, Any]:
    """What ``validate --json`` prints: the shape is stable (``version`` changes if it ever must)."""
    return {
        "version": 1,
        "valid": not any(failed for _, failed, _ in results),
        "specs": [{"spec": str(path), "valid": not failed, "issues": [issue.as_dict() for issue in issues]} for path, failed, issues in results],
    }


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--num-classes", type=click.IntRange(min=1), help="Class count for 'units: auto' when the data is not on disk yet.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@errors_to_exit
def summary(spec_path: Path, as_json: bool, num_classes: int | None, overrides: tuple[str, ...]) -> None:
    """Build the model and print its layers, output shapes and parameter counts."""
    from cnnbuild.builder.model.summary import model_summary
    from cnnbuild.spec import load_spec

    spec = load_spec(spec_path, overrides, num_classes=num_classes)
    for warning in spec.warnings:
        click.echo(warning.render(), err=True)
    result = model_summary(spec, num_classes)
    for mismatch in result.mismatches:
        click.echo(f"warning: {mismatch}", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(f"{result.text}\n Forward pass: about {result.forward_flops / 1e6:,.1f} MFLOP per image (2 x parameters x output positions)")
        if result.memory:
            click.echo(f" Memory: {result.memory}")
        for note in result.notes:
            click.echo(f" {note}")


@click.command()
@click.argument("spec_a", metavar="SPEC_A", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("spec_b", metavar="SPEC_B", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--num-classes", type=click.IntRange(min=1), help="Class count for 'units: auto' when the data is not on disk yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@errors_to_exit
def diff(spec_a: Path, spec_b: Path, num_classes: int | None, as_json: bool) -> None:
    """Show what changed between two specs: layers (with shapes and parameters) and settings. No TensorFlow needed."""
    from cnnbuild.spec import load_spec
    from cnnbuild.spec.diff import diff_specs

    result = diff_specs(load_spec(spec_a, num_classes=num_classes), load_spec(spec_b, num_classes=num_classes), num_classes=num_classes)
    result.name_a, result.name_b = str(spec_a), str(spec_b)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.text())


@click.command()
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


@click.command("plot-model")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("model.png"), show_default=True, help="Image file (.png, .svg, .pdf).")
@click.option("--num-classes", type=click.IntRange(min=1), help="Class count for 'units: auto' when the data is not on disk yet.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value (repeatable).")
@errors_to_exit
def plot_model_command(spec_path: Path, out: Path, num_classes: int | None, overrides: tuple[str, ...]) -> None:
    """Draw the layer stack with output shapes (needs pydot and Graphviz)."""
    from cnnbuild.builder.model.diagram import plot_model
    from cnnbuild.spec import load_spec

    click.echo(f"wrote {plot_model(load_spec(spec_path, overrides, num_classes=num_classes), out, num_classes=num_classes)}")


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the migrated spec to this new file (never over an existing one).")
@click.option("--in-place", is_flag=True, help="Rewrite SPEC itself.")
@errors_to_exit
def migrate(spec_path: Path, out: Path | None, in_place: bool) -> None:
    """Rewrite a spec in the current spec format, keeping its comments and layout.

    Prints the result on standard output unless --out or --in-place says where to write it; what
    changed, and a spec already in the current format, is said on standard error."""
    from cnnbuild.contracts.atomic import write_atomically
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.spec.format_history import CURRENT
    from cnnbuild.spec.migrate import migrate_file

    if out is not None and in_place:
        raise click.UsageError("give --out FILE or --in-place, not both")
    if out is not None and out.exists():
        raise CnnbuildError(f"{out}: already exists; migrate writes only a new file (choose another --out, or --in-place to rewrite {spec_path})")
    migration = migrate_file(spec_path)
    for change in migration.changes:
        click.echo(change, err=True)
    if migration.current:
        click.echo(f"{spec_path}: already in the current spec format ({CURRENT}); nothing to change", err=True)
    def write(target: Path) -> None:
        try:
            write_atomically(target, lambda path: path.write_text(migration.text, encoding="utf-8"))
        except OSError as exc:  # a folder that cannot be written, --out under a file: the user's to fix, not a bug
            where = "choose another --out" if target == out else f"make {target.parent} writable, or write a new file with --out"
            cause = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target) else "")
            raise CnnbuildError(f"{target}: cannot write the migrated spec: {cause}; {where}") from exc

    if in_place:
        if not migration.current:
            write(spec_path)
            click.echo(f"rewrote {spec_path}", err=True)
    elif out is not None:
        write(out)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(migration.text, nl=False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json: bool) -> None:
    """List plugins with their distribution, version and what they register."""
    from cnnbuild.plugins.manager import get_registry

    click.get_current_context().find_root().command.add_plugin_commands()  # so their commands are listed too
    registry = get_registry()
    from cnnbuild.contracts.plugin_api import PLUGIN_API_VERSION

    rows = [
        {"name": info.name, "distribution": info.distribution, "version": info.version, "builtin": info.builtin, "plugin_api": info.api, "registers": registry.registered_by(info)}
        for info in registry.plugins
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"plugin_api": PLUGIN_API_VERSION, "plugins": rows, "failures": registry.failures}, indent=2))
        return
    click.echo(f"cnnbuild plugin API {PLUGIN_API_VERSION}")
    for row in rows:
        wants = f", plugin API {row['plugin_api']}" if row["plugin_api"] else ""
        click.echo(f"{row['name']}  ({row['distribution']} {row['version']}{', builtin' if row['builtin'] else ''}{wants})")
        for kind, names in row["registers"].items():
            click.echo(f"  {kind}s: {', '.join(names)}")  # failures: printed as warnings when the plugins loaded



@click.command("new-plugin")
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder to write the package folder cnnbuild-NAME into.")
@errors_to_exit
def new_plugin(name: str, out: Path) -> None:
    """Write a plugin package (a layer, a data source, a callback, tests) that installs and passes its tests."""
    from cnnbuild.scaffold import new_plugin as write_plugin

    root = write_plugin(name, out)
    click.echo(f"wrote {root}\nnext: pip install -e '{root}[test]' && pytest {root}")


@click.command("init")
@click.argument("data", metavar="[DATA_FOLDER]", type=click.Path(path_type=Path), required=False)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The spec file to write; never overwritten.  [default: DATA_FOLDER's name with .yaml (with --task: TASK.yaml), in the current folder]",
)
@click.option(
    "--task",
    type=click.Choice(list(TASKS)),
    default=DEFAULT_TASK,
    show_default=True,
    help="single_label: one class per image, from DATA_FOLDER. multi_label, regression, segmentation: a starter that trains at once on "
    "cnnbuild's synthetic data (no DATA_FOLDER), its comments saying how to read your own.",
)
@click.option(
    "--model",
    type=click.Choice(["small", "resnet_small", "tutorial", "transfer"]),
    default="small",
    show_default=True,
    help="small: a small CNN from scratch; resnet_small: a small residual network; tutorial: the TensorFlow tutorial's CNN; "
    "transfer: MobileNetV3Small pretrained on ImageNet, then fine-tuned. Single-label starters only.",
)
@click.option("--filename-column", default="filename", show_default=True, help="For a CSV file: the column of image file names.")
@click.option("--label-column", default="label", show_default=True, help="For a CSV file: the column of class names.")
@errors_to_exit
def init(data: Path | None, out: Path | None, task: str, model: str, filename_column: str, label_column: str) -> None:
    """Write a commented starter spec for a folder of class sub-folders (or a CSV file of image names and labels),
    or, with --task multi_label, regression or segmentation, one that trains on synthetic data.

    The classes, image size, colour mode, class weights, validation split and augmentation come
    from a quick look at the files (a listing and the images' headers); each choice is explained
    in a comment. No TensorFlow is loaded."""
    import shlex

    from cnnbuild.errors import CnnbuildError

    if task != "single_label":
        if data is not None:
            raise CnnbuildError(
                f"cnnbuild init --task {task} writes a starter on synthetic data and does not read {data}: run it without DATA_FOLDER, "
                "then point the spec's data: section at your data as its comments say"
            )
        if click.get_current_context().get_parameter_source("model") is not click.core.ParameterSource.DEFAULT:
            raise CnnbuildError(f"--model chooses among single-label models; the {task} starter has its own model: leave --model out")
        from cnnbuild.starter.task_starters import write_task_starter

        written = write_task_starter(task, out)
        for line in written.summary():
            click.echo(line)
        click.echo(f"wrote {written.path}\nnext: cnnbuild run {shlex.quote(str(written.path))}")
        return
    if data is None:
        raise CnnbuildError("cnnbuild init needs DATA_FOLDER (a folder of class sub-folders, or a CSV file), or --task multi_label, regression or segmentation for a starter on synthetic data")
    from cnnbuild.starter import write_starter

    starter = write_starter(data, out, model, filename_column=filename_column, label_column=label_column)
    for line in starter.summary():
        click.echo(line, err=line.startswith("warning: "))
    click.echo(f"wrote {starter.path}\nnext: cnnbuild run {shlex.quote(str(starter.path))}")


COMMANDS = (validate, summary, diff, schema, plot_model_command, migrate, plugins, new_plugin, init)
