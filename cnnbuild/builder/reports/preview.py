"""``cnnbuild preview``: look at the data before training: sample images, augmentation draws, a report."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.data.report import DatasetReport, dataset_report
from cnnbuild.builder.reports import figures
from cnnbuild.errors import RunError
from cnnbuild.spec.labels import label_mixing_entries

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


def training_samples(source: Any, count: int = 9) -> list[tuple[Any, Any]]:
    """The first ``count`` training examples ``(image, label)`` (sources list training examples shuffled);
    a multi-label or regression example's label is its target vector."""
    single = getattr(source, "task", "single_label") == "single_label"
    return [(image, int(label) if single else label) for image, label in source.train.take(count).as_numpy_iterator()]


def label_title(label: Any, names: list[str], task: str) -> str:
    """An example's label in words: its class, the labels it has, or its targets' values."""
    if task == "multi_label":
        return "|".join(name for name, value in zip(names, label, strict=True) if value > 0.5) or "(no label)"
    if task == "regression":
        return ", ".join(f"{name} {float(value):g}" for name, value in zip(names, label, strict=True))
    if task == "segmentation":  # the classes its mask shows
        import numpy as np

        return ", ".join(names[int(index)] for index in np.unique(label) if 0 <= index < len(names))
    return names[label]


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


def mixed_title(label: Any, class_names: list[str], binary: bool) -> str:
    """A mixed label in words, largest weight first, one class a line: ``0.71 roses``, ``0.29 tulips``."""
    import numpy as np

    weights = np.asarray(label, dtype="float64").reshape(-1)
    if binary:
        weights = np.array([1 - weights[0], weights[0]])
    order = [int(i) for i in np.argsort(-weights, kind="stable") if weights[i] >= 0.005]
    if len(order) == 1:
        return class_names[order[0]]
    return "\n".join(f"{weights[i]:.2f} {class_names[i]}" for i in order)


def mixed_draws(spec: Spec, samples: list[tuple[Any, int]], class_names: list[str]) -> tuple[list[Any], list[str]]:
    """``samples`` as one batch through the spec's training augmentation, labels mixed as in
    training (MixUp, CutMix): the images and their mixed labels in words."""
    import numpy as np

    from cnnbuild.builder.data.pipelines import encode_labels, training_augmenter
    from cnnbuild.builder.runtime import import_tensorflow
    from cnnbuild.spec.labels import label_encoding

    tf = import_tensorflow()
    labels = label_encoding(spec, len(class_names))
    images = tf.constant(np.stack([np.asarray(image, dtype="float32") for image, _ in samples]))
    images, encoded = encode_labels(labels)(images, tf.constant([label for _, label in samples]))
    images, mixed = training_augmenter(spec)(images, encoded)
    return list(np.asarray(images)), [mixed_title(row, class_names, labels.mode == "binary") for row in np.asarray(mixed)]


def _write(out_dir: Path, name: str, draw: Any) -> Path:
    path = out_dir / name
    try:
        draw(path)
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def preview(spec: Spec, out_dir: str | Path = ".") -> Preview:
    """Write ``samples.png`` (nine training images titled with their class) and
    ``augmentation.png`` (one image under nine draws of the augmentation; with MixUp or CutMix,
    the nine images mixed as in training, titled with their mixed labels) to ``out_dir``, and
    return them with the dataset report."""
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
        raise RunError(f"cannot create {out}: {exc.strerror or exc}; choose another folder with --out") from exc
    source = load_source(spec)
    result = Preview(dataset_report(spec, source))
    names = source.class_names
    samples = training_samples(source)
    sample_titles: list[str] = []

    if source.task == "segmentation":  # each image with its mask overlaid
        from cnnbuild.builder.reports.segmentation_report import overlaid_images

        samples = list(zip(overlaid_images([image for image, _ in samples], [mask for _, mask in samples], len(names)), [mask for _, mask in samples], strict=True))

    def draw_samples(path: Path) -> None:
        sample_titles.extend(figures.draw_image_grid([image for image, _ in samples], [label_title(label, names, source.task) for _, label in samples], path, title=f"{spec.name}: training images"))

    result.files[SAMPLES] = _write(out, SAMPLES, draw_samples)
    result.titles[SAMPLES] = sample_titles
    if not spec.augmentation:
        result.notes.append(f"the spec has no augmentation, so {AUGMENTATION} was not written")
        return result
    layers = ", ".join(entry.type for entry in spec.augmentation)
    if source.task == "segmentation":
        from cnnbuild.builder.reports.segmentation_report import mask_augmentation_draws

        image, mask = next(iter(source.train.take(1).as_numpy_iterator()))
        draws = mask_augmentation_draws(spec, image, mask, len(names))
        titles = [f"draw {i}" for i in range(1, len(draws) + 1)]
        title = f"one image and its mask (overlaid), nine draws of: {layers}"
    elif label_mixing_entries(spec):
        draws, titles = mixed_draws(spec, samples, names)
        title = f"nine training images through: {layers}; titles: their mixed labels"
    else:
        image, label = samples[0]
        draws = augmentation_draws(spec, image)
        titles = [f"draw {i}" for i in range(1, len(draws) + 1)]
        title = f"one {label_title(label, names, source.task)!r} image, nine draws of: {layers}"
    augmentation_titles: list[str] = []

    def draw_augmentation(path: Path) -> None:
        augmentation_titles.extend(figures.draw_image_grid(draws, titles, path, title=textwrap.fill(title, 70)))

    result.files[AUGMENTATION] = _write(out, AUGMENTATION, draw_augmentation)
    result.titles[AUGMENTATION] = augmentation_titles
    return result
