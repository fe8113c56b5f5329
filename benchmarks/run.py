"""Run cnnbuild's benchmark suite: a table on screen, JSON in benchmarks/results/.

    python benchmarks/run.py --quick          # a few minutes: 1 round, 3 epochs, 1k and 10k images
    python benchmarks/run.py                  # the full suite BENCHMARKS.md (repository root) reports (13 to 20 minutes on 2 cores)
    python benchmarks/run.py --only flowers,startup --rounds 2

Every measurement is a separate process; the two sides of a comparison run alternately
(A B A B ...), so other load on the machine falls on both. Needs the bench extra
(pip install -e .[bench]) and the flower photos (--data, default ../shared/data/flowers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import suites  # noqa: E402
from harness import REPO  # noqa: E402
from machine import describe_machine  # noqa: E402
from report import SECTIONS, render  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DEFAULT_FLOWERS = REPO.parent / "shared" / "data" / "flowers"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run cnnbuild's benchmark suite.")
    parser.add_argument("--quick", action="store_true", help="one round, 3 epochs, 1k and 10k images: a few minutes")
    parser.add_argument("--only", help=f"comma-separated sections to run: {','.join(SECTIONS)}")
    parser.add_argument("--data", type=Path, default=DEFAULT_FLOWERS, help="the flower photos: a folder of class sub-folders (default: %(default)s)")
    parser.add_argument("--cells", type=Path, help="the NIH malaria cell_images folder (Parasitized/, Uninfected/) for the legacy comparison; default: PNG crops of two flower classes")
    parser.add_argument("--rounds", type=int, help="alternating rounds per comparison (default: 1 quick, 3 full)")
    parser.add_argument("--epochs", type=int, help="epochs of the flowers runs (default: 3 quick, 6 full)")
    parser.add_argument("--out", type=Path, help="result file (default: benchmarks/results/<mode>-<time>.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    only = [name.strip() for name in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [name for name in only if name not in SECTIONS]
    if unknown:
        sys.exit(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    if {"flowers", "legacy"} & set(only) and not (args.data / "daisy").is_dir():
        sys.exit(f"{args.data}: no flower photos there (daisy/, roses/, ...); pass --data FOLDER (the extracted flower_photos.tgz)")
    scratch = Path(tempfile.mkdtemp(prefix="cnnbuild-bench-"))
    settings = suites.Settings(
        flowers=args.data.resolve(),
        cells=args.cells.resolve() if args.cells else None,
        scratch=scratch,
        rounds=args.rounds or (1 if args.quick else 3),
        flowers_epochs=args.epochs or (3 if args.quick else 6),
        legacy_epochs=4 if args.quick else 12,
        startup_rounds=3 if args.quick else 5,
        scale_sizes=(1_000, 10_000) if args.quick else (1_000, 10_000, 100_000),
        builder_args=("--builds", "10", "--steps", "8") if args.quick else ("--builds", "60", "--steps", "24"),
    )
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    out = args.out or RESULTS / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    print(f"cnnbuild benchmarks, {mode} mode: {', '.join(only)}; scratch {scratch}", flush=True)
    machine = describe_machine()
    print(f"machine: {machine['cpu_model']}, {machine['logical_cpus']} CPUs, load {machine['load_average']}, GPUs: {machine.get('gpus') or 'none'}", flush=True)
    results: dict = {"mode": mode, "started": started, "settings": {k: str(v) for k, v in vars(settings).items()}, "machine": machine, "errors": {}}
    clock = time.perf_counter()

    def log(line: str) -> None:
        print(line, flush=True)

    runners = {
        "flowers": lambda: suites.flowers(settings, machine, log),
        "legacy": lambda: suites.legacy(settings, log),
        "startup": lambda: suites.startup(settings, log),
        "scale": lambda: suites.scale(settings, log),
        "builder": lambda: suites.builder(settings, log),
    }
    try:
        for name in only:
            section_clock = time.perf_counter()
            try:
                results[name] = runners[name]()
            except Exception as exc:  # one broken section must not lose the others' numbers
                results["errors"][name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            log(f"{name}: {time.perf_counter() - section_clock:.0f}s")
    finally:
        machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results["total_seconds"] = time.perf_counter() - clock
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n" + render(results))
    print(f"total {results['total_seconds'] / 60:.1f} min; results written to {out}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
