"""The leaderboard: one row per trial with its state, written as ``sweep.csv`` and ``sweep.json``,
and ``best.yaml``, the best complete trial's spec.

Only complete trials have a value and a rank. A pruned trial shows the last value it reported
(``reported``), and failed, invalid, killed and interrupted trials their message; none of them
is ever the best.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.spec.document import apply_to_spec
from cnnbuild.spec.errors import SpecError
from cnnbuild.sweep import bookkeeping as book
from cnnbuild.sweep import space as search_space
from cnnbuild.sweep.folder import SweepFolder, write_text


def rows(folder: SweepFolder, trials: list[Any]) -> list[dict[str, Any]]:
    """One row per trial (``optuna.trial.FrozenTrial``), complete trials first, best first."""
    sweep = folder.sweep()
    out = []
    for trial in trials:
        attrs, state = trial.user_attrs, book.state_of(trial)
        out.append({
            "trial": trial.number,
            "state": state,
            "value": trial.value if state == layout.RESULT_STATE else None,
            "reported": trial.value if state == "pruned" else None,
            "metric": sweep.metric,
            # a queued retry has its values fixed in advance, not yet as params
            "params": search_space.decode(sweep.space, trial.params or trial.system_attrs.get("fixed_params", {})),
            "seconds": attrs.get(book.SECONDS),
            "epochs": attrs.get(book.EPOCHS),
            "run_dir": attrs.get(book.RUN_DIR),
            "error": attrs.get(book.ERROR),
            "retry_of": attrs.get(book.RETRY_OF),
            "retried": attrs.get(book.RETRIED),
            "host": attrs.get(book.HOST),
            "worker": attrs.get(book.WORKER),
            "overrides": attrs.get(book.OVERRIDES, []),
        })
    retried_as = {row["retry_of"]: row["trial"] for row in out if row["retry_of"] is not None}
    for row in out:
        row["retried_as"] = retried_as.get(row["trial"])
    sign = -1 if sweep.goal == "maximize" else 1
    out.sort(key=lambda row: (row["state"] != layout.RESULT_STATE, sign * (row["value"] or 0.0), row["trial"]))
    rank = 0
    for row in out:
        if row["state"] == layout.RESULT_STATE:
            rank += 1
        row["rank"] = rank if row["state"] == layout.RESULT_STATE else None
    return out


def summary(folder: SweepFolder, trials: list[Any]) -> dict[str, Any]:
    """What ``sweep.json`` holds: the sweep's settings, counts by state, the best trial and every row."""
    definition, sweep = folder.record.definition, folder.sweep()
    table = rows(folder, trials)
    counts = {state: sum(1 for row in table if row["state"] == state) for state in layout.STATES}
    best = next((row for row in table if row["state"] == layout.RESULT_STATE), None)
    return {
        "study": definition["study"],
        "spec_file": definition.get("spec_file"),
        "metric": sweep.metric,
        "direction": sweep.goal,
        "trials_budget": sweep.trials,
        "counted": book.counted(trials),
        "states": {state: count for state, count in counts.items() if count},
        "best": best,
        "trials": table,
    }


def write_leaderboard(folder: SweepFolder, study: Any) -> dict[str, Any]:
    """Write ``sweep.json``, ``sweep.csv`` and ``best.yaml`` from the study as it is now."""
    data = summary(folder, study.get_trials(deepcopy=False))
    write_text(folder.path / layout.LEADERBOARD_JSON, json.dumps(data, indent=2, default=str) + "\n")
    write_text(folder.path / layout.LEADERBOARD_CSV, _csv(data["trials"], list(folder.sweep().space)))
    if data["best"] is not None:
        write_text(folder.path / layout.BEST_SPEC, _best_spec(folder, data["best"], data["metric"]))
    return data


def _csv(table: list[dict[str, Any]], keys: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "trial", "state", "value", "reported", "metric", *keys, "seconds", "epochs", "run_dir", "error"])
    for row in table:
        params = [json.dumps(row["params"][key]) if isinstance(row["params"].get(key), (list, dict)) else row["params"].get(key, "") for key in keys]
        error = (row["error"] or "").replace("\n", " | ")
        writer.writerow([row["rank"] or "", row["trial"], row["state"], _blank(row["value"]), _blank(row["reported"]), row["metric"], *params, _blank(row["seconds"]), _blank(row["epochs"]), row["run_dir"] or "", error])
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _best_spec(folder: SweepFolder, best: dict[str, Any], metric: str) -> str:
    """The best trial's ``spec.yaml`` (or, when its run is on another machine, the base spec with its overrides)."""
    import yaml

    header = f"# best trial {best['trial']} of sweep {folder.study_name}: {metric} {best['value']:.4f} (best epoch)\n# run it again with: cnnbuild run {folder.record.best_spec_path}\n"
    spec_text = folder.record.trial_spec_text(best["trial"], best["run_dir"])
    if spec_text is not None:
        return header + spec_text
    try:
        spec = apply_to_spec(folder.base_spec(), best["overrides"])
    except SpecError as exc:  # the trial trained, so this only happens if base.yaml was edited by hand
        return header + f"# the spec could not be rebuilt: {exc}\n"
    return header + yaml.safe_dump(spec.canonical(absolute_paths=True), sort_keys=False, allow_unicode=True)


def format_table(data: dict[str, Any], limit: int = 10) -> str:
    """The leaderboard as text: the best ``limit`` complete trials, then every trial that is not a result."""
    table = data["trials"]
    keys = list(table[0]["params"]) if table else []
    complete = [row for row in table if row["state"] == layout.RESULT_STATE]
    shown_rows = complete[:limit] + [row for row in table if row["state"] != layout.RESULT_STATE]
    cells = [["rank", "trial", "state", data["metric"], "epochs", "seconds", *keys, "note"]]
    for row in shown_rows:
        value = row["value"] if row["value"] is not None else row["reported"]
        text = "-" if value is None else f"({value:.4f})" if row["state"] == "pruned" else f"{value:.4f}"
        seconds = f"{row['seconds']:.0f}" if row["seconds"] is not None else "-"
        cells.append([str(row["rank"] or ""), str(row["trial"]), row["state"], text, str(row["epochs"] or "-"), seconds, *(_short(row["params"].get(key)) for key in keys), _note(row)])
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) if column in (2, *range(6, 6 + len(keys))) else cell.rjust(width) for column, (cell, width) in enumerate(zip(line[:-1], widths, strict=True))) + "  " + line[-1] for line in cells]
    if len(complete) > limit:
        lines.insert(limit + 1, f"... and {len(complete) - limit} more complete trials in sweep.csv")
    return "\n".join(line.rstrip() for line in lines)


def _note(row: dict[str, Any]) -> str:
    """Why a trial is not a result, in one line: its error's first line, and where it was tried again."""
    parts = []
    if row["state"] != layout.RESULT_STATE and row["error"]:
        parts.append(row["error"].splitlines()[0][:160])
    if row["retried_as"] is not None:
        parts.append(f"tried again as trial {row['retried_as']}")
    if row["retry_of"] is not None:
        parts.append(f"retry of trial {row['retry_of']}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
