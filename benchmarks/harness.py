"""Run commands as separate processes, alternating between variants, and measure each run.

Every run is its own process (nothing is shared between variants: no warm TensorFlow, no cached
files in a parent), its wall time is taken around the process, its CPU time comes from ``wait4``
for that process alone, and its peak resident memory from /proc/PID/status (VmHWM), read while
it runs. ``ru_maxrss`` is not used where /proc exists: Linux carries the parent's peak into a
child's at exec, so a small command started from a large process would report the parent's size.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"


@dataclass
class Measured:
    """One process: how long it ran, its peak memory, its exit status and the tail of its output."""

    argv: list[str]
    started_at: float
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # user + system time of the process: less sensitive than wall time to other load
    returncode: int
    output_tail: str
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_measured(argv: Sequence[str], *, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 900) -> Measured:
    """Run ``argv`` to completion: wall time, CPU time, peak resident memory and exit status."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    with tempfile.TemporaryFile(mode="w+b") as output:
        started_at = time.time()
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, env=full_env, stdout=output, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        watcher = _PeakMemory(process.pid)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            watcher.stop()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        output.seek(0)
        tail = output.read()[-4000:].decode("utf-8", "replace")
    peak_kb = watcher.peak_kb or usage.ru_maxrss
    return Measured(list(argv), started_at, wall, peak_kb / 1024, usage.ru_utime + usage.ru_stime, process.returncode, tail)


class _PeakMemory:
    """Reads a process's VmHWM (its own peak resident set) every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.path = f"/proc/{pid}/status"
        self.peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            try:
                with open(self.path, encoding="ascii", errors="replace") as handle:
                    for line in handle:
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            if self._done.wait(0.02):
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


@dataclass
class Variant:
    """One side of a comparison: how to build its command for a round, and how to read its result."""

    name: str
    command: Callable[[int, Path], list[str]]  # (round, scratch folder) -> argv
    read: Callable[[Measured, Path], dict[str, Any]]  # (process, scratch folder) -> result fields
    env: dict[str, str] = field(default_factory=dict)


def alternate(variants: Sequence[Variant], rounds: int, scratch: Path, *, log: Callable[[str], None] = print, timeout: float = 900) -> dict[str, list[Measured]]:
    """Run every variant once per round, in order (A B C, A B C, ...), so that whatever else the
    machine is doing at the time falls on all of them alike."""
    runs: dict[str, list[Measured]] = {v.name: [] for v in variants}
    for round_index in range(rounds):
        for variant in variants:
            folder = scratch / f"{variant.name}-{round_index}"
            folder.mkdir(parents=True, exist_ok=True)
            argv = variant.command(round_index, folder)
            measured = run_measured(argv, env=variant.env, timeout=timeout)
            if measured.ok:
                try:
                    measured.result = variant.read(measured, folder)
                except (OSError, ValueError, KeyError) as exc:
                    measured.returncode = -1
                    measured.output_tail += f"\n[benchmark] cannot read the result: {exc}"
            log(f"  round {round_index + 1}/{rounds}  {variant.name:<28} {measured.wall_seconds:6.1f}s  " + (summarize(measured.result) if measured.ok else f"FAILED (exit {measured.returncode})"))
            if not measured.ok:
                log(indent(measured.output_tail[-1500:]))
            runs[variant.name].append(measured)
    return runs


def summarize(result: dict[str, Any]) -> str:
    parts = []
    if result.get("train_images_per_second"):
        parts.append(f"{result['train_images_per_second']:.1f} img/s")
    if result.get("val_accuracy") is not None:
        parts.append(f"val_acc {result['val_accuracy']:.3f}")
    return "  ".join(parts)


def indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def stdev(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.stdev(present) if len(present) > 1 else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def python_script(name: str, *args: str) -> list[str]:
    """``python benchmarks/NAME ARGS`` with this interpreter."""
    return [sys.executable, str(BENCH_DIR / name), *args]


def cnnbuild_command(*args: str) -> list[str]:
    """The ``cnnbuild`` console script of this interpreter's environment, as a user would type it."""
    script = Path(sys.executable).with_name("cnnbuild")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "cnnbuild", *args]


def model_flops(spec: str | Path, num_classes: int, *sets: str) -> dict[str, int]:
    """Forward and training FLOPs per image of a spec's model, from ``cnnbuild summary --json``
    (its estimate: 2 x parameters x output positions per layer), training taken as 3x forward.
    In a subprocess, so the harness itself never imports TensorFlow."""
    options = [item for value in sets for item in ("--set", value)]
    done = subprocess.run([*cnnbuild_command("summary", str(spec), "--json", "--num-classes", str(num_classes), *options)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cnnbuild summary {spec} failed: {done.stderr[-1500:]}")
    forward = json.loads(done.stdout)["forward_flops"]
    return {"forward_flops": forward, "training_flops": 3 * forward}


def read_cnnbuild_run(measured: Measured, folder: Path) -> dict[str, Any]:
    """Result fields of a ``cnnbuild run --output FOLDER/run`` from its metrics.json."""
    metrics = json.loads((folder / "run" / "metrics.json").read_text(encoding="utf-8"))
    environment = json.loads((folder / "run" / "environment.json").read_text(encoding="utf-8"))
    first_batch_at = metrics.get("first_batch_at")  # the end of the first call: steps_per_execution batches
    return {
        "train_images_per_second": metrics.get("train_images_per_second"),
        "train_images": metrics.get("train_examples"),
        "epoch_train_seconds": metrics.get("epoch_train_seconds"),
        "epoch_train_cpu_seconds": metrics.get("epoch_train_cpu_seconds"),
        "seconds_to_first_batch": first_batch_at - measured.started_at if first_batch_at else None,
        "val_accuracy": metrics.get("final", {}).get("val_accuracy"),
        "precision": metrics.get("precision"),
        "epochs_run": metrics.get("epochs_run"),
        "steps_per_execution": environment.get("execution", {}).get("steps_per_execution"),
    }


def read_script_result(measured: Measured, folder: Path) -> dict[str, Any]:
    """Result fields of a hand-written script run with ``--result FOLDER/result.json``."""
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    first_batch_at = result.get("first_batch_at")
    return {
        "train_images_per_second": result.get("train_images_per_second"),
        "train_images": result.get("train_images"),
        "epoch_train_seconds": result.get("epoch_train_seconds"),
        "epoch_train_cpu_seconds": result.get("epoch_train_cpu_seconds"),
        "seconds_to_first_batch": first_batch_at - measured.started_at if first_batch_at else None,
        "val_accuracy": result.get("final", {}).get("val_accuracy"),
        "precision": result.get("precision"),
    }
