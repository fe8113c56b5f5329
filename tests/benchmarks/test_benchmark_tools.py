"""The benchmark suite's measuring tools: peak estimate, FLOP count, process measurement, alternation, report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("vendor", "family", "flags", "fp32", "bf16"),
    [
        ("AuthenticAMD", 25, {"fma", "avx2", "avx512f", "avx512_bf16"}, 32, 64),  # Zen 4: AVX-512 on 256-bit pipes
        ("AuthenticAMD", 23, {"fma", "avx2"}, 32, 32),
        ("GenuineIntel", 6, {"fma", "avx2", "avx512f", "avx512_bf16"}, 64, 128),
        ("GenuineIntel", 6, {"fma", "avx2", "avx512f", "avx512_bf16", "amx_bf16"}, 64, 1024),
        ("GenuineIntel", 6, {"avx"}, 16, 16),
    ],
)
def test_peak_estimate_from_cores_clock_and_vector_units(vendor, family, flags, fp32, bf16):
    from machine import peak_flops

    peak = peak_flops(vendor, family, flags, cores=2, mhz=2500)
    assert peak["float32_flop_per_cycle_per_core"] == fp32 and peak["bfloat16_flop_per_cycle_per_core"] == bf16
    assert peak["float32_flops"] == 2 * 2.5e9 * fp32
    assert peak["bfloat16_flops"] == 2 * 2.5e9 * bf16
    assert "2 cores x 2500 MHz" in peak["how"]


def test_flowers_model_flops_come_from_cnnbuild_summary():
    from harness import model_flops

    # the multiply-adds and bias adds of the flowers model: tests/test_cli.py derives 187,038,602 layer by layer
    assert model_flops(REPO / "examples" / "flowers.yaml", 5, "data.path=/nowhere") == {"forward_flops": 187_038_602, "training_flops": 3 * 187_038_602}


def test_a_measured_process_reports_its_own_peak_memory_time_and_status():
    from harness import run_measured

    code = "import time; block = bytearray(300 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); time.sleep(0.3)"
    measured = run_measured([sys.executable, "-c", code])
    assert measured.ok
    assert 300 <= measured.peak_rss_mb < 600
    assert measured.wall_seconds >= 0.3
    assert measured.cpu_seconds < measured.wall_seconds + 1
    failed = run_measured([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    assert failed.returncode == 3 and not failed.ok and "boom" in failed.output_tail


def test_variants_alternate_round_by_round(tmp_path):
    from harness import Variant, alternate

    order = tmp_path / "order.txt"

    def command(name):
        return lambda round_index, folder: [sys.executable, "-c", f"open({str(order)!r}, 'a').write('{name}{round_index} ')"]

    def read(measured, folder):
        return {"train_images_per_second": 1.0}

    runs = alternate([Variant("A", command("A"), read), Variant("B", command("B"), read)], 3, tmp_path / "scratch", log=lambda line: None)
    assert order.read_text().split() == ["A0", "B0", "A1", "B1", "A2", "B2"]
    assert [len(runs["A"]), len(runs["B"])] == [3, 3]


def test_report_renders_every_section_with_its_ratios():
    from report import render

    machine = {
        "cpu_model": "Test CPU",
        "vendor": "AuthenticAMD",
        "cpu_family": 25,
        "cpu_model_number": "17",
        "logical_cpus": 2,
        "cores_per_socket": "2",
        "threads_per_core": "1",
        "hypervisor": None,
        "mhz": 2600.0,
        "vector_features": ["avx2", "fma"],
        "memory_gib": 8.0,
        "os": "Linux",
        "load_average": [0.1, 0.2, 0.3],
        "versions": {"tensorflow": "2.21.0"},
        "peak": {"float32_flops": 166e9, "bfloat16_flops": 332e9, "how": "2 cores x 2600 MHz"},
        "gpus": [],
    }
    row = {
        "runs": 2, "failed": 0, "train_images_per_second": 150.0, "best_images_per_second": 250.0, "cpu_ms_per_image": 6.25, "seconds_to_first_batch": 7.0,
        "wall_seconds": 30.0, "cpu_seconds": 50.0, "peak_rss_mb": 1500.0, "val_accuracy_mean": 0.5, "val_accuracy_sd": 0.02, "precision": "mixed_bfloat16",
        "training_gflops": 83.3, "fraction_of_peak": 0.25,
    }
    speedups = {"median_epochs": 2.5, "best_epochs": 1.6, "cpu_per_image": 1.75}
    results = {
        "mode": "full",
        "started": "now",
        "machine": machine,
        "flowers": {
            "variants": {"cnnbuild": row, "tutorial script": {**row, "train_images_per_second": 60.0}},
            "speedup_vs_tutorial": speedups,
            "val_accuracy_difference_vs_tutorial": -0.01,
            "ablations": {"precision float32": {"speedup_from_default": {**speedups, "median_epochs": 1.7}, "val_accuracy_change": 0.0}},
            "flops_per_image": {"forward_flops": 185e6, "training_flops": 555e6},
        },
        "legacy": {
            "epochs": 12,
            "rounds": 1,
            "datasets": {
                "cells": {
                    "classes": ["daisy", "roses"],
                    "variants": {"cnnbuild": {**row, "per_run": [{"train_images": 1920}]}, "ImageDataGenerator": row, "cnnbuild, steps_per_execution 1": row},
                    "speedup": speedups,
                    "steps_per_execution": [5, 5],
                    "speedup_from_steps_per_execution": {"median_epochs": 1.07, "best_epochs": 1.05, "cpu_per_image": 1.02},
                }
            },
        },
        "startup": {'python -c "import tensorflow"': {"median_seconds": 5.0, "peak_rss_mb": 800.0}, "cnnbuild --help": {"median_seconds": 0.3, "peak_rss_mb": 35.0, "fraction_of_tensorflow_import": 0.06}},
        "errors": {"scale": "RuntimeError: out of disk"},
    }
    text = render(results)
    assert "**2.50x by median epochs, 1.60x by best epochs, 1.75x by CPU time per image**" in text
    assert "| precision float32 | 1.70x | 1.60x | 1.75x | 0.0 points |" in text
    assert "| cnnbuild | mixed_bfloat16 | 150.0 | 250.0 | 6.2 |" in text and "0.500 ± 0.020" in text
    assert "| malaria-like cells: small PNGs | cnnbuild, steps_per_execution 1 | 150.0 | 250.0 | 6.25 |" in text
    assert (
        "- malaria-like cells: small PNGs (1920 training images, daisy, roses): cnnbuild over ImageDataGenerator **2.50x by median epochs, 1.60x by best epochs, "
        "1.75x by CPU time per image**; steps_per_execution auto (5) over 1: 1.07x by median epochs, 1.05x by best epochs, 1.02x by CPU time per image."
    ) in text
    assert "| `cnnbuild --help` | 0.30 | 35 | 6% |" in text
    assert "failed: RuntimeError: out of disk" in text
    assert "GPU: none visible to TensorFlow" in text


def test_quick_mode_refuses_a_missing_photo_folder(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--data", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "pass --data FOLDER" in done.stderr
    assert not list(Path(tmp_path).iterdir())


def test_a_small_command_is_not_charged_with_a_large_parents_memory():
    """Linux copies the parent's peak into a child's ru_maxrss at exec; the harness must not report that."""
    from harness import run_measured

    ballast = bytearray(400 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    try:
        measured = run_measured([sys.executable, "-c", "import time; time.sleep(0.2)"])
    finally:
        del ballast
    assert measured.ok and measured.peak_rss_mb < 100


def test_steady_state_uses_the_epochs_after_the_first():
    from suites import steady_state

    result = {"train_images": 480, "epoch_train_seconds": [9.0, 4.0, 2.0, 3.0], "epoch_train_cpu_seconds": [12.0, 3.0, 2.4, 2.6]}
    assert steady_state(result) == {"best_images_per_second": 240.0, "cpu_ms_per_image": 2.6 / 480 * 1000}
    assert steady_state({"train_images": 480}) == {"best_images_per_second": None, "cpu_ms_per_image": None}
