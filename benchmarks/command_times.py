"""Each command's whole-process time (start to exit, as a person waits for it), with TensorFlow's
import time measured between them, for a checkout and optionally an earlier one (``--before``).

For each checkout it trains a tiny digits run and exports it to TFLite and ONNX first (not timed), then times, one
after the other and ``--runs`` times each: validate, summary, predict (Keras, TFLite, ONNX),
evaluate, export, serve (until /health answers, then the first request) and a one-epoch run.

    python benchmarks/command_times.py --runs 2 --before /path/to/earlier/checkout --out /tmp/commands.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def environment(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "2"}


def timed(argv: list[str], env: dict[str, str], *, ok: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=env["PYTHONPATH"])  # python -m puts the folder it starts in first
    seconds = time.perf_counter() - started
    if ok and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-1500:]}")
    return seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(model: Path, image: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from start until /health answers, and the first request's seconds."""
    import httpx

    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cnnbuild", "serve", str(model), "--port", str(port)], env=env, cwd=env["PYTHONPATH"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server exited")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        ready = time.perf_counter() - started
        began = time.perf_counter()
        response = httpx.post(f"http://127.0.0.1:{port}/predict", files={"file": (image.name, image.read_bytes(), "image/png")}, timeout=120)
        response.raise_for_status()
        return ready, time.perf_counter() - began
    finally:
        process.terminate()
        process.wait(30)


def prepare(folder: Path, env: dict[str, str]) -> dict[str, Path]:
    from PIL import Image
    from sklearn.datasets import load_digits

    run = folder / "run"
    cli = [sys.executable, "-m", "cnnbuild"]
    timed([*cli, "run", "examples/digits.yaml", "--set", "train.epochs=2", "--output", str(run), "--verbose", "quiet"], env)
    timed([*cli, "export", str(run), "--format", "tflite", "--out", str(folder / "tflite"), "--latency-runs", "2"], env)
    timed([*cli, "export", str(run), "--format", "onnx", "--out", str(folder / "onnx"), "--latency-runs", "2"], env)
    image = folder / "digit.png"
    Image.fromarray((load_digits().images[0] * 255 / 16).astype("uint8")).resize((16, 16)).save(image)
    return {"run": run, "tflite": folder / "tflite", "onnx": folder / "onnx", "image": image}


def measure(checkout: Path, files: dict[str, Path], folder: Path, runs: int) -> dict[str, list[float]]:
    env = environment(checkout)
    cli = [sys.executable, "-m", "cnnbuild"]
    commands = {
        "validate examples/flowers.yaml": [*cli, "validate", "examples/flowers.yaml"],
        "summary examples/flowers.yaml --num-classes 5": [*cli, "summary", "examples/flowers.yaml", "--num-classes", "5"],
        "predict, Keras run": [*cli, "predict", str(files["run"]), str(files["image"])],
        "predict, TFLite export": [*cli, "predict", str(files["tflite"]), str(files["image"])],
        "predict, ONNX export": [*cli, "predict", str(files["onnx"]), str(files["image"])],
        "evaluate (validation split)": [*cli, "evaluate", str(files["run"]), "--out", str(folder / "evaluation")],
        "export tflite": None,
        "run examples/digits.yaml, 1 epoch": None,
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    times |= {"serve TFLite: ready": [], "serve TFLite: first request": [], 'python -c "import tensorflow"': []}
    for index in range(runs):
        times['python -c "import tensorflow"'].append(timed([sys.executable, "-c", "import tensorflow"], env))
        for name, argv in commands.items():
            if name == "export tflite":
                argv = [*cli, "export", str(files["run"]), "--format", "tflite", "--out", str(folder / f"export-{checkout.name}-{index}"), "--latency-runs", "2"]
            if name.startswith("run "):
                argv = [*cli, "run", "examples/digits.yaml", "--set", "train.epochs=1", "--output", str(folder / f"run-{checkout.name}-{index}"), "--verbose", "quiet"]
            times[name].append(timed(argv, env))
        ready, first = serve(files["tflite"], files["image"], env)
        times["serve TFLite: ready"].append(ready)
        times["serve TFLite: first request"].append(first)
        times['python -c "import tensorflow"'].append(timed([sys.executable, "-c", "import tensorflow"], env))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--before", type=Path, help="an earlier checkout, measured the same way")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cnnbuild-command-times-"))
    checkouts = {"after": REPO, **({"before": args.before.resolve()} if args.before else {})}
    result: dict[str, object] = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average_before": os.getloadavg(), "runs": args.runs}
    for label, checkout in checkouts.items():
        (folder / label).mkdir()
        files = prepare(folder / label, environment(checkout))  # each release on a run and exports of its own (an older one may not read a newer run)
        times = measure(checkout, files, folder / label, args.runs)
        tensorflow = statistics.median(times['python -c "import tensorflow"'])
        result[label] = {
            name: {"median_s": round(statistics.median(values), 2), "all_s": [round(v, 2) for v in values], "of_tensorflow_import": round(statistics.median(values) / tensorflow, 3)}
            for name, values in times.items()
        }
        for name, row in result[label].items():  # type: ignore[union-attr]
            print(f"{label:6s} {name:48s} {row['median_s']:7.2f} s  {row['of_tensorflow_import']:.3f}x TF import", flush=True)
    result["load_average_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
