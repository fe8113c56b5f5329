"""Images per second with 1 and 2 local processes (distribute.mode machines) against one TensorFlow process.

    python benchmarks/distributed_scaling.py              # 2 rounds, about 10 minutes on 2 cores
    python benchmarks/distributed_scaling.py --rounds 1

Needs the distributed extra (pip install -e .[distributed]) and, for the pinned rows, taskset.
Prints the table docs/distributed.md shows: the median images/s of epochs 3 and later
(the first two include XLA compilation), from each run's metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SPEC = Path(__file__).resolve().parent / "specs" / "distributed.yaml"
ROWS = [
    # label, processes (None: TensorFlow, mode single), pin each process to its own core
    ("1 process, both cores, TensorFlow mode single", None, False),
    ("1 process, both cores, JAX machines", 1, False),
    ("1 process pinned to 1 core, JAX machines", 1, True),
    ("2 processes, 1 core each, JAX machines", 2, True),
    ("2 processes, cores shared, JAX machines", 2, False),
]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def _run(out: Path, processes: int | None, pin: bool) -> float:
    base = [sys.executable, "-m", "cnnbuild", "run", str(SPEC), "--output", str(out)]
    if processes is None:
        subprocess.run(base, check=True, capture_output=True)
    else:
        env = {**os.environ, "CNNBUILD_WORKER_DIR": str(out.parent / f"{out.name}-workers")}
        cluster = ["--set", "distribute.mode=machines", "--num-processes", str(processes), "--coordinator", f"localhost:{_port()}"]
        started = [
            subprocess.Popen(
                [*(["taskset", "-c", str(index)] if pin else []), *base, *cluster, "--process-id", str(index)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for index in range(processes)
        ]
        for process in started:
            _, err = process.communicate(timeout=1200)
            if process.returncode:
                raise SystemExit(f"{out}: a process failed:\n{err.decode()[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return metrics["train_examples"] / statistics.median(metrics["epoch_train_seconds"][2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cnnbuild-distributed-bench-"))
    try:
        results = {label: [] for label, _, _ in ROWS}
        for round_index in range(args.rounds):
            print(f"round {round_index + 1}, load average {os.getloadavg()[0]:.1f}", flush=True)
            for row, (label, processes, pin) in enumerate(ROWS):
                results[label].append(_run(work / f"r{round_index}-{row}", processes, pin))
                print(f"  {label:50s} {results[label][-1]:7.0f} images/s", flush=True)
        print("\n| run | " + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " |")
        for label, values in results.items():
            print(f"| {label} | " + " | ".join(f"{value:,.0f}" for value in values) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
