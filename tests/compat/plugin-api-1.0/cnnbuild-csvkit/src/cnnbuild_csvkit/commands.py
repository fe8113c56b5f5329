"""``cnnbuild csv-check CSV``: what a CSV file of images holds, before training on it."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

import click


@click.command("csv-check")
@click.argument("table", metavar="CSV", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def csv_check(table: Path) -> None:
    """Count the images of each label in CSV (columns filename,label) and list missing files."""
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    counts = Counter(row["label"] for row in rows)
    for label, count in sorted(counts.items()):
        click.echo(f"{label}: {count}")
    missing = [row["filename"] for row in rows if not (table.parent / row["filename"]).is_file()]
    for name in missing:
        click.echo(f"missing: {name}", err=True)
    sys.exit(1 if missing else 0)
