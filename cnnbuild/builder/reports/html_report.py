"""``cnnbuild report``: one self-contained HTML page about a run (figures embedded as base64)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from cnnbuild.contracts import run_layout as layout
from cnnbuild.errors import RunError
from cnnbuild.runs.directory import RunDirectory
from cnnbuild.runs.record import RunRecord

FIGURES = (
    ("Training curves", layout.CURVES, "accuracy and loss per epoch, training against validation"),
    ("Confusion matrix", layout.CONFUSION_MATRIX, "validation split; rows are true classes, shading is the share of the row"),
    ("Misclassified validation images", layout.MISCLASSIFIED, "the most confident mistakes first"),
)
#: The figure and table of multi-label and regression runs, in place of the confusion matrix and the per-class table.
TASK_FIGURES = {
    "multi_label": ("Precision-recall per label", layout.PR_CURVES, "validation split; the dot is the threshold chosen for the label (stored in task.json)"),
    "regression": ("Predicted against true", layout.PREDICTED_VS_TRUE, "validation split, original units; on the dashed diagonal predictions are exact, the residuals are predicted minus true"),
}
STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.6em 0; } th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #e2e2e2; text-align: left; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f5f5f5; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; } .note { color: #555; } .missing { color: #8a4b00; }
.wide { max-width: 100%; overflow-x: auto; } .wide th { vertical-align: bottom; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return f"{value:,}" if isinstance(value, int) else _esc(value)


def _table(header: list[str], rows: list[list[Any]], numeric_from: int = 1) -> str:
    head = "".join(f'<th class="number">{_esc(h)}</th>' if i >= numeric_from else f"<th>{_esc(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="number">{_number(c)}</td>' if i >= numeric_from else f"<td>{_esc(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(run: RunRecord, title: str, name: str, note: str) -> str:
    path = run.file(name)
    if not path.exists():
        return f'<h2>{_esc(title)}</h2><p class="missing">{_esc(name)} is not in this run directory (the run did not finish, had no validation split, or was made by an older cnnbuild).</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<h2>{_esc(title)}</h2><p class="note">{_esc(note)}</p><img src="data:image/png;base64,{data}" alt="{_esc(title)}">'


def _results(metrics: dict[str, Any]) -> str:
    rows: list[list[Any]] = []
    final, best = metrics.get("final", {}), metrics.get("best", {})
    for key, value in final.items():
        entry = best.get(key)
        rows.append([key, value, entry["value"] if entry else "", entry["epoch"] if entry else ""])
    parts = [_table(["metric", "final epoch", "best", "best epoch"], rows)] if rows else []
    if metrics.get("validation"):
        parts.append("<p>The saved model on the validation split: " + ", ".join(f"{_esc(k)} <b>{v:.4f}</b>" for k, v in metrics["validation"].items()) + "</p>")
    if metrics.get("test"):
        parts.append("<p>On the test set: " + ", ".join(f"{_esc(k)} <b>{v:.4f}</b>" for k, v in metrics["test"].items()) + "</p>")
    facts = [
        ("epochs", f"{metrics.get('epochs_run', '-')} of {metrics.get('epochs', '-')}" + (" (stopped early)" if metrics.get("stopped_early") else "")),
        ("wall time", f"{metrics['wall_seconds']:.1f} s" if metrics.get("wall_seconds") is not None else "-"),
        ("training images/s", f"{metrics['train_images_per_second']:.0f}" if metrics.get("train_images_per_second") else "-"),
        ("parameters", f"{metrics['total_params']:,}" if metrics.get("total_params") is not None else "-"),
        ("examples", f"{metrics.get('train_examples', '-')} training, {metrics.get('validation_examples', '-')} validation"),
        ("skipped files", metrics.get("skipped_files", 0)),
        ("precision", metrics.get("precision", "-")),
    ]
    parts.append(_table(["", ""], [list(f) for f in facts], numeric_from=99))
    return "".join(parts)


def _per_class(rows: list[dict[str, Any]]) -> str:
    body = [[r["class"], r["precision"], r["recall"], r["f1"], r["support"]] for r in rows]
    if rows:
        body.append(["macro avg", *(sum(r[k] for r in rows) / len(rows) for k in ("precision", "recall", "f1")), sum(r["support"] for r in rows)])
    return _table(["class", "precision", "recall", "F1", "support"], body)


def _environment(environment: dict[str, Any]) -> str:
    rows = [[name, version] for name, version in environment.get("versions", {}).items()]
    rows += [[key, environment[key]] for key in ("platform", "processor", "precision") if key in environment]
    rows += [[f"plugin {p['name']}", f"{p.get('distribution')} {p.get('version')}"] for p in environment.get("plugins", [])]
    data = environment.get("data", {})
    rows += [[f"data {key}", value] for key, value in data.items()]
    return _table(["", ""], rows, numeric_from=99)


def _spec(run: RunRecord, spec_text: str) -> str:
    """The spec as its user wrote it (and the overrides), then, folded, as it ran (spec.yaml)."""
    if not run.exists(layout.SPEC_WRITTEN):  # a run made before the written spec was kept, or from data
        return f"<h2>Spec</h2><pre>{_esc(spec_text)}</pre>"
    written = run.read_text(layout.SPEC_WRITTEN)
    overrides = "".join(f" --set {item}" for item in run.info.get("overrides") or [])
    return (
        f'<h2>Spec</h2><p class="note">as written in {_esc(run.info.get("spec_file") or "the spec file")}'
        + (f", with <code>{_esc(overrides.strip())}</code>" if overrides else "")
        + f"</p><pre>{_esc(written)}</pre><details><summary>as it ran ({layout.SPEC}: every default filled in, paths absolute)</summary><pre>{_esc(spec_text)}</pre></details>"
    )


def _class_sections(run: RunRecord, metrics: dict[str, Any]) -> list[str]:
    return [
        _figure(run, *FIGURES[1]),
        "<h2>Per-class metrics</h2>" + (_per_class(metrics["per_class"]) if metrics.get("per_class") else '<p class="missing">no per-class table (no validation split, or the run did not finish).</p>'),
        _figure(run, *FIGURES[2]),
    ]


def _task_sections(run: RunRecord, metrics: dict[str, Any]) -> list[str]:
    """The task's figure and, per split measured, its table: per label at its threshold, or per target."""
    task = run.spec.task_row.name
    if task == "segmentation":
        from cnnbuild.builder.reports.segmentation_report import segmentation_sections

        return segmentation_sections(run, metrics)
    sections = [_figure(run, *TASK_FIGURES[task])]
    measured = metrics.get("task_metrics") or {}
    if not measured:
        sections.append('<h2>Task measures</h2><p class="missing">none (no validation split, or the run did not finish).</p>')
    for split, measures in measured.items():
        if task == "multi_label":
            rows = [[r["label"], r["threshold"], r["precision"], r["recall"], r["f1"], "-" if r["average_precision"] is None else r["average_precision"], r["support"]] for r in measures["per_label"]]
            summary = [["micro F1", measures["micro_f1"]], ["macro F1", measures["macro_f1"]], ["mean average precision", measures["mean_average_precision"] or "-"], ["exact match", measures["exact_match"]]]
            sections.append(f"<h2>Per-label metrics, {_esc(split)} split</h2>" + _table(["measure", "value"], summary) + _table(["label", "threshold", "precision", "recall", "F1", "average precision", "images with it"], rows))
        else:
            rows = [[r["target"], r["mae"], r["rmse"], "-" if r["r2"] is None else r["r2"], r["mean"], r["examples"]] for r in measures["per_target"]]
            sections.append(f"<h2>Per-target errors, {_esc(split)} split (original units)</h2>" + _table(["target", "MAE", "RMSE", "R²", "mean", "images"], rows))
    return sections


def render_report(run_dir: str | Path) -> str:
    """The HTML page for a run directory."""
    run = RunRecord.open(run_dir)
    spec_text = run.spec_text
    metrics = run.metrics or {}
    status = run.status
    info = run.info
    name = run.name
    summary = run.summary_text
    environment = run.environment
    sections = [
        f"<h1>{_esc(name)}: run report</h1>",
        f'<p class="note">{_esc(run.path.resolve())} &middot; state: {_esc(status.get("state", "unknown"))} &middot; created {_esc(info.get("created", "-"))}'
        + (f" &middot; overrides: {_esc(' '.join(info['overrides']))}" if info.get("overrides") else "")
        + "</p>",
        "<h2>Results</h2>" + (_results(metrics) if metrics else f'<p class="missing">{layout.METRICS} is missing: the run has not finished.</p>'),
        _figure(run, *FIGURES[0]),
        *(_task_sections(run, metrics) if run.spec.task_row.name != "single_label" else _class_sections(run, metrics)),
        "<h2>Model</h2>" + (f"<pre>{_esc(summary)}</pre>" if summary is not None else f'<p class="missing">{layout.SUMMARY} is missing.</p>'),
        _spec(run, spec_text),
        "<h2>Environment</h2>" + (_environment(environment) if environment is not None else f'<p class="missing">{layout.ENVIRONMENT} is missing.</p>'),
    ]
    skipped = run.skipped
    if skipped:
        sections.append("<h2>Skipped files</h2>" + _table(["file", "reason"], [[s["path"], s["reason"]] for s in skipped], numeric_from=99))
    body = "\n".join(sections)
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_esc(name)}: cnnbuild run report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n'


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report to ``out`` (default ``RUN_DIR/report.html``) and return its path; for a
    sweep folder, the sweep's report (leaderboard, best trial, figures)."""
    from cnnbuild.runs.sweep_record import SweepRecord

    if SweepRecord.is_sweep(run_dir):
        from cnnbuild.builder.reports.sweep_report import write_sweep_report

        return write_sweep_report(run_dir, out)
    text = render_report(run_dir)
    if out is None:
        return RunDirectory(Path(run_dir)).write_text(layout.REPORT, text)
    target = Path(out)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target

