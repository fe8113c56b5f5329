"""`cnnbuild serve` beyond single-label: a segmentation export answers with its mask (base64 PNG
in JSON with each class's share of the pixels, or the PNG itself with ?format=png), served by the
real server on a free localhost port without TensorFlow; the page overlays the mask on the image
(segmentation) and lists the labels (multi-label), opened in headless Chromium."""

from __future__ import annotations

import base64
import io
import shutil
import textwrap
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from ..conftest import shared_once
from .server_process import Server

pytest.importorskip("starlette", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")
CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)

MULTI_LABEL = """
name: multilabel
seed: 2
task: multi_label
data: {type: shapes, count: 48, image_size: [16, 16], batch_size: 16}
train: {epochs: 1, verbose: quiet, precision: float32}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
    - GlobalAveragePooling2D
    - {type: Dense, units: auto, activation: sigmoid}
"""


@pytest.fixture(scope="module")
def seg_server(segmentation_tflite, tmp_path_factory):
    server = Server(segmentation_tflite, tmp_path_factory.mktemp("seg-server") / "serve.log", without_tensorflow=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A 24x20 PNG (not the model's 16x16), drawn by the segmentation source's generator."""
    from cnnbuild.plugins.builtin.segmentation_sources import ShapeMasksParams, generate_masks

    images, _ = generate_masks(ShapeMasksParams(count=8, image_size=(20, 24)), 5)
    path = tmp_path_factory.mktemp("seg-photo") / "photo.png"
    Image.fromarray(np.asarray(images[0], "uint8")).save(path)
    return path


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_a_segmentation_export_answers_with_its_mask_as_json_or_png(seg_server, segmentation_tflite, photo, tmp_path):
    from cnnbuild.export.prediction import predict_images

    meta = httpx.get(seg_server.url + "/metadata").json()
    assert meta["output"]["task"] == "segmentation" and meta["output"]["mask_size"] == [16, 16] and meta["class_names"] == ["background", "circle", "square"]
    files = [("file", ("photo.png", photo.read_bytes(), "image/png")), ("file", ("broken.png", b"not a png", "image/png"))]
    reply = httpx.post(seg_server.url + "/predict", files=files, timeout=60)
    assert reply.status_code == 200, reply.text
    answer, broken = reply.json()["predictions"]
    assert set(answer) == {"filename", "mask", "mask_size", "classes"} and answer["mask_size"] == [20, 24]
    assert broken["filename"] == "broken.png" and broken["error"]["code"] == "not_an_image"
    mask = decoded(base64.b64decode(answer["mask"]))
    assert mask.mode == "P" and mask.size == (24, 20)
    pixels = np.asarray(mask)
    shares = {name: float(np.mean(pixels == index)) for index, name in enumerate(meta["class_names"])}
    assert answer["classes"] == pytest.approx(shares, abs=0.03)  # shares of the model's 16x16 map, drawn at 24x20
    (predicted,) = predict_images(segmentation_tflite, [photo], masks_out=tmp_path)  # the same mask and shares as predict gives
    with Image.open(predicted["mask"]) as written:
        assert np.mean(np.asarray(written) == pixels) >= 0.99
    assert answer["classes"] == pytest.approx(predicted["classes"], abs=0.01)
    raw = httpx.post(seg_server.url + "/predict?format=png", content=photo.read_bytes(), headers={"content-type": "image/png"}, timeout=60)
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(decoded(raw.content)), pixels)
    several = httpx.post(seg_server.url + "/predict?format=png", files=files, timeout=60)
    assert several.status_code == 400 and several.json()["error"]["code"] == "bad_format"
    broken = httpx.post(seg_server.url + "/predict?format=png", files=[("file", ("a.png", b"not a png")), ("file", ("b.png", b"nor this"))], timeout=60)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_format"  # the count is checked before any upload is decoded
    assert broken.json()["error"]["message"] == "format=png answers with one image's mask, and the request holds 2 files; send one, or leave format out for JSON"
    unknown = httpx.post(seg_server.url + "/predict?format=gif", content=photo.read_bytes(), headers={"content-type": "image/png"}, timeout=60)
    assert unknown.status_code == 400 and unknown.json()["error"]["message"] == "format must be json or png, got 'gif'"
    assert httpx.get(seg_server.url + "/health").json() == {"status": "ok"}  # still serving
    assert "format" in [parameter["name"] for parameter in httpx.get(seg_server.url + "/openapi.json").json()["paths"]["/predict"]["post"]["parameters"]]


def test_format_png_is_refused_for_a_model_without_masks():
    from cnnbuild.serve.masks import answer_format
    from cnnbuild.serve.problems import ApiError

    assert answer_format(None, False) == answer_format("json", True) == "json" and answer_format("png", True) == "png"
    with pytest.raises(ApiError, match="format=png answers with a mask, which only a segmentation model gives"):
        answer_format("png", False)


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install -y chromium) to open the page")
def test_the_page_overlays_the_mask_on_the_image_in_headless_chromium(seg_server, photo, tmp_path):
    from .browser import Browser

    expected = httpx.post(seg_server.url + "/predict", content=photo.read_bytes(), headers={"content-type": "image/png"}, timeout=60).json()["predictions"][0]
    browser = Browser(CHROMIUM, tmp_path / "profile", seg_server.url + "/")
    try:
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('file')")
        subtitle = browser.evaluate("document.querySelector('p.muted').textContent")
        browser.set_files("#file", [photo])
        browser.evaluate("document.getElementById('form').requestSubmit()")
        browser.wait_for("(() => { const m = document.querySelector('.overlay img.mask'); return m && m.complete && m.naturalWidth > 0; })()")
        shown = browser.evaluate("""(() => {
            const frame = document.querySelector('.overlay'), photo = frame.querySelector('img:not(.mask)'), mask = frame.querySelector('img.mask');
            const a = photo.getBoundingClientRect(), b = mask.getBoundingClientRect();
            return {size: [mask.naturalWidth, mask.naturalHeight], photo: photo.complete && photo.naturalWidth, blend: getComputedStyle(mask).mixBlendMode,
                    same_place: a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height,
                    rows: [...document.querySelectorAll('.prediction .class')].map(e => e.textContent),
                    swatches: [...document.querySelectorAll('.prediction .swatch')].map(e => getComputedStyle(e).backgroundColor)};
        })()""")
        browser.screenshot(tmp_path / "page.png")
    finally:
        browser.close()
    assert subtitle.startswith("Predicts one class per pixel: background, circle, square.")
    assert shown["size"] == [24, 20] and shown["photo"] == 24 and shown["blend"] == "screen" and shown["same_place"]
    assert shown["rows"] == list(expected["classes"]) == ["background", "circle", "square"]
    assert shown["swatches"] == ["rgb(0, 0, 0)", "rgb(31, 119, 180)", "rgb(255, 127, 14)"]  # the mask PNG's palette colours


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install -y chromium) to open the page")
def test_the_legend_keeps_the_class_order_and_colours_of_numeric_class_names_in_headless_chromium(photo, tmp_path):
    """A reply's ``classes`` object, parsed by the browser, lists names such as "10" and "2" in numeric
    order; each legend row must still show its own class's colour, in the model's class order."""
    from cnnbuild.contracts.tasks import task_named
    from cnnbuild.serve.page import index_page

    from .browser import Browser

    names = ["10", "2", "1", "</script>"]
    colours = ["#000000", "#1f77b4", "#ff7f0e", "#2ca02c"]
    (tmp_path / "page.html").write_text(index_page("numbers", names, (16, 16), task_named("segmentation"), colours), encoding="utf-8")
    mask = base64.b64encode(photo.read_bytes()).decode()
    reply = '{"predictions": [{"filename": "x.png", "mask": "%s", "classes": {"10": 0.4, "2": 0.3, "1": 0.2, "</script>": 0.1}}]}' % mask
    browser = Browser(CHROMIUM, tmp_path / "profile", (tmp_path / "page.html").as_uri())
    try:
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('file')")
        browser.evaluate("window.fetch = async () => new Response(%s, {status: 200, headers: {'content-type': 'application/json'}}); true" % repr(reply))
        browser.evaluate("classify([new File([new Uint8Array([137, 80, 78, 71])], 'x.png', {type: 'image/png'})]); true")
        browser.wait_for("document.querySelectorAll('.prediction .swatch').length === 4")
        shown = browser.evaluate("""(() => ({rows: [...document.querySelectorAll('.prediction .class')].map(e => e.textContent),
            shares: [...document.querySelectorAll('.prediction > span:last-child')].map(e => e.textContent),
            swatches: [...document.querySelectorAll('.prediction .swatch')].map(e => getComputedStyle(e).backgroundColor)}))()""")
    finally:
        browser.close()
    assert shown["rows"] == names and shown["shares"] == ["40.0%", "30.0%", "20.0%", "10.0%"]
    assert shown["swatches"] == ["rgb(0, 0, 0)", "rgb(31, 119, 180)", "rgb(255, 127, 14)", "rgb(44, 160, 44)"]


@pytest.fixture(scope="module")
def multi_label_run(tmp_path_factory) -> Path:
    def train(root: Path) -> None:
        from cnnbuild.builder.training import run

        spec = root / "multilabel.yaml"
        spec.write_text(textwrap.dedent(MULTI_LABEL).lstrip(), encoding="utf-8")
        run(spec, output=root / "run")

    return shared_once(tmp_path_factory, "serve-multilabel", train) / "run"


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install -y chromium) to open the page")
def test_the_page_lists_a_multi_label_models_labels_in_headless_chromium(multi_label_run, tmp_path):
    from cnnbuild.plugins.builtin.synthetic_shapes import ShapesParams, generate

    from .browser import Browser

    images, _, _ = generate(ShapesParams(count=8, image_size=(16, 16)), "multi_label", seed=99)
    picture = tmp_path / "shapes.png"
    Image.fromarray(images[0]).save(picture)
    server = Server(multi_label_run, tmp_path / "serve.log")
    try:
        expected = httpx.post(server.url + "/predict", content=picture.read_bytes(), headers={"content-type": "image/png"}, timeout=60).json()["predictions"][0]
        browser = Browser(CHROMIUM, tmp_path / "profile", server.url + "/")
        try:
            browser.wait_for("document.readyState === 'complete' && !!document.getElementById('file')")
            subtitle = browser.evaluate("document.querySelector('p.muted').textContent")
            browser.set_files("#file", [picture])
            browser.evaluate("document.getElementById('form').requestSubmit()")
            rows = browser.wait_for("document.querySelectorAll('.prediction .class').length && [...document.querySelectorAll('.prediction .class')].map(e => e.textContent)")
            overlays = browser.evaluate("document.querySelectorAll('.overlay').length")
        finally:
            browser.close()
    finally:
        server.stop()
    present = {label["label"] for label in expected["labels"]}
    assert subtitle.startswith("Predicts any number of labels per image (each present or not): circle, square, triangle.")
    assert rows == [("\u2713 " if name in present else "") + name for name in expected["probabilities"]] and len(rows) == 3
    assert overlays == 0


def test_serving_the_run_folder_gives_the_exports_masks(tiny_segmentation_run, segmentation_tflite, photo):
    from starlette.testclient import TestClient

    from cnnbuild.export.location import open_model
    from cnnbuild.serve.app import create_app

    answers = []
    for path in (tiny_segmentation_run, segmentation_tflite):
        with TestClient(create_app(open_model(path))) as client:
            reply = client.post("/predict", files={"file": ("photo.png", photo.read_bytes(), "image/png")})
            assert reply.status_code == 200, reply.text
            answers.append(reply.json()["predictions"][0])
            assert client.get("/metadata").json()["format"] == ("keras" if path == tiny_segmentation_run else "tflite")
    from_run, from_export = answers
    assert from_run["mask_size"] == from_export["mask_size"] == [20, 24]
    same = np.mean(np.asarray(decoded(base64.b64decode(from_run["mask"]))) == np.asarray(decoded(base64.b64decode(from_export["mask"]))))
    assert same >= 0.99 and from_run["classes"] == pytest.approx(from_export["classes"], abs=0.01)


def test_a_mask_answer_holds_its_outputs_and_masks_in_the_memory_budget(segmentation_tflite):
    from starlette.testclient import TestClient

    from cnnbuild.export.location import open_model
    from cnnbuild.serve.app import create_app
    from cnnbuild.serve.budget import MODEL_COPIES
    from cnnbuild.serve.masks import answer_bytes

    model = open_model(segmentation_tflite)
    rng = np.random.default_rng(3)
    files = []
    for index in range(3):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(buffer, "PNG")
        files.append(("file", (f"{index}.png", buffer.getvalue(), "image/png")))
    with TestClient(create_app(model)) as client:
        reply = client.post("/predict", files=files)
        memory = client.get("/metadata").json()["memory"]
    assert reply.status_code == 200 and [answer["mask_size"] for answer in reply.json()["predictions"]] == [[40, 48]] * 3
    assert answer_bytes((48, 40), model.info) == 16 * 16 * (4 * 3 + 8) + 6 * 48 * 40  # the float32 outputs and their argmax, then the masks
    held = 3 * 40 * 48 * 3 * MODEL_COPIES + 3 * answer_bytes((48, 40), model.info)  # the decoded pixels and, beside them, the masks' bytes
    assert memory["peak_bytes"] >= held and memory["used_bytes"] == 0
