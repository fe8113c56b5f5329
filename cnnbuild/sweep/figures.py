"""The sweep's figures, drawn by Optuna's matplotlib visualisations (headless, Agg).

Each figure that cannot be drawn yet (parameter importance needs two complete trials that
differ) is left out with a note instead of failing the sweep.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from cnnbuild.contracts import sweep_layout as layout


def draw_figures(study: Any, folder: Path, metric: str) -> tuple[list[Path], list[str]]:
    """Write the figures of ``study`` into ``folder/figures``; returns the files written and notes on those skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as plots

    complete = [trial for trial in study.get_trials(deepcopy=False) if trial.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        return [], ["no figures: no trial is complete yet"]
    makers = {
        "history": lambda: plots.plot_optimization_history(study, target_name=metric),
        "importance": lambda: plots.plot_param_importances(study, target_name=metric),
        "parallel": lambda: plots.plot_parallel_coordinate(study, target_name=metric),
        "slice": lambda: plots.plot_slice(study, target_name=metric),
    }
    (folder / layout.FIGURES).mkdir(exist_ok=True)
    written, notes = [], []
    for name, make in makers.items():
        if name == "importance" and len(complete) < 2:
            notes.append("no parameter importance: it needs two complete trials")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-API and axis-limit warnings on small studies
            try:
                axes = make()
            except Exception as exc:  # a figure is a summary; the leaderboard holds the results
                notes.append(f"no {name} figure: {type(exc).__name__}: {exc}")
                continue
            if name == "parallel":
                _whole_names(axes, [metric, *{key for trial in complete for key in trial.params}])
            if name == "slice":
                _roomy_panels(axes)
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            target = folder / layout.FIGURE_FILES[name]
            figure.savefig(target, dpi=100, bbox_inches="tight")
            plt.close(figure)
        written.append(target)
    return written, notes


def _whole_names(axes: Any, names: list[str]) -> None:
    """Optuna cuts each axis name of the parallel-coordinates plot to 17 characters
    (``compile.optimizer...``); put the whole names back, broken after dots onto short lines."""
    whole = {}
    for name in names:
        cut = name if len(name) < 20 else f"{name[:17]}..."
        whole[cut] = None if cut in whole else name  # two names cut alike: leave that label as Optuna drew it
    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    axes.set_xticks(axes.get_xticks(), [_lines(whole.get(label) or label) for label in labels], rotation=0, ha="center", fontsize=9)


def _roomy_panels(axes: Any) -> None:
    """Room for each panel of the slice plot: its parameter's name on short lines, no overlapping minor log ticks."""
    from matplotlib.ticker import NullFormatter

    panels = list(axes.flat) if hasattr(axes, "flat") else [axes]
    panels[0].figure.set_size_inches(max(6.0, 3.4 * len(panels) + 1.2), 4.4)
    for panel in panels:
        panel.set_xlabel(_lines(panel.get_xlabel()), fontsize=9)
        if panel.get_xscale() == "log":
            panel.xaxis.set_minor_formatter(NullFormatter())


def _lines(name: str, width: int = 18) -> str:
    """``name`` broken after its dots into lines of about ``width`` characters."""
    lines = [""]
    for part in re.split(r"(?<=\.)", name):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)
