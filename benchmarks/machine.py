"""The machine a benchmark ran on, its estimated peak FLOP/s, and a model's FLOPs per image.

Peak estimate (stated in BENCHMARKS.md): cores x clock x FLOP per cycle per core, where FLOP
per cycle = 2 (a fused multiply-add) x float32 lanes of the FMA datapath x FMA pipes:
- AMD Zen 2/3/4 (family 23/25): two 256-bit FMA pipes (Zen 4 runs AVX-512 on them in two
  halves), so 32 float32 FLOP/cycle; AVX512_BF16 (VDPBF16PS: two bfloat16 products and two adds
  per float32 lane) doubles that for bfloat16.
- Intel with AVX-512: two 512-bit FMA units (server parts; some have one), 64 float32 FLOP/cycle;
  AVX512_BF16 doubles it; AMX-BF16 tiles are far above that (1024 bfloat16 FLOP/cycle).
- Otherwise AVX2 + FMA: two 256-bit units, 32 FLOP/cycle; without FMA: 16.
The clock is the highest of lscpu's "CPU max MHz" and /proc/cpuinfo's "cpu MHz" (under a
hypervisor only the nominal clock is visible, so boost clocks make the true peak higher).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from typing import Any


def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in text.splitlines()) if value}


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def peak_flops(vendor: str, family: int | None, flags: set[str], cores: int, mhz: float) -> dict[str, Any]:
    """Estimated peak float32 and bfloat16 FLOP/s of ``cores`` cores at ``mhz``, and how it was estimated."""
    if "fma" not in flags:
        fp32_per_cycle, how = 16, "no FMA: two 256-bit units doing a multiply or an add each"
    elif vendor == "AuthenticAMD" and family in (23, 25, 26):
        fp32_per_cycle, how = 32, "AMD Zen: two 256-bit FMA pipes (AVX-512 on Zen 4 runs in two halves)"
    elif "avx512f" in flags:
        fp32_per_cycle, how = 64, "Intel AVX-512: two 512-bit FMA units"
    else:
        fp32_per_cycle, how = 32, "AVX2: two 256-bit FMA units"
    if "amx_bf16" in flags:
        bf16_per_cycle, bf16_how = 1024, "AMX-BF16 tiles"
    elif "avx512_bf16" in flags:
        bf16_per_cycle, bf16_how = 2 * fp32_per_cycle, "AVX512_BF16 dot products: twice the float32 rate"
    else:
        bf16_per_cycle, bf16_how = fp32_per_cycle, "no native bfloat16: at most the float32 rate"
    hz = mhz * 1e6
    return {
        "float32_flops": cores * hz * fp32_per_cycle,
        "bfloat16_flops": cores * hz * bf16_per_cycle,
        "float32_flop_per_cycle_per_core": fp32_per_cycle,
        "bfloat16_flop_per_cycle_per_core": bf16_per_cycle,
        "how": f"{cores} cores x {mhz:.0f} MHz x FLOP/cycle ({how}; bfloat16: {bf16_how})",
    }


def describe_machine(*, probe_gpu: bool = True) -> dict[str, Any]:
    """CPU model, cores, clock, RAM, vector features, load, package versions and any GPU TensorFlow sees."""
    cpu = _cpuinfo()
    lscpu = _lscpu()
    flags = set(cpu.get("flags", "").split())
    cores = os.cpu_count() or 1
    mhz_values = [float(v) for v in (lscpu.get("CPU max MHz"), cpu.get("cpu MHz")) if v and re.match(r"^[0-9.]+$", v)]
    mhz = max(mhz_values) if mhz_values else 0.0
    family = int(cpu["cpu family"]) if cpu.get("cpu family", "").isdigit() else None
    versions = {"python": platform.python_version()}
    for package in ("cnnbuild", "tensorflow", "keras", "numpy", "tf_keras", "pillow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    machine = {
        "cpu_model": lscpu.get("Model name") or cpu.get("model name") or platform.processor(),
        "vendor": cpu.get("vendor_id", ""),
        "cpu_family": family,
        "cpu_model_number": cpu.get("model"),
        "logical_cpus": cores,
        "cores_per_socket": lscpu.get("Core(s) per socket"),
        "threads_per_core": lscpu.get("Thread(s) per core"),
        "hypervisor": lscpu.get("Hypervisor vendor"),
        "mhz": mhz,
        "vector_features": sorted(flags & {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"}),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
        "peak": peak_flops(cpu.get("vendor_id", ""), family, flags, cores, mhz),
    }
    if probe_gpu:
        machine["gpus"] = visible_gpus()
    return machine


def visible_gpus() -> list[str]:
    """GPUs TensorFlow sees, asked in a child process so this one stays free of TensorFlow."""
    code = "import tensorflow as tf; print('\\n'.join(d.name for d in tf.config.list_physical_devices('GPU')))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in done.stdout.splitlines() if line.strip()]
