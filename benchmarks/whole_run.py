"""The whole run, process start to exit: ``cnnbuild run examples/flowers.yaml`` against the
TensorFlow tutorial's script (tutorial_keras.py) on the same photos and epochs, A B A B.

cnnbuild runs twice per round: in float32 (the comparison with the tutorial, which trains in
float32) and with ``precision: auto`` (bfloat16 where the CPU has it). The ratio is cnnbuild's
wall time over the script's, the median over rounds of neighbouring pairs.

    python benchmarks/whole_run.py --rounds 2 --epochs 6 --out /tmp/whole-run.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, Variant, alternate, median, python_script, read_cnnbuild_run, read_script_result  # noqa: E402
from suites import _cnnbuild_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "flowers")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    base = [f"data.path={args.data.resolve()}", f"train.epochs={args.epochs}"]
    variants = [
        Variant("cnnbuild float32", _cnnbuild_run("examples/flowers.yaml", [*base, "train.precision=float32"], 123), read_cnnbuild_run),
        Variant(
            "tutorial script",
            lambda r, folder: python_script("tutorial_keras.py", "--data", str(args.data), "--epochs", str(args.epochs), "--seed", str(123 + r), "--result", str(folder / "result.json")),
            read_script_result,
        ),
        Variant("cnnbuild auto precision", _cnnbuild_run("examples/flowers.yaml", base, 123), read_cnnbuild_run),
    ]
    load_before = os.getloadavg()
    runs = alternate(variants, args.rounds, Path(tempfile.mkdtemp(prefix="cnnbuild-whole-run-")), log=lambda line: print(line, flush=True))
    rows = {
        name: [{"wall_s": round(m.wall_seconds, 2), "cpu_s": round(m.cpu_seconds, 2), "ok": m.ok, "precision": m.result.get("precision"), "val_accuracy": m.result.get("val_accuracy")} for m in measured]
        for name, measured in runs.items()
    }
    script = [m.wall_seconds for m in runs["tutorial script"]]

    def ratios(name: str) -> list[float]:
        return [round(m.wall_seconds / s, 3) for m, s in zip(runs[name], script, strict=True)]

    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "epochs": args.epochs,
        "rounds": args.rounds,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "runs": rows,
        "wall_ratio_float32_vs_script": {"pairs": ratios("cnnbuild float32"), "median": median(ratios("cnnbuild float32"))},
        "wall_ratio_auto_vs_script": {"pairs": ratios("cnnbuild auto precision"), "median": median(ratios("cnnbuild auto precision"))},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
