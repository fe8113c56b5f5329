"""``cnnbuild compare``: finished runs side by side, as a table and as overlaid validation curves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.errors import RunError
from cnnbuild.runs.record import RunRecord

#: The task measures compare shows, in this order (those of multi-label runs, then of regression runs).
TASK_HEADLINE = ("micro_f1", "macro_f1", "mean_average_precision", "mae", "rmse", "r2")


@dataclass
class RunFacts:
    """What a finished run directory says about itself."""

    label: str
    path: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    params: int | None
    spec: dict[str, Any] = field(default_factory=dict)  # spec.yaml's values by dotted path
    differs: dict[str, Any] = field(default_factory=dict)  # those in which this run differs from the others compared

    @property
    def difference_text(self) -> str:
        """``train.epochs=5, name=wide``: what tells this run apart (four values at most)."""
        shown = [f"{key}={value if isinstance(value, str) else json.dumps(value, default=str)}" for key, value in list(self.differs.items())[:4]]
        return ", ".join(shown) + (f" (+{len(self.differs) - 4} more)" if len(self.differs) > 4 else "")

    def validation_metrics(self) -> list[str]:
        return [key for key in self.history if key.startswith("val_")]

    def task_headline(self) -> dict[str, Any]:
        """A multi-label or regression run's measures of its validation split at the end (thresholds
        chosen per label, errors in original units): the task's columns of the table."""
        measures = (self.metrics.get("task_metrics") or {}).get("validation") or {}
        return {key: measures[key] for key in TASK_HEADLINE if key in measures}


@dataclass
class Comparison:
    runs: list[RunFacts]
    table: str
    figure: Path | None = None
    titles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        rows = []
        for run in self.runs:
            metrics = run.metrics
            rows.append({
                "label": run.label, "path": str(run.path), "differs": run.differs, "final": metrics.get("final", {}), "best": metrics.get("best", {}),
                "task": metrics.get("task", "single_label"), "task_measures": run.task_headline(),
                "params": run.params, "epochs_run": metrics.get("epochs_run"), "epochs": metrics.get("epochs"),
                "wall_seconds": metrics.get("wall_seconds"), "train_images_per_second": metrics.get("train_images_per_second"),
            })  # fmt: skip
        return {"runs": rows, "figure": str(self.figure) if self.figure else None}


def read_run(path: str | Path) -> RunFacts:
    """Metrics, history and parameter count of a finished run directory."""
    import yaml

    from cnnbuild.spec.diff_settings import flatten

    record = RunRecord.open(path)
    metrics = record.finished_metrics("compare")
    try:
        spec = flatten(yaml.safe_load(record.spec_text) or {})
    except (RunError, yaml.YAMLError):
        spec = {}  # a run without a readable spec.yaml is still compared by its metrics
    return RunFacts(label=str(record.path), path=record.path, metrics=metrics, history=record.history, params=record.total_params, spec=spec)


def mark_differences(runs: list[RunFacts]) -> None:
    """Set each run's ``differs``: the spec values (``--set`` overrides, the spec's name, any edit) not the same in every run."""
    keys = list(dict.fromkeys(key for run in runs for key in run.spec))
    varying = [key for key in keys if len({json.dumps(run.spec.get(key), sort_keys=True, default=str) for run in runs}) > 1]
    for run in runs:
        run.differs = {key: run.spec.get(key) for key in varying}


def short_labels(paths: list[Path]) -> list[str]:
    """The shortest path endings (at least ``name/timestamp``) that tell the runs apart."""
    parts = [Path(p).resolve().parts for p in paths]
    depth = 2
    while depth < max(len(p) for p in parts):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
        depth += 1
    return [str(Path(p).resolve()) for p in paths]


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def comparison_table(runs: list[RunFacts]) -> str:
    """Aligned text: final and best of every validation metric, parameters, epochs, time, speed."""
    metrics: list[str] = []
    for run in runs:
        metrics += [key for key in run.validation_metrics() if key not in metrics]
    header = ["run", "differs"]
    for key in metrics:
        header += [f"{key} final", f"{key} best (epoch)"]
    headline = [key for key in TASK_HEADLINE if any(key in run.task_headline() for run in runs)]
    header += [f"{key} (task)" for key in headline]
    header += ["params", "epochs", "wall s", "images/s"]
    rows = [header]
    for run in runs:
        m = run.metrics
        row = [run.label, run.difference_text or "-"]
        for key in metrics:
            best = m.get("best", {}).get(key)
            row += [_number(m.get("final", {}).get(key)), f"{best['value']:.4f} ({best['epoch']})" if best else "-"]
        row += [_number(run.task_headline().get(key)) for key in headline]
        speed = m.get("train_images_per_second")
        row += [_number(run.params), f"{m.get('epochs_run', '-')}/{m.get('epochs', '-')}", _number(m.get("wall_seconds"), 1), _number(speed, 0) if speed else "-"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines)


def compare_runs(paths: list[str | Path], out: str | Path | None = "compare.png") -> Comparison:
    """Read the runs, build the table and (unless ``out`` is None) draw their validation curves to ``out``."""
    from cnnbuild.builder.reports import figures

    if not paths:
        raise RunError("give at least one run directory")
    runs = [read_run(path) for path in paths]
    for run, label in zip(runs, short_labels([run.path for run in runs]), strict=True):
        run.label = label
    mark_differences(runs)
    comparison = Comparison(runs, comparison_table(runs))
    if out is not None:
        target = Path(out)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            legend = {f"{run.label} ({run.difference_text})" if run.differs else run.label: run.history for run in runs}
            comparison.titles = figures.draw_compare(legend, target, title=f"Validation curves of {len(runs)} run(s)")
        except OSError as exc:
            raise RunError(f"cannot write {target}: {exc.strerror or exc}") from exc
        comparison.figure = target
    return comparison
