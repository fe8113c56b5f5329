"""Hyperparameter sweeps on Optuna: every trial an ordinary run directory in one sweep folder.

``run_sweep(spec)`` (the ``cnnbuild sweep`` command) checks the sweep, runs its trials in one or
more worker processes sharing an Optuna study, and writes the leaderboard, ``best.yaml`` and the
figures. Optuna is imported only when a sweep runs (``pip install 'cnnbuild[sweep]'``).
"""

from __future__ import annotations

from cnnbuild.sweep.driver import SweepResult, run_sweep

__all__ = ["SweepResult", "run_sweep"]
