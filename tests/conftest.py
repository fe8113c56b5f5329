"""Shared fixtures: tiny generated image folders and spec files, and a clean plugin state."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Downloads and the scan index go to a folder of this test session's, not the user's cache.
os.environ.setdefault("CNNBUILD_CACHE_DIR", tempfile.mkdtemp(prefix="cnnbuild-test-cache-"))

REPO = Path(__file__).resolve().parent.parent
FLOWERS = REPO.parent / "shared" / "data" / "flowers"


def make_images(folder: Path, classes: dict[str, int], *, size: tuple[int, int] = (24, 24), formats: tuple[str, ...] = ("JPEG", "PNG"), seed: int = 0) -> Path:
    """Write ``count`` small images per class: each class gets its own colour and stripe
    direction, so a small CNN can learn them in an epoch or two."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    palette = [(220, 40, 40), (40, 200, 60), (40, 80, 220), (230, 200, 40), (160, 60, 200), (30, 200, 200)]
    for label, (name, count) in enumerate(classes.items()):
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            base = palette[label % len(palette)]
            colour = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in base)
            image = Image.new("RGB", size, (rng.randint(0, 40),) * 3)
            draw = ImageDraw.Draw(image)
            for offset in range(-size[0], size[0] * 2, 6):
                if label % 2:
                    draw.line([(offset, 0), (offset, size[1])], fill=colour, width=2)
                else:
                    draw.line([(0, offset), (size[0], offset)], fill=colour, width=2)
            image_format = formats[index % len(formats)]
            suffix = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp"}[image_format]
            image.save(target / f"{name}_{index:03d}{suffix}", format=image_format)
    return folder


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three classes of 12 small images each, JPEG and PNG mixed."""
    return make_images(tmp_path / "images", {"circles": 12, "squares": 12, "stripes": 12})


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML to ``tmp_path/name`` and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


SMALL_MODEL = """
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - Flatten
    - {type: Dense, units: auto}
"""


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300, console: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``cnnbuild ARGS`` in a real subprocess: ``python -m cnnbuild``, or with ``console`` the
    installed ``cnnbuild`` script, as a person types it (its own folder, not ``cwd``, is on its path)."""
    full_env = {**os.environ, **(env or {})}
    command = [str(Path(sys.executable).parent / "cnnbuild")] if console else [sys.executable, "-m", "cnnbuild"]
    return subprocess.run([*command, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def beside_a_checkout(folder: Path) -> Path:
    """``folder`` made to look like the folder that holds a clone: a ``cnnbuild/`` package in it
    that fails when imported, so any process that imports it instead of the installed cnnbuild fails."""
    package = folder / "cnnbuild"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('raise ImportError("imported the cnnbuild/ folder of the current directory, not the installed package")\n')
    return folder


@pytest.fixture
def plugin(cnnbuild_plugin: Callable[..., object]) -> Callable[..., object]:
    """Register plugin objects for one test (``plugin(obj, name)`` returns the registry); unregister them after:
    the test kit's own ``cnnbuild_plugin``."""
    return cnnbuild_plugin


TINY_DIGITS = """
name: tinydigits
seed: 3
data: {type: digits, image_size: [8, 8], color_mode: grayscale, batch_size: 64, validation_split: 0.2}
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu}
    - {type: SqueezeExcitation2D, ratio: 4}
    - MaxPooling2D
    - Flatten
    - {type: Dense, units: auto}
train: {epochs: 4, verbose: quiet, precision: float32}  # exact parity checks: the same numbers on CPUs with and without bfloat16
"""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """A folder ``make(folder)`` fills once per test session, however many pytest-xdist workers ask:
    the first builds it under a file lock, the others wait and reuse it. Tests read it only (copy it
    to change it). Without xdist it is an ordinary session folder."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder every worker of this session shares
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with _locked(root / f"shared-{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run, trained once per test session (shared by xdist workers) for the export and
    serve tests: the digits at 8x8, four epochs, with the example plugin's SqueezeExcitation2D layer
    in the model. Read-only: copy it to write into it."""
    pytest.importorskip("cnnbuild_example", reason="needs the example plugin: pip install -e examples/plugins/cnnbuild-example")

    def train(root: Path) -> None:
        from cnnbuild.builder.training import run

        spec = root / "tinydigits.yaml"
        spec.write_text(TINY_DIGITS.lstrip(), encoding="utf-8")
        run(spec, output=root / "run")

    return shared_once(tmp_path_factory, "tinydigits", train) / "run"


#: a U-Net of one level with its skip connection, for segmentation specs of 16x16 images
TINY_UNET = """
model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {name: enc, type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - {name: up, type: UpSampling2D, size: 2}
    - {type: Concatenate, inputs: [up, enc]}
    - {type: Dense, units: auto, activation: softmax}
"""


TINY_SEGMENTATION = """
name: seg
seed: 3
task: segmentation
data: {type: shape_masks, count: 24, image_size: [16, 16], batch_size: 8}
augmentation: [{type: RandomFlip}]
compile: {loss: dice_crossentropy}
train: {epochs: 1, verbose: quiet, precision: float32, class_weight: auto}
""" + TINY_UNET


@pytest.fixture(scope="session")
def tiny_segmentation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished ``task: segmentation`` run (synthetic shapes and their masks, 16x16, one epoch, a
    small U-Net with a skip connection), trained once per test session (shared by xdist workers) for
    the segmentation, export and serve tests. Read-only: copy it to write into it."""

    def train(root: Path) -> None:
        from cnnbuild.builder.training import run

        spec = root / "seg.yaml"
        spec.write_text(TINY_SEGMENTATION.lstrip(), encoding="utf-8")
        run(spec, output=root / "run")

    return shared_once(tmp_path_factory, "tinysegmentation", train) / "run"


@pytest.fixture(scope="session")
def segmentation_tflite(tiny_segmentation_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny segmentation run exported once to TFLite (its export folder) for the export and serve tests. Read-only."""
    pytest.importorskip("ai_edge_litert", reason="needs the export extra: pip install -e '.[export]'")

    def export(folder: Path) -> None:
        from cnnbuild.export.exporter import export_run

        export_run(tiny_segmentation_run, "tflite", out=folder / "tflite", latency_runs=2)

    return shared_once(tmp_path_factory, "segmentation-tflite", export) / "tflite"


def digit_pngs(folder: Path, count: int = 6, sizes: tuple[tuple[int, int], ...] = ((8, 8), (16, 16), (13, 21))) -> list[Path]:
    """Digits from scikit-learn saved as grayscale PNGs at several sizes (a digit stretched to each)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    folder.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    paths = []
    for index in range(count):
        pixels = np.clip(np.round(digits.images[index] * 255 / 16), 0, 255).astype("uint8")
        height, width = sizes[index % len(sizes)]
        path = folder / f"digit{index}_{digits.target[index]}_{height}x{width}.png"
        Image.fromarray(pixels).resize((width, height), Image.BILINEAR).save(path)
        paths.append(path)
    return paths


#: Test modules that take longest, longest first (the sum of their tests' times in a `-n 2` CI run at bbff7a4,
#: 2026-12-03, load average 3 to 4: tests/builder/test_tasks.py counts its multi-label fixture at 58 s there,
#: 5 s alone). With pytest-xdist's ``--dist loadfile`` each worker takes whole modules in collection order,
#: so these start first and the short modules fill the gaps at the end. A module not listed runs after
#: them, in its usual order.
LONGEST_FIRST = (
    "tests/reliability/test_interruptions.py",
    "tests/builder/test_distribution.py",
    "tests/builder/test_tasks.py",
    "tests/sweep/test_sweeps.py",
    "tests/builder/test_training.py",
    "tests/reliability/test_data_trust.py",
    "tests/builder/test_backbones.py",
    "tests/builder/test_fine_tune_resume.py",
    "tests/reliability/test_models_and_outputs.py",
    "tests/builder/test_execution.py",
    "tests/compat/test_compat.py",
    "tests/export/test_export_graphs.py",
    "tests/export/test_segmentation_export.py",
    "tests/export/test_export.py",
    "tests/export/test_export_folder.py",
    "tests/export/test_export_failures.py",
    "tests/reliability/test_spec_fuzz.py",
    "tests/builder/test_fine_tune.py",
    "tests/test_cli.py",
    "tests/builder/test_augmentation_layers.py",
)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}

    def module_rank(item: pytest.Item) -> int:
        module = Path(str(item.path)).resolve().relative_to(REPO).as_posix() if Path(str(item.path)).resolve().is_relative_to(REPO) else ""
        return rank.get(module, len(rank))

    items.sort(key=module_rank)  # stable: each module's tests keep their order
