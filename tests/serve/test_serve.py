"""`cnnbuild serve`: the real server on a free localhost port, called with httpx and opened in
headless Chromium; bad input of every kind gets a JSON 4xx and the next request is served."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

import cnnbuild.export

from ..conftest import digit_pngs
from ..image_checks import assert_png
from .server_process import Server

pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")
CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def exported(served_tflite) -> Path:
    return served_tflite


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    server = Server(exported, tmp_path_factory.mktemp("server") / "serve.log", "--batch-wait-ms", "20", "--max-body-mb", "2", "--max-files", "4")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    return digit_pngs(tmp_path_factory.mktemp("serve-images"), count=6)


def png(width: int, height: int, mode: str = "L") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def test_it_binds_to_localhost_and_describes_itself(server, tiny_digits_run):
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]] if Path("/proc/net/tcp").exists() else []
    mine = [row[1] for row in listening if row[3] == "0A" and int(row[1].split(":")[1], 16) == server.port]
    assert mine in ([], ["0100007F:" + f"{server.port:04X}"])  # 127.0.0.1 only (when /proc tells)
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    meta = httpx.get(server.url + "/metadata").json()
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["model_name"] == "tinydigits" and meta["run_id"] == "run"
    assert meta["input"]["image_size"] == [8, 8] and meta["input"]["dtype"] == "uint8" and meta["input"]["channels"] == 1
    assert len(meta["model_version"]) == 12 and meta["runtime"].startswith("LiteRT") and meta["format"] == "tflite"
    assert meta["limits"]["max_body_bytes"] == 2_000_000 and meta["limits"]["max_files"] == 4
    document = httpx.get(server.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.") and set(document["paths"]) == {"/predict", "/health", "/metadata", "/"}
    docs = httpx.get(server.url + "/docs")
    assert docs.status_code == 200 and "<code>POST /predict</code>" in docs.text and 'href=openapi.json' in docs.text


def test_predict_raw_multipart_and_several_files_agree_with_predict(server, exported, images):
    expected = cnnbuild.export.predict_images(exported, images, top_k=10)
    raw = httpx.post(server.url + "/predict?top_k=2", content=images[0].read_bytes(), headers={"content-type": "image/png"}, timeout=60)
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert body["model"] == "tinydigits" and len(body["predictions"]) == 1
    assert [p["class"] for p in body["predictions"][0]["top"]] == [p["class"] for p in expected[0]["predictions"][:2]]
    several = httpx.post(server.url + "/predict", files=[("file", (path.name, path.read_bytes(), "image/png")) for path in images[:4]], timeout=60)
    assert several.status_code == 200, several.text
    rows = several.json()["predictions"]
    assert [row["filename"] for row in rows] == [path.name for path in images[:4]]
    for row, want in zip(rows, expected):
        assert len(row["top"]) == 5 and sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        for p in want["predictions"]:
            assert row["probabilities"][p["class"]] == pytest.approx(p["probability"], abs=1e-5)


def _bad_requests(images: list[Path]) -> list[tuple[str, dict, int, str]]:
    good = images[0].read_bytes()
    bomb = png(10_000, 10_000, "1")  # 100 megapixels in a few kilobytes
    return [
        ("not an image", {"content": b"this is not an image" * 10, "headers": {"content-type": "application/octet-stream"}}, 400, "not_an_image"),
        ("empty body", {"content": b"", "headers": {"content-type": "image/png"}}, 400, "empty_body"),
        ("empty file", {"files": {"file": ("empty.png", b"", "image/png")}}, 400, "empty_file"),
        ("100 megapixels", {"content": bomb, "headers": {"content-type": "image/png"}}, 413, "image_too_large"),
        ("wrong content type", {"json": {"image": "digit.png"}}, 415, "unsupported_media_type"),
        ("truncated file", {"content": good[: len(good) // 2], "headers": {"content-type": "image/png"}}, 400, "bad_image"),
        ("huge multipart upload", {"files": {"file": ("big.png", b"\0" * 3_000_000, "image/png")}}, 413, "body_too_large"),
        ("no file field", {"files": {"picture": ("d.png", good, "image/png")}}, 400, "no_file"),
        ("too many files", {"files": [("file", (f"{i}.png", good, "image/png")) for i in range(5)]}, 400, "bad_multipart"),
        ("bad top_k", {"content": good, "headers": {"content-type": "image/png"}, "params": {"top_k": "lots"}}, 400, "bad_top_k"),
    ]


def test_bad_input_gets_a_json_error_and_the_next_request_is_served(server, images):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for name, request, status, code in _bad_requests(images):
            response = client.post("/predict", **request)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code), (name, response.text)
            assert response.json()["error"]["message"], name
            after = client.post("/predict", content=images[1].read_bytes(), headers={"content-type": "image/png"})
            assert after.status_code == 200, (name, after.text)
        # a chunked body (no Content-Length) is counted as it arrives
        chunked = client.post("/predict", content=iter([b"\0" * 500_000] * 6), headers={"content-type": "application/octet-stream"})
        assert (chunked.status_code, chunked.json()["error"]["code"]) == (413, "body_too_large")
        assert client.get("/nothing-here").json()["error"]["code"] == "not_found"
        assert client.get("/predict").json()["error"]["code"] == "method_not_allowed"
        assert client.get("/health").status_code == 200
    assert server.process.poll() is None


def test_concurrent_requests_share_model_calls(server, images):
    before = httpx.get(server.url + "/metadata").json()["batching"]
    payloads = [path.read_bytes() for path in images]

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            async def one(i: int) -> int:
                reply = await client.post("/predict", content=payloads[i % len(payloads)], headers={"content-type": "image/png"})
                return reply.status_code

            return await asyncio.gather(*(one(i) for i in range(48)))

    assert asyncio.run(burst()) == [200] * 48
    after = httpx.get(server.url + "/metadata").json()["batching"]
    images_done, calls = after["images"] - before["images"], after["model_calls"] - before["model_calls"]
    assert images_done == 48 and calls < images_done, (calls, images_done)


def test_serving_a_run_directory_in_process(tiny_digits_run, images):
    """The run's Keras model behind the same app: answers equal `cnnbuild predict RUN_DIR`."""
    from cnnbuild.builder.inference import predict
    from cnnbuild.export.location import open_model
    from cnnbuild.serve import create_app

    expected = predict(tiny_digits_run, images[:3], top_k=10)
    app = create_app(open_model(tiny_digits_run))

    async def call() -> tuple[httpx.Response, dict]:
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            reply = await client.post("/predict", files=[("file", (path.name, path.read_bytes(), "image/png")) for path in images[:3]])
            return reply, (await client.get("/metadata")).json()

    reply, metadata = asyncio.run(call())
    assert reply.status_code == 200, reply.text
    assert metadata["runtime"] == "TensorFlow (Keras model)" and metadata["format"] == "keras"
    for row, want in zip(reply.json()["predictions"], expected):
        for p in want["predictions"]:
            assert row["probabilities"][p["class"]] == pytest.approx(p["probability"], abs=1e-5)


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install -y chromium) to open the page")
def test_the_page_classifies_a_dropped_image_in_headless_chromium(server, images, tmp_path):
    from PIL import Image

    from .browser import Browser

    expected = httpx.post(server.url + "/predict", content=images[2].read_bytes(), headers={"content-type": "image/png"}, timeout=60).json()["predictions"][0]["top"][0]["class"]
    browser = Browser(CHROMIUM, tmp_path / "profile", server.url + "/")
    try:
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('file')")
        assert browser.evaluate("document.querySelector('h1').textContent") == "tinydigits"
        browser.set_files("#file", [images[2]])
        browser.evaluate("document.getElementById('form').requestSubmit()")
        shown = browser.wait_for("document.querySelector('.prediction .class') && document.querySelector('.prediction .class').textContent")
        bars = browser.evaluate("[...document.querySelectorAll('.prediction .bar')].map(b => b.style.width)")
        named = browser.evaluate("document.querySelector('.result .filename').textContent")
        shot = browser.screenshot(tmp_path / "page.png")
    finally:
        browser.close()
    assert shown == expected and len(bars) == 5 and all(width.endswith("%") for width in bars)
    assert named == images[2].name  # each result says which file it is
    assert_png(shot, min_width=800, min_height=600)
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype="int32")
    green = int(((pixels[..., 1] > pixels[..., 0] + 60) & (pixels[..., 1] > pixels[..., 2] + 30)).sum())
    assert green > 100, f"only {green} green pixels: the probability bars did not render"


def test_serve_without_its_packages_names_the_pip_command(tiny_digits_run, monkeypatch):
    from click.testing import CliRunner

    from cnnbuild.cli import cli

    monkeypatch.setitem(__import__("sys").modules, "uvicorn", None)
    result = CliRunner().invoke(cli, ["serve", str(tiny_digits_run)])
    assert result.exit_code == 1
    assert result.output == "cnnbuild serve needs uvicorn, which is not installed: pip install 'cnnbuild[serve]' (or pip install uvicorn)\n"


def test_help_does_not_import_tensorflow():
    import subprocess
    import sys

    script = "import sys\nfrom cnnbuild.cli import main\nfor command in ('export', 'serve', 'predict'):\n    try:\n        main([command, '--help'])\n    except SystemExit:\n        pass\nprint('tensorflow' in sys.modules, 'starlette' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "False False", done.stdout[-2000:] + done.stderr[-2000:]
    assert "--quantize [none|float16|dynamic|int8]" in done.stdout and "--host TEXT" in done.stdout
