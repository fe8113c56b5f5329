"""Serving benchmark: a bounded load test on 127.0.0.1 of `cnnbuild serve` against a naive server
that calls `model.predict` per request.

    python benchmarks/serve_load.py runs/digits [--requests 400] [--naive-requests 100] [--levels 1,8,32]

For each server (naive; cnnbuild serve on the run directory, on its TFLite export and on its ONNX
export; the TFLite export again with multipart uploads), a fixed number of POST /predict requests
is sent by N concurrent keep-alive clients (N = 1, 8, 32), after 10 warm-up requests. The client
is a minimal HTTP/1.1 client on asyncio streams in this process, so it takes as little of the
two cores as it can. Reported: requests/s, p50 and p99 latency, errors (any status but 200), the
server's resident memory before the first level and after each, and (cnnbuild) images per model
call. Payloads: scikit-learn digits as PNGs at the model's size, 50 different images in turn.
Servers are exported first when the export folders are missing. Results: benchmarks/results/serve-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.serve.server_process import Server, free_port  # noqa: E402  (the tests' starter: a free port, /health polling)


class NaiveServer(Server):
    def __init__(self, run: Path, log: Path) -> None:  # the same polling, another command
        import subprocess

        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as handle:
            self.process = subprocess.Popen([sys.executable, str(HERE / "naive_server.py"), str(run), "--port", str(self.port)], stdout=handle, stderr=subprocess.STDOUT)
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise TimeoutError(log.read_text()[-2000:])


def payloads(size: tuple[int, int], count: int = 50) -> list[bytes]:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    images = load_digits().images[:count]
    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(np.clip(np.round(image * 255 / 16), 0, 255).astype("uint8")).resize((size[1], size[0]), Image.BILINEAR).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def request_bytes(body: bytes, multipart: bool) -> bytes:
    if multipart:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"digit.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
    else:
        content_type = "image/png"
    return f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def one_client(port: int, requests: list[bytes], take: Any, latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (index := take()) is not None:
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(head.split(b" ")[1]))
    finally:
        writer.close()


async def load(port: int, requests: list[bytes], total: int, clients: int) -> dict[str, Any]:
    counter = iter(range(total))
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(one_client(port, requests, lambda: next(counter, None), latencies, statuses) for _ in range(clients)))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(ordered), "errors": sum(status != 200 for status in statuses), "requests_per_second": round(len(ordered) / wall, 1),
            "p50_ms": round(1000 * statistics.median(ordered), 1), "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)}  # fmt: skip


def measure(name: str, server: Server, requests: list[bytes], total: int, levels: list[int], cnnbuild: bool, soak: int = 0) -> list[dict[str, Any]]:
    """The load levels, then (``soak``) that many more requests at the last level, with the server's memory after each tenth."""
    import httpx

    rows = []
    try:
        asyncio.run(load(server.port, requests, 10, 1))  # warm-up
        memory_before = server.rss_kib()
        for clients in levels:
            before = httpx.get(server.url + "/metadata").json()["batching"] if cnnbuild else None
            row = asyncio.run(load(server.port, requests, total, clients))
            row.update(server=name, rss_before_mib=round(memory_before / 1024, 1), rss_after_mib=round(server.rss_kib() / 1024, 1))
            if cnnbuild:
                after = httpx.get(server.url + "/metadata").json()["batching"]
                row["images_per_call"] = round((after["images"] - before["images"]) / max(1, after["model_calls"] - before["model_calls"]), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
        if soak:
            memory = [round(server.rss_kib() / 1024, 1)]
            for _ in range(10):
                row = asyncio.run(load(server.port, requests, soak // 10, levels[-1]))
                memory.append(round(server.rss_kib() / 1024, 1))
                errors = row["errors"]
            rows.append({"server": name, "soak_requests": soak, "clients": levels[-1], "rss_mib_every_tenth": memory, "errors_last_tenth": errors})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--naive-requests", type=int, default=100)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--only", default="naive,run,tflite,onnx,tflite-multipart")
    parser.add_argument("--soak", type=int, default=0, help="after the levels, this many more requests to the TFLite server, its memory after each tenth")
    args = parser.parse_args()
    from benchmarks.machine import describe_machine
    from cnnbuild.runs.record import RunRecord

    record = RunRecord.open(args.run)
    levels = [int(level) for level in args.levels.split(",")]
    raw = [request_bytes(body, multipart=False) for body in payloads(tuple(record.spec.data.image_size))]
    multipart = [request_bytes(body, multipart=True) for body in payloads(tuple(record.spec.data.image_size))]
    logs = HERE / "results" / "serve-logs"
    logs.mkdir(parents=True, exist_ok=True)
    for format in ("tflite", "onnx"):
        if format in args.only and not (args.run / "exports" / format / "export.json").exists():
            from cnnbuild.export.exporter import export_run

            export_run(args.run, format)
    rows: list[dict[str, Any]] = []
    wanted = args.only.split(",")
    if "naive" in wanted:
        rows += measure("naive model.predict", NaiveServer(args.run, logs / "naive.log"), raw, args.naive_requests, levels, cnnbuild=False)
    servers = {"run": ("cnnbuild serve RUN_DIR (TensorFlow)", args.run, raw), "tflite": ("cnnbuild serve tflite export", args.run / "exports" / "tflite", raw),
               "onnx": ("cnnbuild serve onnx export", args.run / "exports" / "onnx", raw),
               "tflite-multipart": ("cnnbuild serve tflite export, multipart", args.run / "exports" / "tflite", multipart)}  # fmt: skip
    for key, (name, model, requests) in servers.items():
        if key in wanted:
            rows += measure(name, Server(model, logs / f"{key}.log"), requests, args.requests, levels, cnnbuild=True, soak=args.soak if key == "tflite" else 0)
    print("\n| server | clients | requests | req/s | p50 ms | p99 ms | errors | images / call | RSS MiB before -> after |\n|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "soak_requests" in row:
            continue
        print(f"| {row['server']} | {row['clients']} | {row['requests']} | {row['requests_per_second']} | {row['p50_ms']} | {row['p99_ms']} | {row['errors']} | {row.get('images_per_call', '-')} | {row['rss_before_mib']} -> {row['rss_after_mib']} |")
    for row in rows:
        if "soak_requests" in row:
            print(f"\n{row['server']}: {row['soak_requests']} more requests at {row['clients']} clients, resident MiB after each tenth: {row['rss_mib_every_tenth']}")
    target = HERE / "results" / f"serve-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps({"machine": describe_machine(probe_gpu=False), "run": str(args.run), "rows": rows}, indent=1), encoding="utf-8")
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
