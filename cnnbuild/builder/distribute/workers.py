"""Where each process of a run writes: process 0 the run directory, the others a private folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from cnnbuild.builder.distribute.cluster import DistributeError
from cnnbuild.contracts import run_layout as layout
from cnnbuild.runs.directory import RunDirectory

WORKER_DIR_ENV = "CNNBUILD_WORKER_DIR"


class WorkerFolders:
    """The folders of process ``process_id``."""

    def __init__(self, process_id: int) -> None:
        self.process_id = process_id
        self._scratch: Path | None = None

    def worker_directory(self) -> RunDirectory:
        """A non-chief process's private folder: ``$CNNBUILD_WORKER_DIR/process-I`` (``process-I-2``, ...
        when that one is taken; kept), or a temporary folder removed when the process exits."""
        if self._scratch is None:
            given = os.environ.get(WORKER_DIR_ENV)
            if given:
                base = Path(given).expanduser() / f"process-{self.process_id}"
                self._scratch = next(
                    p for n in range(1, 10_000) if not (p := base.with_name(base.name + (f"-{n}" if n > 1 else ""))).exists() or not any(p.iterdir())
                )
                try:
                    self._scratch.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DistributeError(
                        f"{self._scratch}: cannot create the folder for process {self.process_id} ({WORKER_DIR_ENV}): {exc.strerror or exc}"
                    ) from exc
            else:
                self._scratch = Path(tempfile.mkdtemp(prefix=f"cnnbuild-process-{self.process_id}-"))
                atexit.register(shutil.rmtree, self._scratch, True)
        return RunDirectory(self._scratch)

    def resume_directory(self, run: RunDirectory) -> RunDirectory:
        """The chief resumes in ``run``; the others copy what resuming reads into their own folder."""
        if self.process_id == 0:
            return run
        scratch = self.worker_directory()
        needed = [layout.RUN_INFO, layout.SPEC]
        state = run.record.resume_state
        if state.checkpoint is not None:
            needed += [layout.CHECKPOINT_STATE, state.checkpoint]
        needed += [name for name in (layout.STATUS, layout.METRICS) if run.file(name).exists()]  # a finished run stays finished everywhere
        for name in needed:
            if not run.file(name).exists():
                raise DistributeError(
                    f"{run.file(name)}: missing on process {self.process_id}; resuming several machines needs the run directory on storage they all read"
                )
            target = scratch.file(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.file(name), target)
        return scratch
