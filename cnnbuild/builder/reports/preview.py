"""``cnnbuild preview``: look at the data before training: sample images, augmentation draws, a report."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.data.report import DatasetReport, dataset_report
from cnnbuild.builder.reports import figures
from cnnbuild.errors import RunError

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec

SAMPLES = "samples.png"
AUGMENTATION = "augmentation.png"


@dataclass
class Preview:
    """The dataset report, the files written and each figure's title texts."""

    report: DatasetReport
    files: dict[str, Path] = field(default_factory=dict)
    titles: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def training_samples(source: Any, count: int = 9) -> list[tuple[Any, int]]:
    """The first ``count`` training examples ``(image, label)`` (sources list training examples shuffled)."""
    return [(image, int(label)) for image, label in source.train.take(count).as_numpy_iterator()]


def augmentation_draws(spec: Spec, image: Any, draws: int = 9) -> list[Any]:
    """``image`` through the spec's augmentation layers ``draws`` times, in training mode."""
    import numpy as np

    from cnnbuild.builder.model.build import augmentation_layers

    layers = augmentation_layers(spec)
    results = []
    for _ in range(draws):
        batch = np.asarray(image, dtype="float32")[None]
        for layer in layers:
            batch = layer(batch, training=True)
        results.append(np.asarray(batch)[0])
    return results


def _write(out_dir: Path, name: str, draw: Any) -> Path:
    path = out_dir / name
    try:
        draw(path)
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def preview(spec: Spec, out_dir: str | Path = ".") -> Preview:
    """Write ``samples.png`` (nine training images titled with their class) and
    ``augmentation.png`` (one image under nine draws of the augmentation) to ``out_dir``,
    and return them with the dataset report."""
    from cnnbuild.builder.data.source import load_source
    from cnnbuild.builder.runtime import import_tensorflow

    import_tensorflow()
    import keras

    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {out}: {exc.strerror or exc}; choose another folder with --out") from None
    source = load_source(spec)
    result = Preview(dataset_report(spec, source))
    names = source.class_names
    samples = training_samples(source)
    sample_titles: list[str] = []

    def draw_samples(path: Path) -> None:
        sample_titles.extend(figures.draw_image_grid([image for image, _ in samples], [names[label] for _, label in samples], path, title=f"{spec.name}: training images"))

    result.files[SAMPLES] = _write(out, SAMPLES, draw_samples)
    result.titles[SAMPLES] = sample_titles
    if not spec.augmentation:
        result.notes.append(f"the spec has no augmentation, so {AUGMENTATION} was not written")
        return result
    image, label = samples[0]
    draws = augmentation_draws(spec, image)
    layers = ", ".join(entry.type for entry in spec.augmentation)
    augmentation_titles: list[str] = []

    def draw_augmentation(path: Path) -> None:
        augmentation_titles.extend(
            figures.draw_image_grid(draws, [f"draw {i}" for i in range(1, len(draws) + 1)], path, title=textwrap.fill(f"one {names[label]!r} image, nine draws of: {layers}", 70))
        )

    result.files[AUGMENTATION] = _write(out, AUGMENTATION, draw_augmentation)
    result.titles[AUGMENTATION] = augmentation_titles
    return result
