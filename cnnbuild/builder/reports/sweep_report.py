"""``cnnbuild report SWEEP_DIR``: one self-contained HTML page about a sweep: its settings, the
leaderboard with every trial's state, the best trial and its spec, and the sweep's figures."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cnnbuild.builder.reports.html_report import STYLE, _esc, _table
from cnnbuild.contracts import run_layout
from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.contracts.atomic import write_atomically
from cnnbuild.errors import RunError
from cnnbuild.runs.sweep_record import SweepRecord

FIGURES = (
    ("history", "The metric over trials", "each complete trial's value, and the best so far"),
    ("importance", "Parameter importance", "how much of the metric's variation each parameter explains (Optuna's PED-ANOVA)"),
    ("parallel", "Parallel coordinates", "every complete trial's parameters, coloured by its value"),
    ("slice", "The metric against each parameter", "one panel per parameter"),
)


def _image(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_esc(title)}">'


def _value(row: dict[str, Any]) -> str:
    if row["value"] is not None:
        return f"{row['value']:.4f}"
    return f"({row['reported']:.4f})" if row.get("reported") is not None else "-"


def _param(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _leaderboard(board: dict[str, Any]) -> str:
    keys = list(board["trials"][0]["params"]) if board["trials"] else []
    rows = []
    for row in board["trials"]:
        params = [_param(row["params"].get(key, "")) for key in keys]
        note = (row.get("error") or "").splitlines()[0][:200] if row["state"] != layout.RESULT_STATE and row.get("error") else ""
        if row.get("retried_as") is not None:
            note += f" (tried again as trial {row['retried_as']})"
        rows.append([row["rank"] or "", row["trial"], row["state"], _value(row), row["epochs"] or "-", row["seconds"] if row["seconds"] is not None else "-", *params, row["run_dir"] or "", note])
    breakable = [key.replace(".", ".\u200b") for key in keys]  # a long parameter name may wrap after its dots
    table = _table(["rank", "trial", "state", board["metric"], "epochs", "seconds", *breakable, "run directory", "note"], rows, numeric_from=99)
    return f'<div class="wide">{table}</div><p class="note">Only complete trials are results and have a rank; a pruned trial shows, in parentheses, the last value it reported before it was stopped.</p>'


def render_sweep_report(path: str | Path) -> str:
    """The HTML page for a sweep folder."""
    sweep = SweepRecord.open(path)
    definition, board = sweep.definition, sweep.leaderboard
    name = str(definition.get("study", sweep.path.name))
    settings = definition["sweep"]
    facts = [
        ["spec", definition.get("spec_file", "-")],
        ["overrides (every trial)", " ".join(definition.get("overrides") or []) or "-"],
        ["metric", f"{settings.get('metric')} ({settings.get('direction')}; a trial's value is its best epoch's)"],
        ["sampler", f"{settings.get('sampler')} (seed {definition.get('seed')})"],
        ["pruner", settings.get("pruner", {}).get("type", "none")],
        ["storage", definition.get("storage", "-")],
        ["space", "; ".join(f"{key}: {json.dumps(value)}" for key, value in settings.get("space", {}).items())],
    ]
    sections = [f"<h1>{_esc(name)}: sweep report</h1>", f'<p class="note">{_esc(sweep.path.resolve())} &middot; created {_esc(definition.get("created", "-"))}</p>']
    sections.append("<h2>Settings</h2>" + _table(["", ""], facts, numeric_from=99))
    if board is None:
        sections.append(f'<h2>Leaderboard</h2><p class="missing">{layout.LEADERBOARD_JSON} is missing: no trial has ended yet.</p>')
    else:
        states = ", ".join(f"{count} {state}" for state, count in board["states"].items())
        sections.append(f"<h2>Leaderboard</h2><p>{board['counted']} of {board['trials_budget']} trials counted: {_esc(states)}.</p>" + _leaderboard(board))
        sections.append(_best(sweep, board))
    for key, title, note in FIGURES:
        figure = sweep.figures.get(key)
        body = _image(figure, title) if figure else f'<p class="missing">{_esc(layout.FIGURE_FILES[key])} is not there (too few complete trials, or the sweep has not ended).</p>'
        sections.append(f'<h2>{_esc(title)}</h2><p class="note">{_esc(note)}</p>{body}')
    body = "\n".join(sections)
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_esc(name)}: cnnbuild sweep report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n'


def _best(sweep: SweepRecord, board: dict[str, Any]) -> str:
    best = board.get("best")
    if best is None:
        return '<h2>Best trial</h2><p class="missing">No trial is complete, so there is no result yet.</p>'
    parts = [
        f"<h2>Best trial</h2><p>Trial {best['trial']}: {_esc(board['metric'])} <b>{best['value']:.4f}</b> in "
        f"<code>{_esc(best['run_dir'])}</code> (an ordinary run directory: <code>cnnbuild report {_esc(sweep.path / best['run_dir'])}</code>).</p>"
    ]
    curves = sweep.path / best["run_dir"] / run_layout.CURVES if best.get("run_dir") else None
    if curves is not None and curves.is_file():
        parts.append(_image(curves, "the best trial's training curves"))
    spec_text = sweep.best_spec_text
    if spec_text:
        parts.append(f"<h3>best.yaml</h3><p class=\"note\">run it again with <code>cnnbuild run {_esc(sweep.path / layout.BEST_SPEC)}</code></p><pre>{_esc(spec_text)}</pre>")
    return "".join(parts)


def write_sweep_report(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the sweep's report to ``out`` (default ``SWEEP_DIR/report.html``) and return its path."""
    text = render_sweep_report(path)
    target = Path(out) if out is not None else Path(path) / layout.REPORT
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, lambda partial: partial.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
