"""``cnnbuild run``: train a spec, or resume a run, and print what it produced."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from cnnbuild.cli.common import errors_to_exit


@click.command("run")
@click.argument("spec_path", metavar="[SPEC]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a spec value, e.g. --set train.epochs=3 (repeatable).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Write the run to exactly this (new or empty) folder.")
@click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Continue the interrupted run in this folder.")
@click.option("--verbose", type=click.Choice(["auto", "bar", "line", "quiet"]), help="Progress display (default: the spec's train.verbose).")
@click.option("--allow-changed-data", is_flag=True, help="With --resume: carry on although the data's files changed since the run started.")
@click.option("--process-id", type=click.IntRange(min=0), help="distribute.mode machines: this process's index, 0 on the machine that writes the run (or KERAS_DISTRIBUTION_PROCESS_ID, JOB_COMPLETION_INDEX).")
@click.option("--num-processes", type=click.IntRange(min=1), help="distribute.mode machines: how many processes train together (or KERAS_DISTRIBUTION_NUM_PROCESSES).")
@click.option("--coordinator", metavar="HOST:PORT", help="distribute.mode machines: process 0's address, which the others connect to (or KERAS_DISTRIBUTION_JOB_ADDRESSES).")
@errors_to_exit
def run_command(
    spec_path: Path | None,
    overrides: tuple[str, ...],
    output: Path | None,
    resume: Path | None,
    verbose: str | None,
    allow_changed_data: bool,
    process_id: int | None,
    num_processes: int | None,
    coordinator: str | None,
) -> None:
    """Train SPEC and write a run directory, or continue one with --resume RUN_DIR (then no SPEC).

    With ``distribute: {mode: machines}`` start the same command on every machine, each with its own --process-id.
    """
    from cnnbuild.builder.distribute import cluster
    from cnnbuild.builder.training import run
    from cnnbuild.contracts import run_layout

    if (spec_path is None) == (resume is None):
        raise click.UsageError("give either SPEC or --resume RUN_DIR")
    if allow_changed_data and resume is None:
        raise click.UsageError("--allow-changed-data applies to --resume only")
    from cnnbuild.builder.training import supervisor

    if COMMAND_LINE and supervisor.wanted():
        sys.exit(supervisor.supervise(COMMAND_LINE))  # train in a child, so even a killed run says so in status.json
    for name, value in ((cluster.PROCESS_ID_ENV, process_id), (cluster.NUM_PROCESSES_ENV, num_processes), (cluster.COORDINATOR_ENV, coordinator)):
        if value is not None:
            os.environ[name] = str(value)  # where the engine reads them; options win over the spec
    # Keras reads its backend once, at import; plugins (loaded next) may import it.
    cluster.select_backend_for_file(resume / run_layout.SPEC if resume else spec_path, () if resume else overrides)
    from cnnbuild.cli.main import show_progress

    show_progress()  # what the long start-up is doing (loading TensorFlow, checking the images), before epoch 1
    try:
        result = run(spec_path, overrides, output=output, resume=resume, verbose=verbose, terminal=sys.stdout.isatty(), allow_changed_data=allow_changed_data)
    except KeyboardInterrupt:  # Ctrl-C while the data is scanned or the model built: nothing trained yet
        again = f"cnnbuild run --resume {resume}" if resume else "the same command"
        click.echo(f"\ninterrupted before training started; nothing new was trained, run {again} to start again", err=True)
        sys.exit(130)
    if result.process[0] != 0:
        index, count = result.process
        state = "finished" if result.completed else "stopped"
        click.echo(f"process {index} of {count} {state}; process 0 writes the run directory")
        sys.exit(0 if result.completed else 130)
    echo_skipped(result.skipped, result.run_dir / run_layout.SKIPPED)
    if not result.completed:
        done = result.metrics.get("completed_epochs", 0)
        click.echo(f"interrupted after {done} complete epoch(s); resume with: cnnbuild run --resume {result.run_dir}", err=True)
        sys.exit(130)
    click.echo(format_run_summary(result))


#: The arguments ``cnnbuild`` was started with (set by ``main``); empty when called in-process, as tests do.
COMMAND_LINE: list[str] = []
#: Skipped files printed one per line; past this, the rest are counted by reason.
SHOW_SKIPPED = 50


def echo_skipped(skipped: list[dict[str, str]], listed_in: Path) -> None:
    """The files and folders a run did not use, each with its reason (the first ``SHOW_SKIPPED``, then counts by reason)."""
    from collections import Counter

    for item in skipped[:SHOW_SKIPPED]:
        click.echo(f"skipped {item['path']}: {item['reason']}", err=True)
    rest = Counter(item["reason"].split(";")[0].split(":")[0] for item in skipped[SHOW_SKIPPED:])
    for reason, count in rest.most_common():
        click.echo(f"skipped {count} more: {reason}", err=True)
    if skipped:
        click.echo(f"{len(skipped)} file(s) or folder(s) not used; each is listed with its reason in {listed_in}", err=True)


def format_run_summary(result: Any) -> str:
    """The lines printed when a run finishes."""
    metrics = result.metrics
    lines = [f"run complete: {result.run_dir}"]
    final = metrics.get("final", {})
    shown = "  ".join(f"{key} {value:.4f}" for key, value in final.items() if key.startswith("val_"))
    if shown:
        lines.append(f"final  {shown}")
    best = metrics.get("best", {})
    for key in ("val_accuracy", "val_mean_iou", "val_loss"):
        if key in best:
            lines.append(f"best   {key} {best[key]['value']:.4f} at epoch {best[key]['epoch']}")
    if metrics.get("train_images_per_second"):
        lines.append(f"epochs {metrics['epochs_run']}/{metrics['epochs']}  wall {metrics['wall_seconds']:.1f}s  {metrics['train_images_per_second']:.0f} training images/s  precision {metrics.get('precision')}")
    if metrics.get("validation"):
        lines.append("saved model on the validation split: " + "  ".join(f"{key} {value:.4f}" for key, value in metrics["validation"].items()))
    if metrics.get("per_class"):
        from cnnbuild.builder.reports.evaluation import format_class_table

        lines += ["", format_class_table(metrics["per_class"])]
    if metrics.get("per_class_iou"):
        from cnnbuild.builder.reports.segmentation_report import format_iou_table

        lines += ["", format_iou_table(metrics["per_class_iou"])]
    for split, measures in (metrics.get("task_metrics") or {}).items():
        from cnnbuild.builder.reports.task_measures import format_task_table

        lines += ["", f"{split} split:", format_task_table(measures)]
    return "\n".join(lines)



COMMANDS = (run_command,)
