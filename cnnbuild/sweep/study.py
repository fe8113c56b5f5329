"""Optuna's side of a sweep: the storage, the study, and each worker's sampler and pruner.

Optuna stores neither the sampler nor the pruner, so every worker builds both again from the
sweep section. Workers share one journal file by default (no server; it works over NFS), or any
database URL Optuna accepts for workers on several machines.
"""

from __future__ import annotations

import re
import socket
import warnings
import zlib
from pathlib import Path
from typing import Any

from cnnbuild.contracts import sweep_layout as layout
from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.sweep_checks import INSTALL_HINT
from cnnbuild.spec.sweep_section import Sweep
from cnnbuild.sweep import space as search_space

#: Seconds a SQLite database waits for another worker's write before failing (its default, 5, is short under load).
SQLITE_BUSY_SECONDS = 60


def import_optuna() -> Any:
    """``optuna``, quiet (cnnbuild records and reports every trial itself), or a CnnbuildError with the pip command."""
    try:
        import optuna
    except ImportError as exc:
        raise CnnbuildError(f"cnnbuild sweep needs Optuna ({exc}): {INSTALL_HINT}") from exc
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials are logged with tracebacks at WARNING
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    return optuna


def storage_label(url: str | None) -> str:
    """The storage as it may be written down: a URL's password hidden."""
    return f"journal file {layout.JOURNAL}" if url is None else re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(folder: Path, url: str | None) -> Any:
    """The journal file in ``folder`` when ``url`` is None, else the database at ``url``."""
    optuna = import_optuna()
    if url is None:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = str(folder / layout.JOURNAL)
        # the open lock (O_CREAT|O_EXCL) also works on NFSv3+; a lock left by a killed writer is broken after 30 s
        return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    engine = {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}} if url.startswith("sqlite") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except ImportError as exc:
        driver = "pip install 'psycopg[binary]'" if url.startswith("postgresql") else "install the database driver SQLAlchemy names"
        raise CnnbuildError(f"--storage {storage_label(url)}: {exc}; {driver}") from exc
    except Exception as exc:  # a wrong URL, an unreachable server, bad credentials
        raise CnnbuildError(f"--storage {storage_label(url)}: cannot open the study storage: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc


def sampler_seed(sweep: Sweep, base_seed: int | None, worker: int, existing_trials: int, many_machines: bool) -> int | None:
    """The seed of one worker's sampler.

    Workers sharing a seed sample the same values (measured: 16 of 24 random trials repeated),
    and a restarted worker with its old seed replays its old values, so the seed moves with the
    worker's index and with the trials already in the study; with several machines, with the host
    too. The grid sampler is the exception: its seed orders the grid, which every worker must share.
    """
    if base_seed is None or sweep.sampler == "grid":
        return base_seed
    host = zlib.crc32(socket.gethostname().encode()) if many_machines else 0
    return (base_seed + 1000 * worker + existing_trials + host) % 2**32  # numpy's seeds are 32-bit


def make_sampler(sweep: Sweep, seed: int | None) -> Any:
    optuna = import_optuna()
    if sweep.sampler == "grid":
        return optuna.samplers.GridSampler(search_space.grid(sweep.space), seed=seed)
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(sweep: Sweep) -> Any:
    optuna = import_optuna()
    pruner = sweep.pruner
    if pruner.type == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=pruner.n_startup_trials, n_warmup_steps=pruner.n_warmup_steps, interval_steps=pruner.interval_steps)
    if pruner.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=pruner.min_resource, reduction_factor=pruner.reduction_factor, min_early_stopping_rate=pruner.min_early_stopping_rate)
    return optuna.pruners.NopPruner()


def create_study(storage: Any, name: str, direction: str) -> Any:
    """Create the study, or open it; a study made for the other direction is refused."""
    optuna = import_optuna()
    study = optuna.create_study(study_name=name, storage=storage, direction=direction, load_if_exists=True)
    found = study.direction.name.lower()
    if found != direction:
        raise CnnbuildError(f"study {name!r} in this storage was made to {found}, not to {direction}; name another study with --study")
    return study


def load_study(storage: Any, name: str, sampler: Any = None, pruner: Any = None) -> Any:
    optuna = import_optuna()
    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError as exc:
        raise CnnbuildError(f"no study named {name!r} in this storage; start the sweep with cnnbuild sweep first") from exc
