"""The scan index: how long the check of a folder of images takes on a first run, and on a second
run over the unchanged folder, with the index (verdicts reused) and without it (every image decoded again).

Each scan runs in its own process (as each `cnnbuild run` does), timed from before the folder is
listed to the end of the check; TensorFlow's import is outside the timing.

    python benchmarks/scan_index_probe.py --sizes 10000 100000 --out benchmarks/results/scan-index.json

With ``--before DIR`` (a source tree of an earlier cnnbuild, such as ``git archive main | tar -x
-C DIR``), the second run of that code is timed too, alternating with this code's (A B A B, each
``--repeats`` times) on the same index, and the medians and their ratio are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generated_images import ensure_images

SCAN = """
import sys, time
from cnnbuild.data.native import import_tensorflow
import_tensorflow()
from cnnbuild.data.files import scan
started, cpu = time.perf_counter(), time.process_time()
found = scan(__import__("pathlib").Path(sys.argv[1]))
print(time.perf_counter() - started, len(found.files), time.process_time() - cpu)
"""
REPOSITORY = Path(__file__).resolve().parents[1]


def timed_scan(folder: Path, cache: Path, index: bool, source: Path = REPOSITORY) -> tuple[float, int, float]:
    """The check's wall time, the files kept, and the check's CPU time, of the cnnbuild in ``source``."""
    env = {**os.environ, "CNNBUILD_CACHE_DIR": str(cache), "CNNBUILD_SCAN_INDEX": "1" if index else "0", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-c", SCAN, str(folder)], env=env, capture_output=True, text=True, check=True)
    seconds, files, cpu = done.stdout.split()
    return float(seconds), int(files), float(cpu)


def before_and_after(folder: Path, cache: Path, before: Path, repeats: int) -> dict[str, float]:
    """The second run of the code in ``before`` and of this code, alternating, on one index: medians."""
    times: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for _ in range(repeats):
        for name, source in (("before", before), ("after", REPOSITORY)):
            seconds, _, cpu = timed_scan(folder, cache, index=True, source=source)
            times[name].append((seconds, cpu))
    row = {}
    for name, pairs in times.items():
        row[f"second_run_{name}_s"] = round(statistics.median(seconds for seconds, _ in pairs), 2)
        row[f"second_run_{name}_cpu_s"] = round(statistics.median(cpu for _, cpu in pairs), 2)
        row[f"second_run_{name}_all_s"] = [round(seconds, 2) for seconds, _ in pairs]
    row["after_over_before"] = round(row["second_run_after_s"] / row["second_run_before_s"], 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--before", type=Path, help="a source tree of an earlier cnnbuild whose second run is timed alongside this one's")
    parser.add_argument("--repeats", type=int, default=3, help="second runs of each code with --before (alternating)")
    parser.add_argument("--without-index-up-to", type=int, default=10**9, help="time the second run without the index only for sizes up to this (it decodes every image again)")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        folder = ensure_images(size)
        with tempfile.TemporaryDirectory(prefix="cnnbuild-scan-index-") as cache:
            load_before = os.getloadavg()
            first, files, _ = timed_scan(folder, Path(cache), index=True)
            second, _, _ = timed_scan(folder, Path(cache), index=True)
            third, _, _ = timed_scan(folder, Path(cache), index=True)
            compared = before_and_after(folder, Path(cache), args.before, args.repeats) if args.before else {}
            without = timed_scan(folder, Path(cache), index=False)[0] if size <= args.without_index_up_to else None
        row = {"images": files, "first_run_s": round(first, 2), "second_run_s": round(second, 2), "third_run_s": round(third, 2), **compared}
        row |= {"load_average_at_start": load_before, "load_average": os.getloadavg()}
        if without is not None:
            row |= {"second_run_without_index_s": round(without, 2), "speedup": round(without / second, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", "load_average": os.getloadavg(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
