"""``cnnbuild sweep``: search spec values with Optuna, each trial an ordinary run directory."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cnnbuild.cli.common import errors_to_exit


@click.command("sweep")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trials", type=click.IntRange(min=1), help="Trials in the whole sweep (default: sweep.trials); more than before continues it.")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=1, show_default=True, help="Worker processes on this machine, sharing one study.")
@click.option("--storage", metavar="URL", help="Optuna storage shared by workers on many machines (postgresql://..., any SQLAlchemy URL); default: a journal file in the sweep folder.")
@click.option("--study", metavar="NAME", help="The study's name in the storage (default: the spec's name).")
@click.option("--join-study", is_flag=True, help="Add trials to a --study that holds another sweep (another search space or base spec) on purpose.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="The sweep folder (default: output.dir/sweeps/<name>); the same folder again continues the sweep.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value of the base spec, for every trial (repeatable).")
@errors_to_exit
def sweep_command(spec_path: Path, trials: int | None, workers: int, storage: str | None, study: str | None, join_study: bool, output: Path | None, overrides: tuple[str, ...]) -> None:
    """Run the sweep of SPEC (a spec with a sweep: section, or a sweep file naming its base spec).

    Each trial trains into SWEEP/trials/NNNN, an ordinary run directory. Ctrl-C loses at most the
    trials in flight; the same command again continues the sweep and retries them.
    """
    from cnnbuild.sweep import run_sweep

    try:
        result = run_sweep(spec_path, overrides, trials=trials, workers=workers, storage=storage, study=study, output=output, join_study=join_study)
    except KeyboardInterrupt:  # a second Ctrl-C while the leaderboard or the figures were written
        click.echo(f"\ninterrupted; run cnnbuild sweep {spec_path} again with the same --output to continue (trials in flight are tried again)", err=True)
        sys.exit(130)
    board = result.leaderboard
    states = ", ".join(f"{count} {state}" for state, count in board["states"].items()) or "no trials"
    click.echo(f"\nsweep {result.folder}: {board['counted']} of {board['trials_budget']} trial(s) counted ({states})")
    if board["trials"]:
        click.echo(result.table)
    for note in result.notes:
        click.echo(f"note: {note}")
    for path in result.files:
        click.echo(f"wrote {path}")
    best = result.best
    if best is not None:
        click.echo(f"best: trial {best['trial']}, {board['metric']} {best['value']:.4f} ({best['run_dir']}); run it again with: cnnbuild run {result.best_spec_path}")
    if result.interrupted:
        click.echo(f"interrupted; the trials in flight are recorded interrupted and tried again when you run: cnnbuild sweep {spec_path} --output {result.folder}", err=True)
        sys.exit(130)
    if best is None:
        click.echo("no trial completed, so there is no result: see each trial's state and error in the table above and in sweep.csv", err=True)
        sys.exit(1)
    if result.stopped_by == "workers":
        click.echo("a worker stopped with an error (printed above); the sweep did not use its whole budget", err=True)
        sys.exit(1)


COMMANDS = (sweep_command,)
