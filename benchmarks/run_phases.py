"""Wall and CPU seconds of a run's phases (start, pipelines, fit, report) in one process, to compare
two versions of cnnbuild side by side (point PYTHONPATH at a worktree of the other version).

    python benchmarks/run_phases.py --epochs 2 --out-dir /tmp/phases-run --label new
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "flowers")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out-dir", type=Path, required=True, help="the run folder to write (new or empty)")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    os.environ["CNNBUILD_SUPERVISE"] = "0"
    started = (time.perf_counter(), time.process_time())

    import cnnbuild.builder.runtime as runtime

    runtime.import_tensorflow()
    runtime.import_keras()
    import cnnbuild.builder.training.trainer as trainer

    times = {"import": (time.perf_counter() - started[0], time.process_time() - started[1])}

    def timed(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*positional: object, **named: object) -> object:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*positional, **named)
            finally:
                times[label] = (time.perf_counter() - wall, time.process_time() - cpu)

        setattr(owner, name, wrapper)

    timed(trainer.Trainer, "start", "start")
    timed(trainer.Trainer, "pipelines", "pipelines")
    timed(trainer.Trainer, "fit", "fit")
    timed(trainer, "write_artifacts", "report")
    from cnnbuild.builder.training import run

    overrides = [f"data.path={args.data.resolve()}", f"train.epochs={args.epochs}", "train.precision=float32"]
    result = run(REPO / "examples" / "flowers.yaml", overrides, output=args.out_dir, verbose="quiet")
    times["total"] = (time.perf_counter() - started[0], time.process_time() - started[1])
    row = {"label": args.label, **{name: {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)} for name, (wall, cpu) in times.items()}}
    print(json.dumps({**row, "val_accuracy": result.metrics["final"].get("val_accuracy")}), flush=True)


if __name__ == "__main__":
    main()
