"""The benchmark sections: each runs its processes and returns a JSON-ready summary."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    REPO,
    Measured,
    Variant,
    alternate,
    cnnbuild_command,
    mean,
    median,
    model_flops,
    python_script,
    ratio,
    read_cnnbuild_run,
    read_script_result,
    run_measured,
    stdev,
)

Log = Callable[[str], None]


@dataclass
class Settings:
    """What a section may spend: rounds of alternating runs, epochs, sizes."""

    flowers: Path
    cells: Path | None
    scratch: Path
    rounds: int
    flowers_epochs: int
    legacy_epochs: int
    startup_rounds: int
    scale_sizes: tuple[int, ...]
    builder_args: tuple[str, ...]


#: cnnbuild's speed defaults, each switched off in turn (``--set``) to show what it is worth.
ABLATIONS = {
    "precision float32": ["train.precision=float32"],
    "augmentation in model": ["augmentation_placement=model"],
    "augmentation unfused": ["train.fuse_augmentation=false"],
    "no cache": ["data.cache=none"],
    "pipeline per epoch": ["train.continuous_pipeline=false"],
}


def _cnnbuild_run(spec: str, sets: list[str], seeds: int) -> Callable[[int, Path], list[str]]:
    def command(round_index: int, folder: Path) -> list[str]:
        shutil.rmtree(folder / "run", ignore_errors=True)
        options = [item for value in [*sets, f"seed={seeds + round_index}"] for item in ("--set", value)]
        return cnnbuild_command("run", spec, *options, "--output", str(folder / "run"), "--verbose", "quiet")

    return command


def steady_state(result: dict[str, Any]) -> dict[str, float | None]:
    """From one run's epochs after the first: the best epoch's images/s and the median CPU milliseconds per image.

    On a shared machine other load only ever adds wall time, so the fastest epoch is the best
    estimate of the speed alone; CPU time per image barely depends on that load at all.
    """
    images = result.get("train_images")
    wall = (result.get("epoch_train_seconds") or [])[1:]
    cpu = (result.get("epoch_train_cpu_seconds") or [])[1:]
    return {
        "best_images_per_second": images / min(wall) if images and wall else None,
        "cpu_ms_per_image": median(cpu) / images * 1000 if images and cpu else None,
    }


def summarize_runs(runs: list[Measured]) -> dict[str, Any]:
    """Medians (and the mean and spread of accuracy) over one variant's runs."""
    ok = [m for m in runs if m.ok]
    for measured in ok:
        measured.result.update(steady_state(measured.result))
    accuracies = [m.result.get("val_accuracy") for m in ok]
    return {
        "runs": len(runs),
        "failed": len(runs) - len(ok),
        "train_images_per_second": median([m.result.get("train_images_per_second") for m in ok]),
        "best_images_per_second": max([m.result["best_images_per_second"] for m in ok if m.result.get("best_images_per_second")], default=None),
        "cpu_ms_per_image": median([m.result.get("cpu_ms_per_image") for m in ok]),
        "seconds_to_first_batch": median([m.result.get("seconds_to_first_batch") for m in ok]),
        "wall_seconds": median([m.wall_seconds for m in ok]),
        "cpu_seconds": median([m.cpu_seconds for m in ok]),
        "peak_rss_mb": median([m.peak_rss_mb for m in ok]),
        "val_accuracy_mean": mean(accuracies),
        "val_accuracy_sd": stdev(accuracies),
        "precision": ok[0].result.get("precision") if ok else None,
        "per_run": [
            {"wall_seconds": round(m.wall_seconds, 3), "cpu_seconds": round(m.cpu_seconds, 3), "peak_rss_mb": round(m.peak_rss_mb, 1), **m.result} if m.ok else {"failed": m.returncode, "output_tail": m.output_tail[-1500:]}
            for m in runs
        ],
    }


def paired_ratio(runs: dict[str, list[Measured]], faster: str, slower: str, key: str = "train_images_per_second") -> float | None:
    """How many times faster ``faster`` is than ``slower``: the median over rounds of the ratio of
    neighbouring runs (for ``cpu_ms_per_image``, where less is faster, the inverse ratio)."""
    ratios = []
    for a, b in zip(runs[faster], runs[slower]):
        if a.ok and b.ok:
            ratios.append(ratio(b.result.get(key), a.result.get(key)) if key == "cpu_ms_per_image" else ratio(a.result.get(key), b.result.get(key)))
    return median(ratios)


def speedups(runs: dict[str, list[Measured]], faster: str, slower: str) -> dict[str, float | None]:
    """The speed-up by median epochs, by best epochs and by CPU time per image."""
    best = [run.result.get("best_images_per_second") for run in runs[faster] if run.ok], [run.result.get("best_images_per_second") for run in runs[slower] if run.ok]
    return {
        "median_epochs": paired_ratio(runs, faster, slower),
        "best_epochs": ratio(max([v for v in best[0] if v], default=None), max([v for v in best[1] if v], default=None)),
        "cpu_per_image": paired_ratio(runs, faster, slower, "cpu_ms_per_image"),
    }


def flowers(settings: Settings, machine: dict[str, Any], log: Log) -> dict[str, Any]:
    """cnnbuild run examples/flowers.yaml against the TensorFlow tutorial's script, plus each default switched off."""
    base = [f"data.path={settings.flowers}", f"train.epochs={settings.flowers_epochs}"]
    spec = "examples/flowers.yaml"
    variants = [
        Variant("cnnbuild", _cnnbuild_run(spec, base, 123), read_cnnbuild_run),
        Variant(
            "tutorial script",
            lambda r, folder: python_script("tutorial_keras.py", "--data", str(settings.flowers), "--epochs", str(settings.flowers_epochs), "--seed", str(123 + r), "--result", str(folder / "result.json")),
            read_script_result,
        ),
        *(Variant(f"cnnbuild, {name}", _cnnbuild_run(spec, base + sets, 123), read_cnnbuild_run) for name, sets in ABLATIONS.items()),
    ]
    log(f"flowers: {len(variants)} variants x {settings.rounds} rounds, {settings.flowers_epochs} epochs each")
    runs = alternate(variants, settings.rounds, settings.scratch / "flowers", log=log)
    summary = {name: summarize_runs(measured) for name, measured in runs.items()}
    flops = model_flops(REPO / spec, 5, f"data.path={settings.flowers}")
    peak = machine["peak"]
    for name, row in summary.items():
        rate = row["best_images_per_second"]  # the speed with the machine to itself, as near as it was measured
        bf16 = (row["precision"] or "").endswith("bfloat16")
        row["training_gflops"] = rate * flops["training_flops"] / 1e9 if rate else None
        # The peak is the CPU's; on a GPU the FLOP/s are reported without a fraction.
        row["fraction_of_peak"] = None if machine.get("gpus") else ratio(row["training_gflops"] * 1e9 if rate else None, peak["bfloat16_flops" if bf16 else "float32_flops"])
    ablations = {
        name: {
            "speedup_from_default": speedups(runs, "cnnbuild", f"cnnbuild, {name}"),
            "val_accuracy_change": _difference(summary["cnnbuild"]["val_accuracy_mean"], summary[f"cnnbuild, {name}"]["val_accuracy_mean"]),
        }
        for name in ABLATIONS
    }
    return {
        "epochs": settings.flowers_epochs,
        "rounds": settings.rounds,
        "data": str(settings.flowers),
        "variants": summary,
        "speedup_vs_tutorial": speedups(runs, "cnnbuild", "tutorial script"),
        "val_accuracy_difference_vs_tutorial": _difference(summary["cnnbuild"]["val_accuracy_mean"], summary["tutorial script"]["val_accuracy_mean"]),
        "ablations": ablations,
        "flops_per_image": flops,
    }


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def legacy_datasets(settings: Settings) -> dict[str, tuple[Path, list[str]]]:
    """The image sets of the legacy comparison: name -> (folder of class sub-folders, the two classes).

    Malaria-like cells: the NIH cell_images folder when ``--cells`` gives it, else small PNG crops
    of two flower classes (``cell_images.py``), the same kind of file. Photos: the daisy and roses
    photos themselves (JPEGs of about 320x240), which cost the generator far more to decode.
    """
    from cell_images import CLASSES, ensure_cell_images

    cells = (settings.cells, ["Parasitized", "Uninfected"]) if settings.cells else (ensure_cell_images(settings.flowers), list(CLASSES))
    return {"cells": cells, "photos": (settings.flowers, list(CLASSES))}


def legacy(settings: Settings, log: Log) -> dict[str, Any]:
    """The malaria model fed by ImageDataGenerator.flow_from_directory against cnnbuild, on cell-like PNGs and on photos."""
    result: dict[str, Any] = {"epochs": settings.legacy_epochs, "rounds": settings.rounds, "datasets": {}}
    for name, (folder, classes) in legacy_datasets(settings).items():
        sets = [f"data.path={folder}", f"data.class_names=[{','.join(classes)}]", f"train.epochs={settings.legacy_epochs}"]
        variants = [
            Variant("cnnbuild", _cnnbuild_run("examples/malaria.yaml", sets, 42), read_cnnbuild_run),
            Variant(
                "ImageDataGenerator",
                lambda r, out, folder=folder, classes=classes: python_script(
                    "legacy_generator_keras.py", "--data", str(folder), "--classes", *classes, "--epochs", str(settings.legacy_epochs), "--seed", str(42 + r), "--result", str(out / "result.json")
                ),
                read_script_result,
            ),
            Variant("cnnbuild, steps_per_execution 1", _cnnbuild_run("examples/malaria.yaml", [*sets, "train.steps_per_execution=1"], 42), read_cnnbuild_run),
        ]
        log(f"legacy input flow on {name} ({folder}): {len(variants)} variants x {settings.rounds} rounds, {settings.legacy_epochs} epochs each")
        runs = alternate(variants, settings.rounds, settings.scratch / f"legacy-{name}", log=log)
        summary = {variant: summarize_runs(measured) for variant, measured in runs.items()}
        result["datasets"][name] = {
            "data": str(folder),
            "classes": classes,
            "variants": summary,
            "speedup": speedups(runs, "cnnbuild", "ImageDataGenerator"),
            "steps_per_execution": [run.result.get("steps_per_execution") for run in runs["cnnbuild"] if run.ok],
            "speedup_from_steps_per_execution": speedups(runs, "cnnbuild", "cnnbuild, steps_per_execution 1"),
        }
    return result


def startup(settings: Settings, log: Log) -> dict[str, Any]:
    """Wall time of cnnbuild --help and validate against importing TensorFlow, alternating."""
    commands = {
        "cnnbuild --help": cnnbuild_command("--help"),
        "cnnbuild validate examples/flowers.yaml": cnnbuild_command("validate", "examples/flowers.yaml"),
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
    }
    log(f"start-up: {len(commands)} commands x {settings.startup_rounds} rounds")
    times: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(settings.startup_rounds):
        for name, argv in commands.items():
            measured = run_measured(argv)
            if not measured.ok:
                raise RuntimeError(f"{name} failed: {measured.output_tail[-800:]}")
            times[name].append(measured.wall_seconds)
            rss[name].append(measured.peak_rss_mb)
    result = {name: {"median_seconds": median(values), "all_seconds": [round(v, 3) for v in values], "peak_rss_mb": median(rss[name])} for name, values in times.items()}
    tensorflow = result['python -c "import tensorflow"']["median_seconds"]
    for name in ("cnnbuild --help", "cnnbuild validate examples/flowers.yaml"):
        result[name]["fraction_of_tensorflow_import"] = ratio(result[name]["median_seconds"], tensorflow)
    for name, row in result.items():
        log(f"  {name:<45} {row['median_seconds']:.2f}s")
    return result


def scale(settings: Settings, log: Log) -> dict[str, Any]:
    """Scan and epoch times on 1k, 10k (and 100k) generated images; cache: memory, and none at the largest size."""
    from generated_images import ensure_images

    points = [(size, "memory") for size in settings.scale_sizes] + [(settings.scale_sizes[-1], "none")]
    rows = []
    for size, cache in points:
        folder = ensure_images(size)
        out = settings.scratch / f"scale-{size}-{cache}.json"
        measured = run_measured(python_script("scale_probe.py", "--data", str(folder), "--cache", cache, "--result", str(out)))
        if not measured.ok:
            raise RuntimeError(f"scale probe at {size} images failed: {measured.output_tail[-1500:]}")
        result = json.loads(out.read_text(encoding="utf-8"))
        row = {"images": size, "cache": cache, "wall_seconds": measured.wall_seconds, "peak_rss_mb": measured.peak_rss_mb, **result}
        first, second = result["epoch_train_seconds"][0], result["epoch_train_seconds"][-1]
        row["scan_microseconds_per_image"] = result["scan_seconds"] / size * 1e6
        row["first_epoch_microseconds_per_image"] = first / size * 1e6
        row["later_epoch_microseconds_per_image"] = second / size * 1e6
        rows.append(row)
        log(f"  {size:>7} images, cache {cache:<6}  scan {result['scan_seconds']:.1f}s  epoch 1 {first:.1f}s  epoch 2 {second:.1f}s  peak RSS {measured.peak_rss_mb:.0f} MB")
    return {"points": rows, "image_size": "40x40 JPEG, resized to 32x32", "spec": "benchmarks/specs/scale.yaml"}


def builder(settings: Settings, log: Log) -> dict[str, Any]:
    """build_model against the hand-written keras.Sequential: build time and per-step training time."""
    out = settings.scratch / "builder.json"
    measured = run_measured(python_script("builder_probe.py", *settings.builder_args, "--result", str(out)))
    if not measured.ok:
        raise RuntimeError(f"builder probe failed: {measured.output_tail[-1500:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    log(f"  build {result['build_seconds']['cnnbuild'] * 1000:.1f} ms vs {result['build_seconds']['hand'] * 1000:.1f} ms by hand ({result['build_overhead']:+.1%}); step {result['step_overhead']:+.1%}")
    return result
