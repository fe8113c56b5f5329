"""`cnnbuild report` and `cnnbuild compare` on two finished tiny runs; the report is opened in headless Chromium."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cnnbuild.builder.reports.compare import compare_runs, short_labels
from cnnbuild.builder.reports.html_report import render_report, write_report
from cnnbuild.builder.training import run
from cnnbuild.cli import cli
from cnnbuild.errors import RunError

from ..conftest import SMALL_MODEL, make_images
from ..image_checks import assert_png

CLASSES = ["circles", "squares", "stripes"]
HEADINGS = ["Results", "Training curves", "Confusion matrix", "Per-class metrics", "Misclassified validation images", "Model", "Spec", "Environment"]
CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """Two finished runs of the same data: one epoch and two epochs."""
    root = tmp_path_factory.mktemp("reports")
    folder = make_images(root / "images", {name: 8 for name in CLASSES})
    paths = []
    for epochs in (1, 2):
        spec = root / f"tiny{epochs}.yaml"
        spec.write_text(
            f"name: tiny{epochs}\nseed: 2\n"
            f"data: {{type: image_directory, path: {folder}, image_size: [16, 16], batch_size: 8, validation_split: 0.25}}\n"
            f"{SMALL_MODEL.strip()}\ntrain: {{epochs: {epochs}, verbose: quiet}}\n",
            encoding="utf-8",
        )
        run(spec, output=root / f"run{epochs}")
        paths.append(root / f"run{epochs}")
    return paths


class Page(HTMLParser):
    """Headings, images and table cells of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: dict[str, list[str]] = {"h1": [], "h2": []}
        self.images: list[dict[str, str]] = []
        self.cells: list[str] = []
        self.links: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("h1", "h2", "td"):
            self._in = tag
            if tag == "td":
                self.cells.append("")
            else:
                self.headings[tag].append("")
        if tag == "img":
            self.images.append(attributes)
        if tag in ("link", "script", "a") and (attributes.get("href") or attributes.get("src")):
            self.links.append(attributes.get("href") or attributes.get("src"))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "td":
            self.cells[-1] += data
        elif self._in in ("h1", "h2"):
            self.headings[self._in][-1] += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_report_is_one_self_contained_page(runs):
    path = write_report(runs[1])
    assert path == runs[1] / "report.html"
    text = path.read_text(encoding="utf-8")
    page = parse(text)
    assert page.headings["h1"] == ["tiny2: run report"]
    assert page.headings["h2"] == HEADINGS
    assert [image["alt"] for image in page.images] == ["Training curves", "Confusion matrix", "Misclassified validation images"]
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.links == []  # nothing fetched from elsewhere
    metrics = json.loads((runs[1] / "metrics.json").read_text())
    for row in metrics["per_class"]:
        index = page.cells.index(row["class"])
        assert page.cells[index + 1 : index + 5] == [f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"])]
    assert "macro avg" in page.cells
    assert "seed: 2" in text and "Total params" in text  # the spec and the model summary
    written = (runs[1].parent / "tiny2.yaml").read_text()
    assert (runs[1] / "spec.written.yaml").read_text() == written  # what the user wrote, kept with the run
    shown = text.split("<h2>Spec</h2>", 1)[1]
    assert shown.startswith(f'<p class="note">as written in {runs[1].parent / "tiny2.yaml"}</p><pre>{html.escape(written)}</pre>')
    assert "scale: 1/255" in shown.split("<details>")[0] and "scale: 0.00392156862745098" in shown.split("<details>")[1]  # as it ran: folded below
    assert "tensorflow" in page.cells and "keras" in page.cells  # the environment table


def test_report_of_an_unfinished_run_says_what_is_missing(runs, tmp_path):
    copy = tmp_path / "unfinished"
    shutil.copytree(runs[0], copy)
    for name in ("metrics.json", "curves.png", "confusion_matrix.png", "misclassified.png"):
        (copy / name).unlink()
    text = render_report(copy)
    assert "metrics.json is missing: the run has not finished." in text
    assert "curves.png is not in this run directory" in text and "<img" not in text
    with pytest.raises(RunError, match="spec.yaml is missing"):
        render_report(tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install -y chromium) to render the report")
def test_report_renders_in_headless_chromium(runs, tmp_path):
    from PIL import Image

    report = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", str(runs[0]), "--out", str(report)])
    assert result.exit_code == 0 and result.output.strip() == f"wrote {report}"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--hide-scrollbars", "--window-size=1200,2600",
    ]  # fmt: skip
    dom = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = parse(dom.stdout)
    assert page.headings["h1"] == ["tiny1: run report"] and page.headings["h2"] == HEADINGS
    assert len(page.images) == 3 and all(image["src"].startswith("data:image/png;base64,") for image in page.images)
    shot = tmp_path / "shot.png"
    done = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'profile-shot'}", f"--screenshot={shot}", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_png(shot, min_width=1200, min_height=2600, max_bytes=20_000_000)
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype="int32")
    # the curves' dark blue line and the confusion matrix's blue cells: only drawn if the embedded images decoded
    red, blue_channel = pixels[..., 0], pixels[..., 2]
    blue = int(((blue_channel > red + 60) & (blue_channel > 90)).sum())
    assert blue > 500, f"only {blue} blue pixels: the figures did not render"


def test_compare_table_and_overlaid_curves(runs, tmp_path):
    comparison = compare_runs(runs, tmp_path / "plots" / "compare.png")
    lines = comparison.table.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [
        "run", "differs", "val_accuracy final", "val_accuracy best (epoch)", "val_loss final", "val_loss best (epoch)", "params", "epochs", "wall s", "images/s",
    ]  # fmt: skip
    labels = short_labels(runs)
    assert [line.split()[0] for line in lines[1:]] == labels == [f"{runs[0].parent.name}/run1", f"{runs[0].parent.name}/run2"]
    assert lines[1].split()[-4:-2] == ["1,763", "1/1"] and lines[2].split()[-4:-2] == ["1,763", "2/2"]
    assert [line.split()[1:3] for line in lines[1:]] == [["name=tiny1,", "train.epochs=1"], ["name=tiny2,", "train.epochs=2"]]  # what tells them apart
    assert [run.differs for run in comparison.runs] == [{"name": "tiny1", "train.epochs": 1}, {"name": "tiny2", "train.epochs": 2}]
    metrics = json.loads((runs[1] / "metrics.json").read_text())
    assert f"{metrics['final']['val_accuracy']:.4f}" in lines[2]
    assert comparison.titles == ["Validation curves of 2 run(s)", "val accuracy", "val loss"]
    assert_png(tmp_path / "plots" / "compare.png")


def test_compare_cli_json_and_an_unfinished_run(runs, tmp_path):
    out = tmp_path / "c.png"
    result = CliRunner().invoke(cli, ["compare", *map(str, runs), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [row["epochs_run"] for row in data["runs"]] == [1, 2] and data["figure"] == str(out)
    assert all(row["params"] == 1763 for row in data["runs"])
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs[0], unfinished)
    (unfinished / "metrics.json").unlink()
    result = CliRunner().invoke(cli, ["compare", str(runs[0]), str(unfinished)])
    assert result.exit_code == 1
    assert "metrics.json is missing (run state: completed)" in result.output and f"--resume {unfinished}" in result.output


def test_params_from_an_older_runs_summary(tmp_path):
    from cnnbuild.runs import RunRecord

    (tmp_path / "summary.txt").write_text(" Total params: 85,066 (332.29 KB)\n Trainable params: 85,066")
    assert RunRecord(tmp_path).total_params == 85066
    (tmp_path / "summary.txt").write_text("no summary")
    assert RunRecord(tmp_path).total_params is None
