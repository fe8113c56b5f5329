"""`cnnbuild serve` held to its limits by real servers on 127.0.0.1: the memory budget against
decompression-amplifying uploads, slow clients (slowloris) under a low descriptor limit, one bad
file among good ones, a port in use, Ctrl-C, and a TFLite server that never imports TensorFlow."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import digit_pngs
from ..export import no_tensorflow
from .server_process import Server, free_port

pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")


def png(width: int, height: int, mode: str = "1") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> list[Path]:
    return digit_pngs(tmp_path_factory.mktemp("limit-images"), count=3)


def test_a_tflite_server_never_imports_tensorflow_is_warm_when_ready_and_stops_on_ctrl_c(served_tflite, digits, tmp_path):
    server = Server(served_tflite, tmp_path / "serve.log", without_tensorflow=True)
    try:
        meta = httpx.get(server.url + "/metadata").json()
        assert meta["path"] == "model.tflite"  # the file's name, not where it lives on the server
        assert meta["batching"]["model_calls"] >= 1  # the warm-up request went through before /health answered
        reply = httpx.post(server.url + "/predict", content=digits[0].read_bytes(), headers={"content-type": "image/png"}, timeout=30)
        assert reply.status_code == 200 and len(reply.json()["predictions"][0]["top"]) == 5
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        server.stop()
    log = server.log.read_text()
    assert log.splitlines()[-1] == "cnnbuild serve stopped" and "Traceback" not in log and "is blocked" not in log, log


def test_one_bad_file_among_good_ones_is_answered_beside_them(served_tflite, digits, tmp_path):
    server = Server(served_tflite, tmp_path / "serve.log", "--max-megapixels", "1")
    try:
        files = [("file", ("one.png", digits[0].read_bytes(), "image/png")), ("file", ("notes.txt", b"not an image", "text/plain")),
                 ("file", ("huge.png", png(2000, 1000), "image/png")), ("file", ("two.png", digits[1].read_bytes(), "image/png"))]  # fmt: skip
        reply = httpx.post(server.url + "/predict", files=files, timeout=60)
        assert reply.status_code == 200, reply.text
        rows = reply.json()["predictions"]
        assert [row["filename"] for row in rows] == ["one.png", "notes.txt", "huge.png", "two.png"]
        assert "top" in rows[0] and "top" in rows[3]
        assert rows[1]["error"]["code"] == "not_an_image" and rows[1]["error"]["message"].startswith("notes.txt: not an image")
        assert (rows[2]["error"]["code"], rows[2]["error"]["status"]) == ("image_too_large", 413)
        only_bad = httpx.post(server.url + "/predict", files=files[1:2], timeout=60)  # nothing usable: the file's own error
        assert (only_bad.status_code, only_bad.json()["error"]["code"]) == (400, "not_an_image")
    finally:
        server.stop()


def test_the_memory_budget_caps_decoded_pixels_across_requests_and_memory_returns(served_tflite, tmp_path):
    """Six requests at once, each with four 7000x7000 PNGs of a few KB (49 megapixels each, about
    100 MB each while decoding): without a budget six decode side by side (600 MB and more); with a
    300 MB budget one decodes at a time and the others wait (or get 503 with Retry-After), and the
    memory goes back after the burst."""
    server = Server(served_tflite, tmp_path / "serve.log", "--memory-budget-mb", "300", "--max-files", "4")
    bomb = png(7000, 7000)
    try:
        before = server.rss_kib()

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                files = [("file", (f"{i}.png", bomb, "image/png")) for i in range(4)]
                return await asyncio.gather(*(client.post("/predict", files=files) for _ in range(6)))

        replies = asyncio.run(burst())
        peak = server.rss_kib("VmHWM")
        for reply in replies:
            assert reply.status_code in (200, 503), reply.text
            if reply.status_code == 503:
                assert reply.headers["retry-after"] == "2" and reply.json()["error"]["code"] == "busy"
        assert any(reply.status_code == 200 for reply in replies)
        memory = httpx.get(server.url + "/metadata").json()["memory"]
        assert memory["peak_bytes"] <= memory["limit_bytes"] == 300_000_000
        assert (peak - before) * 1024 < 350_000_000, f"the server grew by {(peak - before) / 1024:.0f} MB"
        time.sleep(1.5)  # idle: the freed memory is handed back
        assert (server.rss_kib() - before) * 1024 < 100_000_000, f"still {(server.rss_kib() - before) / 1024:.0f} MB above its start after the burst"
    finally:
        server.stop()


def test_slow_clients_cannot_lock_the_server_out_nor_flood_its_log(served_tflite, tmp_path):
    """Under a descriptor limit of 200, 260 connections that never finish their request head (and one
    that never finishes its body): /health keeps answering, the stuck connections are closed after the
    header timeout, the log says so in a few lines."""
    server = Server(served_tflite, tmp_path / "serve.log", "--header-timeout-s", "2", "--body-timeout-s", "2", open_files=200)
    stuck: list[socket.socket] = []
    try:
        for _ in range(260):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            stuck.append(sock)
        slow_body = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        slow_body.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" + b"\x89PNG")
        started = time.monotonic()
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200
        assert time.monotonic() - started < 3
        time.sleep(3.5)  # past both timeouts
        assert all(closed_by_server(sock) for sock in [*stuck, slow_body])
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200
        connections = httpx.get(server.url + "/metadata").json()["connections"]
        assert connections["limit"] == 72  # 200 descriptors, 128 kept for everything else
        assert connections["closed"]["body_timeout"] == 1 and connections["closed"]["header_timeout"] + connections["closed"]["over_limit"] >= 260
    finally:
        for sock in stuck:
            sock.close()
        server.stop()
    lines = server.log.read_text().splitlines()
    assert len(lines) < 12 and not any("Too many open files" in line or "Traceback" in line for line in lines), lines


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (after a 503 or nothing), as the client sees it."""
    sock.settimeout(0.5)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_a_port_in_use_is_refused_before_tensorflow_loads(tiny_digits_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = no_tensorflow.run("serve", str(tiny_digits_run), "--port", str(port))  # a run's Keras model would need TensorFlow
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert result.stderr == f"port {port} on 127.0.0.1 is in use by another program (another cnnbuild serve?); choose another --port\n"


def test_the_port_is_free_again_after_a_server_stops(served_tflite, tmp_path):
    port = free_port()
    for _ in range(2):
        process = subprocess.Popen(no_tensorflow.command("serve", str(served_tflite), "--port", str(port)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=15)[0]
        assert process.returncode == 0 and "cnnbuild serve stopped" in output, output


def test_slow_uploads_hold_only_the_bytes_they_sent_so_others_are_still_answered(served_tflite, digits, tmp_path):
    """Two clients claim 20 MB bodies (the whole 40 MB budget) and send a few bytes: the budget holds
    what arrived, not what was claimed, so a third client's small PNG is answered at once."""
    server = Server(served_tflite, tmp_path / "serve.log", "--memory-budget-mb", "40", "--max-body-mb", "20")
    slow = []
    try:
        for _ in range(2):
            client = socket.create_connection(("127.0.0.1", server.port))
            client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 20000000\r\n\r\n" + b"\x89PNG" * 256)
            slow.append(client)
        time.sleep(1.0)
        memory = httpx.get(server.url + "/metadata").json()["memory"]
        assert 0 < memory["used_bytes"] <= 2 * 1024 + 64 * 1024, memory  # what the slow clients sent, not the 40 MB they claimed
        reply = httpx.post(server.url + "/predict", content=digits[0].read_bytes(), headers={"content-type": "image/png"}, timeout=30)
        assert reply.status_code == 200, reply.text
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as over:  # a claim over --max-body-mb: 413 at once, nothing read
            over.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 50000000\r\n\r\n")
            assert over.recv(100).startswith(b"HTTP/1.1 413")
    finally:
        for client in slow:
            client.close()
        server.stop()
