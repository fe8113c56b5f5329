"""validate on a 200-layer spec written with block expressions, conditions and per-repetition
arguments, against the same network written without them (plain ``$name`` parameters, a block
per variant, a use per stride), side by side in one process.

    python benchmarks/block_expressions.py --rounds 31
    python benchmarks/block_expressions.py --only plain     # the plain spec alone (runs on a cnnbuild without expressions)

Both specs are ResNets of 3 stages of 10 basic units (16, 32 and 64 filters: 7 Keras layers a
unit, a conv+BN projection where a stage starts: 214 Keras layers). The benchmark first checks
that the two validate to the same layers with the same shapes and parameter counts. Each round
validates each spec once (``spec_from_text``: parsing, the spec model, expansion of the blocks
with their expressions, shape and parameter inference, the checks), alternating which goes first, with garbage collection
run before each and held off during it (as timeit does);
the figure is the ratio of the medians, of wall-clock time and of the process's CPU time (less
disturbed by other work on the machine). Results go to benchmarks/results/block-expressions-<time>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO  # noqa: E402
from machine import describe_machine  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
#: Basic units in each stage; 3 stages of 10 give 214 Keras layers.
UNITS = 10
WIDTHS = (16, 32, 64)
DATA = "data: {type: digits, image_size: [32, 32], color_mode: rgb}\n"

UNIT = """\
          - {{type: Conv2D, filters: {filters}, kernel_size: 3, strides: {strides}, padding: same, use_bias: false}}
          - BatchNormalization
          - {{type: Activation, activation: relu}}
          - {{type: Conv2D, filters: {filters}, kernel_size: 3, padding: same, use_bias: false}}
          - BatchNormalization
"""


def expressions_spec() -> str:
    """One block for every unit: widths as expressions, the projection under when:, strides per repetition."""
    stages = "".join(
        f"    - {{type: unit, repeat: {UNITS}, width: {width // 16}" + (", strides: {first: 2, rest: 1}}\n" if index else "}\n")
        for index, width in enumerate(WIDTHS)
    )
    when = "when: $strides != 1 or $in.channels != $width * $base"
    return (
        DATA
        + "blocks:\n  unit:\n    params: {width: required, base: 16, strides: 1}\n    layers:\n"
        + "      - type: Residual\n        activation: relu\n        layers:\n"
        + UNIT.format(filters="$width * $base", strides="$strides")
        + "        shortcut:\n"
        + f"          - {{type: Conv2D, filters: $width * $base, kernel_size: 1, strides: $strides, use_bias: false, {when}}}\n"
        + f"          - {{type: BatchNormalization, {when}}}\n"
        + "model:\n  layers:\n    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, use_bias: false}\n"
        + stages
        + "    - GlobalAveragePooling2D\n    - {type: Dense, units: auto}\n"
    )


def plain_spec() -> str:
    """The same network with today's blocks: a block per variant, literal widths, a use per stride."""
    uses = [f"    - {{type: unit, repeat: {UNITS}, filters: {WIDTHS[0]}}}\n"]
    for width in WIDTHS[1:]:
        uses.append(f"    - {{type: down, filters: {width}}}\n    - {{type: unit, repeat: {UNITS - 1}, filters: {width}}}\n")
    return (
        DATA
        + "blocks:\n  unit:\n    params: {filters: required}\n    layers:\n"
        + "      - type: Residual\n        activation: relu\n        shortcut: identity\n        layers:\n"
        + UNIT.format(filters="$filters", strides=1)
        + "  down:\n    params: {filters: required}\n    layers:\n"
        + "      - type: Residual\n        activation: relu\n        layers:\n"
        + UNIT.format(filters="$filters", strides=2)
        + "        shortcut:\n"
        + "          - {type: Conv2D, filters: $filters, kernel_size: 1, strides: 2, use_bias: false}\n"
        + "          - BatchNormalization\n"
        + "model:\n  layers:\n    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, use_bias: false}\n"
        + "".join(uses)
        + "    - GlobalAveragePooling2D\n    - {type: Dense, units: auto}\n"
    )


def layers_of(text: str) -> list[tuple[Any, ...]]:
    from cnnbuild.plugins.manager import get_registry
    from cnnbuild.spec import spec_from_text
    from cnnbuild.spec.shapes import infer_spec

    spec = spec_from_text(text, num_classes=10)
    return [(row.type, row.output_shape, row.params) for row in infer_spec(spec, get_registry(), 10)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--only", choices=["plain", "expressions"], help="time one spec alone")
    args = parser.parse_args()
    from cnnbuild.spec import spec_from_text

    texts = {"plain": plain_spec(), "expressions": expressions_spec()}
    if args.only:
        texts = {args.only: texts[args.only]}
    if len(texts) == 2:
        plain, written = layers_of(texts["plain"]), layers_of(texts["expressions"])
        assert plain == written, "the two specs must describe the same network"
        print(f"both specs: {len(plain)} Keras layers, {sum(p for _, _, p in plain):,} parameters")
    for text in texts.values():
        spec_from_text(text, num_classes=10)  # warm: plugins loaded, spec models built
    wall: dict[str, list[float]] = {name: [] for name in texts}
    cpu: dict[str, list[float]] = {name: [] for name in texts}
    for round_ in range(args.rounds):
        order = list(texts) if round_ % 2 == 0 else list(reversed(texts))
        for name in order:
            gc.collect()  # as timeit does: no collection of the other spec's garbage inside this one's time
            gc.disable()
            started, started_cpu = time.perf_counter(), time.process_time()
            spec_from_text(texts[name], num_classes=10)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
            gc.enable()
    result: dict[str, Any] = {"machine": describe_machine(probe_gpu=False), "rounds": args.rounds, "wall_seconds": wall, "cpu_seconds": cpu}
    for clock, times in (("wall", wall), ("cpu", cpu)):
        medians = {name: statistics.median(values) for name, values in times.items()}
        result[f"median_{clock}_seconds"] = medians
        for name, median in medians.items():
            print(f"{clock:4s} {name:12s} median {median * 1000:7.1f} ms  (min {min(times[name]) * 1000:.1f}, max {max(times[name]) * 1000:.1f}; {args.rounds} rounds)")
        if len(medians) == 2:
            result[f"ratio_{clock}"] = medians["expressions"] / medians["plain"]
            print(f"{clock:4s} ratio expressions / plain (medians): {result[f'ratio_{clock}']:.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"block-expressions-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
