"""Graph and backbone benchmarks: the residual example against the tutorial CNN at one time
budget, training speed of a frozen and an unfrozen backbone, and validate on a 200-layer graph.

    python benchmarks/graphs.py validate                    # seconds; validate and build a 200+ layer graph
    python benchmarks/graphs.py backbone --data DIR         # a few minutes: MobileNetV3Small frozen, then fine-tuned
    python benchmarks/graphs.py resnet --data DIR           # about 15 minutes on 2 cores: resnet_small vs flowers.yaml
    python benchmarks/graphs.py all --data DIR

``resnet`` trains ``examples/flowers.yaml`` (the tutorial CNN) and ``examples/resnet_small.yaml``
on the same photos, split and augmentation, each in its own ``cnnbuild run`` process, one after
the other, and compares them at the same budget of training seconds: the budget is the smaller
of the two runs' total training time, and each model's figure is the validation accuracy of its
last epoch that ended within the budget. ``backbone`` runs ``examples/flowers_transfer.yaml``
with ``weights: none`` (the same computation as imagenet weights; these machines cannot download
them), so its accuracy means nothing and only the images/s of the two phases are reported,
with the fraction of the machine's estimated peak FLOP/s. ``validate`` times ``cnnbuild
validate`` as a process and the spec's expansion and shape inference in-process, then the
Keras model's construction by cnnbuild against the same graph written by hand with Keras's
functional API. Results go to benchmarks/results/graphs-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, cnnbuild_command, model_flops, run_measured  # noqa: E402
from machine import describe_machine  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
#: Residual blocks of the validate benchmark: each is Conv2D, BatchNormalization, Activation,
#: Conv2D, BatchNormalization, Add and Activation (7 Keras layers), so 30 of them are 210 layers.
BLOCKS = 30


def deep_spec(folder: Path) -> Path:
    """A spec of 30 residual blocks (214 Keras layers) on a generated 3-class folder."""
    from PIL import Image

    data = folder / "images"
    for index, name in enumerate(["a", "b", "c"]):
        (data / name).mkdir(parents=True, exist_ok=True)
        for number in range(4):
            Image.new("RGB", (32, 32), (80 * index, 10 * number, 40)).save(data / name / f"{number}.png")
    spec = folder / "deep.yaml"
    spec.write_text(
        f"""name: deep
data: {{type: image_directory, path: {data}, image_size: [32, 32], batch_size: 4}}
blocks:
  basic:
    params: {{filters: required}}
    layers:
      - type: Residual
        activation: relu
        layers:
          - {{type: Conv2D, filters: $filters, kernel_size: 3, padding: same, use_bias: false}}
          - BatchNormalization
          - {{type: Activation, activation: relu}}
          - {{type: Conv2D, filters: $filters, kernel_size: 3, padding: same, use_bias: false}}
          - BatchNormalization
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 16, kernel_size: 3, padding: same}}
    - {{type: basic, filters: 16, repeat: {BLOCKS}}}
    - GlobalAveragePooling2D
    - {{type: Dense, units: auto}}
""",
        encoding="utf-8",
    )
    return spec


def keras_by_hand(classes: int) -> Any:
    """The same network as :func:`deep_spec`, written with Keras's functional API."""
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same")(x)
    for _ in range(BLOCKS):
        y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
        y = keras.layers.BatchNormalization()(y)
        y = keras.layers.Activation("relu")(y)
        y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(y)
        y = keras.layers.BatchNormalization()(y)
        x = keras.layers.Activation("relu")(keras.layers.Add()([y, x]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x))


def validate(args: argparse.Namespace) -> dict[str, Any]:
    folder = RESULTS / "graphs-scratch"
    folder.mkdir(parents=True, exist_ok=True)
    spec = deep_spec(folder)
    processes = []
    for _ in range(args.rounds):
        measured = run_measured(cnnbuild_command("validate", str(spec)))
        assert measured.ok, measured.output_tail
        processes.append(measured.wall_seconds)
    from cnnbuild.spec import spec_from_text

    text = spec.read_text(encoding="utf-8")
    spec_from_text(text, filename=str(spec))  # plugins loaded once, as in a process
    in_process = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        parsed = spec_from_text(text, filename=str(spec))
        rows = parsed.graph.nodes
        in_process.append(time.perf_counter() - started)
    from cnnbuild import build_model

    built, by_hand = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        model = build_model(parsed, 3)
        built.append(time.perf_counter() - started)
        started = time.perf_counter()
        reference = keras_by_hand(3)
        by_hand.append(time.perf_counter() - started)
    assert model.count_params() == reference.count_params(), (model.count_params(), reference.count_params())
    return {
        "graph_nodes": len(rows),
        "keras_layers": len(model.layers),
        "params": model.count_params(),
        "validate_process_seconds": processes,
        "validate_in_process_seconds": in_process,
        "build_model_seconds": built,
        "keras_by_hand_seconds": by_hand,
        "build_overhead": statistics.median(built) / statistics.median(by_hand),
    }


def _run(spec: str, folder: Path, sets: list[str], timeout: float) -> dict[str, Any]:
    shutil.rmtree(folder / "run", ignore_errors=True)
    options = [item for value in sets for item in ("--set", value)]
    measured = run_measured(cnnbuild_command("run", spec, *options, "--output", str(folder / "run"), "--verbose", "line"), timeout=timeout)
    if not measured.ok:
        raise RuntimeError(f"cnnbuild run {spec} failed:\n{measured.output_tail[-2000:]}")
    metrics = json.loads((folder / "run" / "metrics.json").read_text(encoding="utf-8"))
    history = (folder / "run" / "history.csv").read_text(encoding="utf-8").splitlines()
    header = history[0].split(",")
    rows = [dict(zip(header, map(float, line.split(",")))) for line in history[1:]]
    return {"metrics": metrics, "history": rows, "wall_seconds": measured.wall_seconds, "cpu_seconds": measured.cpu_seconds}


def resnet(args: argparse.Namespace) -> dict[str, Any]:
    scratch = RESULTS / "graphs-scratch"
    runs = {}
    for name, spec, epochs in (("tutorial CNN (flowers.yaml)", "examples/flowers.yaml", args.tutorial_epochs), ("resnet_small.yaml", "examples/resnet_small.yaml", args.resnet_epochs)):
        folder = scratch / Path(spec).stem
        sets = [f"data.path={args.data}", f"train.epochs={epochs}", "train.callbacks=[]"]
        runs[name] = _run(spec, folder, sets, timeout=3600)
        runs[name]["flops"] = model_flops(spec, 5)
        print(f"{name}: {runs[name]['wall_seconds']:.0f} s, final val_accuracy {runs[name]['metrics']['final']['val_accuracy']:.3f}", flush=True)
    totals = {name: sum(run["metrics"]["epoch_train_seconds"]) for name, run in runs.items()}
    budget = min(totals.values())
    summary = {}
    for name, run in runs.items():
        elapsed, within = 0.0, None
        for seconds, row in zip(run["metrics"]["epoch_train_seconds"], run["history"]):
            elapsed += seconds
            if elapsed <= budget * 1.0001:
                within = row
        summary[name] = {
            "params": run["metrics"]["total_params"],
            "forward_mflops": run["flops"]["forward_flops"] / 1e6,
            "epochs_in_budget": int(within["epoch"]) if within else 0,
            "val_accuracy_in_budget": within["val_accuracy"] if within else None,
            "epochs_run": run["metrics"]["epochs_run"],
            "final_val_accuracy": run["metrics"]["final"]["val_accuracy"],
            "best_val_accuracy": max(row["val_accuracy"] for row in run["history"]),
            "train_images_per_second": run["metrics"]["train_images_per_second"],
            "train_seconds": totals[name],
        }
    return {"budget_train_seconds": budget, "summary": summary, "runs": runs}


def backbone(args: argparse.Namespace) -> dict[str, Any]:
    folder = RESULTS / "graphs-scratch" / "transfer"
    sets = [f"data.path={args.data}", "model.layers[0].weights=none", f"train.epochs={args.phase_epochs}", f"train.fine_tune.epochs={args.phase_epochs}", "train.callbacks=[]"]
    flops = model_flops("examples/flowers_transfer.yaml", 5, "model.layers[0].weights=none")
    run = _run("examples/flowers_transfer.yaml", folder, sets, timeout=3600)
    machine = describe_machine(probe_gpu=False)
    peak = machine["peak"]["float32_flops"]
    seconds = run["metrics"]["epoch_train_seconds"]
    images = run["metrics"]["train_examples"]
    phases = {}
    for name, first, last in ((p["name"], p["first_epoch"], p["last_epoch"]) for p in run["metrics"]["phases"]):
        # the first epoch of each phase traces a new training function: the later epochs are the steady state
        steady = seconds[first : last] if last > first else seconds[first - 1 : last]
        rate = images / statistics.median(steady)
        trainable_share = 1.0 if name == "fine_tune" else 0.0
        # frozen: forward through the backbone, backward only through the head (about 1x forward);
        # unfrozen: forward and two gradients through everything (3x forward)
        work = flops["forward_flops"] * (3.0 if trainable_share else 1.0)
        phases[name] = {"epochs": [first, last], "epoch_seconds": seconds[first - 1 : last], "images_per_second": rate, "flop_per_second": rate * work, "fraction_of_peak": rate * work / peak if peak else None}
    return {"phases": phases, "forward_mflops": flops["forward_flops"] / 1e6, "params": run["metrics"]["total_params"], "peak_flops": peak, "wall_seconds": run["wall_seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["validate", "backbone", "resnet", "all"])
    parser.add_argument("--data", default=os.environ.get("FLOWERS", str(REPO.parent / "shared" / "data" / "flowers")))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tutorial-epochs", type=int, default=10)
    parser.add_argument("--resnet-epochs", type=int, default=6)
    parser.add_argument("--phase-epochs", type=int, default=2)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": describe_machine(probe_gpu=False), "date": time.strftime("%Y-%m-%d %H:%M")}
    for name, function in (("validate", validate), ("backbone", backbone), ("resnet", resnet)):
        if args.which in (name, "all"):
            results[name] = function(args)
            print(json.dumps({k: v for k, v in results[name].items() if k != "runs"}, indent=2), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"graphs-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
