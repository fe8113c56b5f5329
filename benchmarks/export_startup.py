"""Start-up of what runs an export: whole-process `cnnbuild predict` of one image, `cnnbuild serve`
from start to /health and its first and hundredth request, and the server's memory under hostile uploads.

    python benchmarks/export_startup.py RUN_DIR TFLITE_EXPORT ONNX_EXPORT IMAGE [--before CHECKOUT] [--runs 3]

``--before``: a checkout of an earlier cnnbuild (put first on PYTHONPATH) measured the same way,
for before/after tables. Memory: bursts of 7000x7000 PNGs of 6 KB each (49 megapixels) against the
TFLite export; the earlier release is only sent two (it holds every decoded image at full size).
Everything runs on 127.0.0.1 and is bounded; the output is one line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx


def environment(checkout: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(checkout)} if checkout else env


def predict(label: str, model: Path, image: Path, env: dict[str, str], runs: int) -> None:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnnbuild", "predict", str(model), str(image)], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    print(f"predict {label:32s} " + ", ".join(f"{t:.2f}" for t in times) + " s", flush=True)


def start(model: Path, env: dict[str, str], port: int, *options: str) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cnnbuild", "serve", str(model), "--port", str(port), *options], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError(f"cnnbuild serve {model} exited with {process.returncode}") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)


def serve(label: str, model: Path, image: Path, env: dict[str, str], port: int) -> None:
    process, ready = start(model, env, port)
    times = []
    with httpx.Client() as client:
        for _ in range(100):
            started = time.perf_counter()
            reply = client.post(f"http://127.0.0.1:{port}/predict", files=[("file", (image.name, image.read_bytes(), "image/jpeg"))], timeout=300)
            times.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
    stop(process)
    print(f"serve {label:34s} ready {ready:5.2f} s, first request {times[0]:8.1f} ms, 100th {times[-1]:6.1f} ms, median {statistics.median(times):6.1f} ms", flush=True)


def memory(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def burst(label: str, model: Path, env: dict[str, str], port: int, requests: int, files: int, *options: str) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buffer, "PNG")
    body = [("file", (f"{index}.png", buffer.getvalue(), "image/png")) for index in range(files)]
    process, _ = start(model, env, port, *options)
    before, _ = memory(process.pid)

    async def send() -> list[int]:
        async with httpx.AsyncClient(timeout=300) as client:
            return [reply.status_code for reply in await asyncio.gather(*(client.post(f"http://127.0.0.1:{port}/predict", files=body) for _ in range(requests)))]

    statuses = asyncio.run(send())
    _, peak = memory(process.pid)
    time.sleep(2)
    after, _ = memory(process.pid)
    stop(process)
    print(f"memory {label:33s} {requests} x {files} images: statuses {sorted(statuses)}; RSS {before} MB -> peak {peak} MB, {after} MB 2 s later", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("tflite", type=Path)
    parser.add_argument("onnx", type=Path)
    parser.add_argument("image", type=Path)
    parser.add_argument("--before", type=Path, help="a checkout of an earlier cnnbuild, measured the same way")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    versions = [("before", environment(args.before))] if args.before else []
    versions.append(("after", environment(None)))
    for when, env in versions:
        for name, model in (("TFLite", args.tflite), ("ONNX", args.onnx), ("Keras run", args.run_dir)):
            predict(f"{name}, {when}", model, args.image, env, args.runs)
    port = 8700
    for when, env in versions:
        for name, model in (("TFLite", args.tflite), ("ONNX", args.onnx), ("Keras run", args.run_dir)):
            for _ in range(2):
                port += 1
                serve(f"{name}, {when}", model, args.image, env, port)
    if args.before:
        burst("TFLite, before", args.tflite, environment(args.before), port + 1, 1, 2)
    burst("TFLite, after", args.tflite, environment(None), port + 2, 1, 2)
    burst("TFLite, after", args.tflite, environment(None), port + 3, 6, 4)
    burst("TFLite, after, budget 300 MB", args.tflite, environment(None), port + 4, 6, 4, "--memory-budget-mb", "300")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, check=True)
    print(f"import tensorflow {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
