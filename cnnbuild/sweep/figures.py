"""The sweep's figures, drawn by Optuna's matplotlib visualisations (headless, Agg).

Each figure that cannot be drawn yet (parameter importance needs two complete trials that
differ) is left out with a note instead of failing the sweep.
"""

from __future__ import annotations

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
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            target = folder / layout.FIGURE_FILES[name]
            figure.savefig(target, dpi=100, bbox_inches="tight")
            plt.close(figure)
        written.append(target)
    return written, notes
