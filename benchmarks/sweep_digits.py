"""A 20-trial sweep of the digits quickstart (examples/digits_sweep.yaml: filters, learning rate,
dropout; 8 epochs a trial): one worker, two workers, and one worker with the median pruner.

    python benchmarks/sweep_digits.py                      # the three sweeps, one after another
    python benchmarks/sweep_digits.py --trials 6 --only 1-worker,2-workers

Each sweep is one `cnnbuild sweep` process, timed around the process; its figures come from the
sweep's own sweep.json: the best validation accuracy, the trials counted, the epochs trained by
all trials. Pruning's saving is the share of epochs the pruned sweep did not train, against the
unpruned sweep with the same sampler seed. Writes benchmarks/results/sweep-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BENCH_DIR, REPO, cnnbuild_command, run_measured  # noqa: E402
from machine import describe_machine  # noqa: E402

SPEC = REPO / "examples" / "digits_sweep.yaml"
MEDIAN = "sweep.pruner={type: median, n_startup_trials: 5, n_warmup_steps: 2}"
CONFIGS = {
    "1-worker": (1, []),
    "2-workers": (2, []),
    "1-worker-median-pruner": (1, ["--set", MEDIAN]),
}


def run_config(name: str, workers: int, extra: list[str], trials: int, scratch: Path) -> dict[str, Any]:
    folder = scratch / name
    argv = cnnbuild_command("sweep", str(SPEC), "--trials", str(trials), "--workers", str(workers), "--output", str(folder), *extra)
    measured = run_measured(argv, timeout=4 * 3600)
    if not measured.ok:
        raise SystemExit(f"{name} failed ({measured.returncode}):\n{measured.output_tail}")
    board = json.loads((folder / "sweep.json").read_text())
    epochs = sum(row["epochs"] or 0 for row in board["trials"])
    hours = measured.wall_seconds / 3600
    return {
        "config": name,
        "workers": workers,
        "command": " ".join(["cnnbuild", *argv[1:]]),
        "wall_seconds": round(measured.wall_seconds, 1),
        "cpu_seconds": round(measured.cpu_seconds, 1),
        "best_val_accuracy": board["best"]["value"],
        "best_trial": board["best"]["trial"],
        "best_params": board["best"]["params"],
        "states": board["states"],
        "trials_counted": board["counted"],
        "trials_per_hour": round(board["counted"] / hours, 1),
        "epochs_trained": epochs,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--only", help="comma-separated configs: " + ", ".join(CONFIGS))
    parser.add_argument("--keep", type=Path, help="keep the sweep folders here instead of a temporary folder")
    args = parser.parse_args()
    machine = describe_machine(probe_gpu=False)
    print(f"machine: {machine['cpu_model']}, {machine['logical_cpus']} CPUs, load {machine['load_average']}", flush=True)
    chosen = args.only.split(",") if args.only else list(CONFIGS)
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="cnnbuild-sweep-bench-"))
    rows = []
    for name in chosen:
        workers, extra = CONFIGS[name]
        started = time.strftime("%H:%M:%S")
        row = run_config(name, workers, extra, args.trials, scratch)
        rows.append(row)
        print(f"{started} {name}: {row['wall_seconds']:.0f} s, best val_accuracy {row['best_val_accuracy']:.4f}, {row['trials_per_hour']} trials/h, "
              f"{row['epochs_trained']} epochs, states {row['states']}", flush=True)  # fmt: skip
    unpruned = next((r for r in rows if r["config"] == "1-worker"), None)
    pruned = next((r for r in rows if r["config"] == "1-worker-median-pruner"), None)
    saving = None
    if unpruned and pruned:
        saving = round(1 - pruned["epochs_trained"] / unpruned["epochs_trained"], 3)
        print(f"median pruner: {saving:.1%} of the epochs saved; best {pruned['best_val_accuracy']:.4f} against {unpruned['best_val_accuracy']:.4f} without pruning")
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = BENCH_DIR / "results" / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "trials": args.trials, "rows": rows, "pruning_epoch_saving": saving}, indent=2) + "\n")
    print(f"wrote {out}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
