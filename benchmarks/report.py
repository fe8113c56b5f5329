"""Render a benchmark result file as the Markdown tables BENCHMARKS.md shows (and run.py prints).

    python benchmarks/report.py benchmarks/results/full-20250101-120000.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _f(value: Any, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_section(machine: dict[str, Any]) -> str:
    peak = machine["peak"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    gpus = machine.get("gpus") or []
    lines = [
        f"- CPU: {machine['cpu_model']} (vendor {machine['vendor']}, family {machine['cpu_family']}, model {machine['cpu_model_number']}), "
        f"{machine['logical_cpus']} logical CPUs ({machine['cores_per_socket']} cores, {machine['threads_per_core']} thread per core), "
        f"{machine['mhz']:.0f} MHz{', under ' + machine['hypervisor'] if machine.get('hypervisor') else ''}",
        f"- Vector units: {', '.join(machine['vector_features'])}",
        f"- Memory: {machine['memory_gib']} GiB; OS: {machine['os']}",
        f"- GPU: {', '.join(gpus) if gpus else 'none visible to TensorFlow'}",
        f"- Versions: {versions}",
        f"- Estimated peak: {peak['float32_flops'] / 1e9:.0f} GFLOP/s float32, {peak['bfloat16_flops'] / 1e9:.0f} GFLOP/s bfloat16 ({peak['how']})",
        f"- Load average when the run started: {', '.join(str(x) for x in machine['load_average'])}",
    ]
    if machine.get("load_average_at_end"):
        lines.append(f"- Load average when it ended: {', '.join(str(x) for x in machine['load_average_at_end'])}")
    return "\n".join(lines)


def flowers_section(result: dict[str, Any]) -> str:
    rows = []
    for name, row in result["variants"].items():
        accuracy = "-" if row["val_accuracy_mean"] is None else f"{row['val_accuracy_mean']:.3f}" + (f" ± {row['val_accuracy_sd']:.3f}" if row["val_accuracy_sd"] is not None else "")
        rows.append(
            [
                name,
                row["precision"] or "-",
                _f(row["train_images_per_second"]),
                _f(row["best_images_per_second"]),
                _f(row["cpu_ms_per_image"]),
                _f(row["seconds_to_first_batch"]),
                _f(row["wall_seconds"]),
                _f(row["peak_rss_mb"], 0),
                accuracy,
                _f(row["training_gflops"]),
                _pct(row["fraction_of_peak"]),
                f"{row['failed']} failed" if row["failed"] else "",
            ]
        )
    table = _table(
        ["variant", "precision", "img/s, median epoch", "img/s, best epoch", "CPU ms/img", "s to 1st batch", "wall s", "peak RSS MB", "val acc (mean ± sd)", "GFLOP/s (best)", "of peak", ""],
        rows,
    )
    flops = result["flops_per_image"]
    speedup = result["speedup_vs_tutorial"]
    summary = [
        f"Speed-up of cnnbuild over the tutorial script: **{_speedups(speedup)}**; "
        f"validation accuracy difference {_f(result['val_accuracy_difference_vs_tutorial'] and result['val_accuracy_difference_vs_tutorial'] * 100, 1, ' points')}.",
        f"FLOPs: {flops['forward_flops'] / 1e6:.0f} MFLOP forward per image, {flops['training_flops'] / 1e6:.0f} MFLOP per trained image (3x forward).",
        "",
        _table(
            ["default switched off", "speed-up the default gives: median epochs", "best epochs", "CPU per image", "val acc change from the default"],
            [
                [name, _ratio(row["speedup_from_default"]["median_epochs"]), _ratio(row["speedup_from_default"]["best_epochs"]), _ratio(row["speedup_from_default"]["cpu_per_image"]), _f(row["val_accuracy_change"] and row["val_accuracy_change"] * 100, 1, " points")]
                for name, row in result["ablations"].items()
            ],
        ),
    ]
    return table + "\n\n" + "\n".join(summary)


def _speedups(speedup: dict[str, Any]) -> str:
    return f"{_ratio(speedup['median_epochs'])} by median epochs, {_ratio(speedup['best_epochs'])} by best epochs, {_ratio(speedup['cpu_per_image'])} by CPU time per image"


LEGACY_DATASETS = {
    "cells": "malaria-like cells: small PNGs",
    "photos": "flower photos: JPEGs of about 320x240",
}


def legacy_section(result: dict[str, Any]) -> str:
    header = ["images", "variant", "img/s, median epoch", "img/s, best epoch", "CPU ms/img", "s to 1st batch", "wall s", "peak RSS MB", "val acc (mean)"]
    rows = []
    lines = []
    for key, dataset in result["datasets"].items():
        label = LEGACY_DATASETS.get(key, key)
        for name, row in dataset["variants"].items():
            rows.append(
                [
                    label,
                    name,
                    _f(row["train_images_per_second"]),
                    _f(row["best_images_per_second"]),
                    _f(row["cpu_ms_per_image"], 2),
                    _f(row["seconds_to_first_batch"]),
                    _f(row["wall_seconds"]),
                    _f(row["peak_rss_mb"], 0),
                    _f(row["val_accuracy_mean"], 3),
                ]
            )
        images = next((run.get("train_images") for run in dataset["variants"]["cnnbuild"].get("per_run", []) if run.get("train_images")), None)
        executions = sorted(set(dataset.get("steps_per_execution") or []))
        lines.append(
            f"- {label} ({images or '?'} training images, {', '.join(dataset['classes'])}): cnnbuild over ImageDataGenerator **{_speedups(dataset['speedup'])}**; "
            f"steps_per_execution auto ({', '.join(map(str, executions)) or '?'}) over 1: {_speedups(dataset['speedup_from_steps_per_execution'])}."
        )
    return _table(header, rows) + "\n\n" + "\n".join(lines)


def startup_section(result: dict[str, Any]) -> str:
    rows = [[f"`{name}`", _f(row["median_seconds"], 2), _f(row["peak_rss_mb"], 0), _pct(row.get("fraction_of_tensorflow_import"), 0)] for name, row in result.items()]
    return _table(["command", "median s", "peak RSS MB", "of TensorFlow's import"], rows)


def scale_section(result: dict[str, Any]) -> str:
    rows = [
        [
            f"{row['images']:,}",
            row["cache"],
            _f(row["scan_seconds"]),
            _f(row["scan_microseconds_per_image"], 0),
            _f(row["epoch_train_seconds"][0]),
            _f(row["first_epoch_microseconds_per_image"], 0),
            _f(row["epoch_train_seconds"][-1]),
            _f(row["later_epoch_microseconds_per_image"], 0),
            _f(row["rss_after_scan_mb"], 0),
            _f(row["peak_rss_mb"], 0),
        ]
        for row in result["points"]
    ]
    header = ["images", "cache", "scan s", "scan µs/img", "epoch 1 s", "epoch 1 µs/img", "epoch 2 s", "epoch 2 µs/img", "RSS after scan MB", "peak RSS MB"]
    return _table(header, rows)


def builder_section(result: dict[str, Any]) -> str:
    build, step = result["build_seconds"], result["step_seconds"]
    rows = [
        ["build the flowers model (median)", _f(build["cnnbuild"] * 1000, 1, " ms"), _f(build["hand"] * 1000, 1, " ms"), f"{result['build_overhead']:+.1%}"],
        ["first build in the process", _f(result["cold_build_seconds"]["cnnbuild"] * 1000, 1, " ms"), _f(result["cold_build_seconds"]["hand"] * 1000, 1, " ms"), ""],
        ["training step, batch 32 (median)", _f(step["cnnbuild"] * 1000, 1, " ms"), _f(step["hand"] * 1000, 1, " ms"), f"{result['step_overhead']:+.1%}"],
    ]
    table = _table(["", "build_model", "hand-written", "overhead"], rows)
    return table + f"\n\nParameters: {result['params']['cnnbuild']:,} (cnnbuild) and {result['params']['hand']:,} (by hand); reading and validating the spec: {result['spec_load_seconds'] * 1000:.0f} ms."


SECTIONS = {
    "flowers": ("Training throughput: examples/flowers.yaml against the tutorial script", flowers_section),
    "legacy": ("Against ImageDataGenerator (the malaria model)", legacy_section),
    "startup": ("Start-up", startup_section),
    "scale": ("Scale: generated images", scale_section),
    "builder": ("Builder overhead", builder_section),
}


def render(results: dict[str, Any]) -> str:
    """Markdown for every section present in ``results``."""
    parts = [f"### Machine ({results['mode']} run, {results['started']})", machine_section(results["machine"])]
    for key, (title, renderer) in SECTIONS.items():
        if key in results:
            parts += [f"### {title}", renderer(results[key])]
        elif key in results.get("errors", {}):
            parts += [f"### {title}", f"failed: {results['errors'][key]}"]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/report.py RESULTS.json")
    print(render(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
