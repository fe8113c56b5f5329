"""Hostile clients against `cnnbuild serve` on 127.0.0.1, bounded: slowloris (1,100 connections that never
finish their request head) under ulimit -n 1024, sixteen 7000x7000 PNGs of 6 KB each in one request,
eight concurrent 12-megapixel photos. One line per case (see RELIABILITY.md).

    python benchmarks/serve_hostile.py EXPORT       # for example runs/flowers/exports/tflite
"""
import asyncio
import io
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
from PIL import Image

MODEL = sys.argv[1]
LOGS = __import__('tempfile').mkdtemp(prefix='serve-hostile-')  # the servers' logs

def mem(pid):
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024

def start(port, log, *options, nofile=None):
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    p = subprocess.Popen([sys.executable, "-m", "cnnbuild", "serve", MODEL, "--port", str(port), *options], stdout=open(log, "w"), stderr=subprocess.STDOUT, preexec_fn=limit if nofile else None)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.1)

# 1. slowloris: 1,100 connections that never finish their request head, server under ulimit -n 1024
p = start(9001, LOGS + "/slowloris.log", nofile=1024)
stuck = []
for _ in range(1100):
    s = socket.create_connection(("127.0.0.1", 9001), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    stuck.append(s)
health = []
t0 = time.time()
while time.time() - t0 < 20:
    t = time.perf_counter()
    try:
        ok = httpx.get("http://127.0.0.1:9001/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        ok = False
    health.append((ok, (time.perf_counter() - t) * 1000))
    time.sleep(0.5)
open_now = 0
for s in stuck:
    s.settimeout(0.2)
    try:
        if s.recv(10) != b"":
            open_now += 1
    except ConnectionResetError:
        pass
    except TimeoutError:
        open_now += 1
meta = httpx.get("http://127.0.0.1:9001/metadata").json()["connections"]
p.send_signal(signal.SIGINT); p.wait()
for s in stuck: s.close()
print(f"slowloris: 1100 stuck connections, ulimit -n 1024: /health {sum(ok for ok, _ in health)}/{len(health)} answered over 20 s, slowest {max(ms for _, ms in health):.0f} ms; "
      f"stuck connections still open after 20 s: {open_now}; closed {meta['closed']}, limit {meta['limit']}; log {os.path.getsize(LOGS + '/slowloris.log')} bytes, {len(open(LOGS + '/slowloris.log').read().splitlines())} lines", flush=True)

# 2. sixteen 7000x7000 PNGs (6 KB each) in one request
buffer = io.BytesIO(); Image.new("1", (7000, 7000)).save(buffer, "PNG"); bomb = buffer.getvalue()
p = start(9002, LOGS + "/bombs.log")
rss0, _ = mem(p.pid)
r = httpx.post("http://127.0.0.1:9002/predict", files=[("file", (f"{i}.png", bomb, "image/png")) for i in range(16)], timeout=300)
rss1, hwm = mem(p.pid); time.sleep(2); rss2, _ = mem(p.pid)
print(f"16 x 7000x7000 PNG in one request: {r.status_code}, RSS {rss0} -> peak {hwm} MB, {rss2} MB 2 s later", flush=True)
p.send_signal(signal.SIGINT); p.wait()

# 3. eight concurrent 12-megapixel photos (4000x3000 JPEG, quality 90)
photo = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
photo = np.asarray(Image.fromarray(photo).resize((500, 375)).resize((4000, 3000), Image.BICUBIC))  # smooth, as photos are
buffer = io.BytesIO(); Image.fromarray(photo).save(buffer, "JPEG", quality=90); jpeg = buffer.getvalue()
p = start(9003, LOGS + "/photos.log")
rss0, _ = mem(p.pid)
async def eight():
    async with httpx.AsyncClient(timeout=300) as c:
        return await asyncio.gather(*(c.post("http://127.0.0.1:9003/predict", content=jpeg, headers={"content-type": "image/jpeg"}) for _ in range(8)))
t = time.time(); rs = asyncio.run(eight()); took = time.time() - t
rss1, hwm = mem(p.pid); time.sleep(2); rss2, _ = mem(p.pid)
print(f"8 concurrent 12 MP JPEGs ({len(jpeg) // 1000} KB each): {sorted(x.status_code for x in rs)} in {took:.2f} s, RSS {rss0} -> peak {hwm} MB, {rss2} MB 2 s later", flush=True)
p.send_signal(signal.SIGINT); p.wait()
