"""``cnnbuild validate``'s whole-process time against ``python -c "import tensorflow"``, measured in one loop.

Other work on a shared machine moves both numbers, so each round runs, one after the other:
TensorFlow's import, then validate from each checkout in turn (``--before`` adds an earlier one,
alternating which goes first). It prints every run's wall and CPU seconds (user + system of the
child), the medians, each checkout's median over TensorFlow's median, and the load average.

    python benchmarks/validate_time.py --rounds 5 --validates 3 --before /path/to/earlier/checkout
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(argv: list[str], checkout: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one process started in ``checkout`` with it first on the path."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "2"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=checkout, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {checkout} failed: {done.stderr[-1500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="TensorFlow imports (one per round)")
    parser.add_argument("--validates", type=int, default=3, help="validates of each checkout per round")
    parser.add_argument("--before", type=Path, help="an earlier checkout, measured in the same loop")
    parser.add_argument("--spec", default="examples/flowers.yaml")
    args = parser.parse_args()

    checkouts = {"this checkout": REPO} | ({"before": args.before.resolve()} if args.before else {})
    validate = [sys.executable, "-m", "cnnbuild", "validate", args.spec]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in [*checkouts, "import tensorflow"]}
    loads = [os.getloadavg()[0]]
    for round_ in range(args.rounds):
        times["import tensorflow"].append(timed([sys.executable, "-c", "import tensorflow"], REPO))
        order = list(checkouts.items())
        for repeat in range(args.validates):
            for name, checkout in order if (round_ + repeat) % 2 == 0 else order[::-1]:
                times[name].append(timed(validate, checkout))
        loads.append(os.getloadavg()[0])
        print(f"round {round_ + 1}: " + "; ".join(f"{name} {times[name][-1][0]:.2f} s" for name in times), file=sys.stderr)

    tensorflow = [statistics.median(run[index] for run in times["import tensorflow"]) for index in (0, 1)]
    print(f"load average (1 min) during the loop: {min(loads):.2f} to {max(loads):.2f}")
    for name, runs in times.items():
        wall, cpu = (statistics.median(run[index] for run in runs) for index in (0, 1))
        print(f"{name}: wall {', '.join(f'{run[0]:.2f}' for run in runs)}; cpu {', '.join(f'{run[1]:.2f}' for run in runs)}")
        print(f"  median wall {wall:.3f} s ({wall / tensorflow[0]:.3f}x), median cpu {cpu:.3f} s ({cpu / tensorflow[1]:.3f}x)")


if __name__ == "__main__":
    main()
