"""What ``cnnbuild init`` decides from a survey of the data, each value with the reason written
beside it in the spec: image size, colour mode, class weights, validation split, augmentation, cache."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from cnnbuild.contracts.values import CHANNELS
from cnnbuild.data.balance import IMBALANCE_RATIO, class_balance
from cnnbuild.data.splitting import stratified_split
from cnnbuild.spec.resources import size as in_bytes
from cnnbuild.starter.models import StarterModel
from cnnbuild.starter.survey import Survey

#: The longest side of the images for a network trained from scratch: convolutions cost in proportion to the pixels,
#: and a first run is usually on a CPU.
CPU_SIDE = 160
#: Image sides are multiples of this, so that each of four poolings halves them evenly.
SIDE_STEP = 16
MIN_SIDE = 32
#: The validation split starts at the first fraction and grows (to the last) until the smallest class keeps ``MIN_VALIDATION`` images for validation.
SPLITS = (0.2, 0.25, 0.3)
MIN_VALIDATION = 3
#: Decoded images are cached in memory when they take at most this share of the machine's memory.
CACHE_SHARE = 0.5


@dataclass(frozen=True)
class Choice:
    """A value for the spec and the comment lines that say why."""

    value: Any
    why: list[str] = field(default_factory=list)


def image_size(found: Survey, model: StarterModel) -> Choice:
    """``[height, width]``: the images' median, the longer side capped at ``CPU_SIDE``, in steps of ``SIDE_STEP``; or the model's own size."""
    height = statistics.median(header.height for header in found.headers)
    width = statistics.median(header.width for header in found.headers)
    seen = f"the images' median size is {width:g}x{height:g} (width x height; {_over(found)})"
    if model.fixed_size is not None:
        size, reason = model.fixed_size
        return Choice(list(size), [f"{size[0]}x{size[1]}: {reason}; {seen}"])
    scale = min(1.0, CPU_SIDE / max(height, width))
    size = [max(MIN_SIDE, SIDE_STEP * math.floor(side * scale / SIDE_STEP + 0.5)) for side in (height, width)]
    if scale < 1:
        why = (
            f"scaled down so the longer side is at most {CPU_SIDE} pixels, for training on a CPU: every convolution costs in proportion "
            f"to the pixels (half the side, a quarter of the time); raise it when small details decide the class, or on a GPU"
        )
    else:
        why = "kept near the images' own size (enlarging adds no detail)"
    return Choice(size, [f"{seen}; {why}; rounded to multiples of {SIDE_STEP} so that each pooling halves it evenly"])


def _over(found: Survey) -> str:
    return f"headers of a sample of {found.read:,} of the {found.listed:,} image files" if found.sampled else f"all {len(found.headers):,} images"


def color_mode(found: Survey, model: StarterModel) -> Choice:
    """``grayscale`` when every image has one channel, ``rgba`` when an image has transparent pixels, else ``rgb``."""
    modes = ", ".join(f"{mode} {count}" for mode, count in _modes(found))
    if found.transparent is not None:
        if model.pretrained:
            return Choice(
                "rgb",
                [f"{found.transparent} has transparent pixels, but the pretrained network takes 3 channels: transparency is dropped (modes seen: {modes})"],
            )
        return Choice("rgba", [f"rgba: {found.transparent} has transparent pixels, so the alpha channel carries information (modes seen: {modes})"])
    if all(header.single_channel for header in found.headers):
        note = "; the pretrained network repeats the one channel to three" if model.pretrained else ""
        return Choice("grayscale", [f"grayscale: every image has a single channel (modes seen: {modes}){note}"])
    alpha = f"; {found.alpha_checked} image(s) with an alpha channel were decoded and none has a transparent pixel" if found.alpha_checked else ""
    return Choice("rgb", [f"rgb: the images have colour (modes seen: {modes}){alpha}"])


def _modes(found: Survey) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for header in found.headers:
        counts[header.mode] = counts.get(header.mode, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def class_weight(found: Survey) -> Choice:
    """``auto`` when the largest class has ``IMBALANCE_RATIO`` times the images of the smallest, else ``none``."""
    balance = class_balance(found.counts)
    assert balance is not None  # a survey has images in every class
    largest, smallest = f"{balance.largest!r}, has {balance.largest_count} images", f"{balance.smallest!r}, {balance.smallest_count}"
    facts = f"the largest class, {largest} and the smallest, {smallest}: {balance.ratio:.1f}x"
    if balance.imbalanced:
        return Choice(
            "auto",
            [
                f"auto: {facts}, at or over {IMBALANCE_RATIO:g}x (where cnnbuild calls classes imbalanced); each class is weighted",
                "inversely to its training images, so the small classes count as much in the loss as the large ones",
            ],
        )
    return Choice("none", [f"none: {facts}, under the {IMBALANCE_RATIO:g}x at which cnnbuild calls classes imbalanced"])


def validation_split(found: Survey) -> tuple[Choice, list[str]]:
    """The fraction held out: the first of ``SPLITS`` that leaves the smallest class ``MIN_VALIDATION``
    validation images (or as many as any of ``SPLITS`` leaves it), and warnings for classes too small to be validated."""
    smallest = min(found.counts, key=found.counts.__getitem__)
    attainable = min(MIN_VALIDATION, max(_held(found.counts[smallest], fraction) for fraction in SPLITS))
    fraction = next(fraction for fraction in SPLITS if _held(found.counts[smallest], fraction) >= attainable)
    held = _held(found.counts[smallest], fraction)
    train, validation = _split_sizes(found, fraction)
    size = f"{found.counts[smallest]} images"
    which = f"every class ({size})" if len(set(found.counts.values())) == 1 else f"the smallest class, {smallest!r} ({size}),"
    why = [
        f"{fraction:g} of every class is held out for validation ({train} training, {validation} validation images);",
        f"{which} keeps {held} for validation (the same files on every run with this seed)",
    ]
    warnings = []
    if held == 0:
        warnings.append(f"class {smallest!r} has a single image: it is trained on, so its accuracy cannot be measured; add images to it")
    elif held < MIN_VALIDATION:
        warnings.append(
            f"class {smallest!r} has {found.counts[smallest]} images, {held} of them for validation: its accuracy will be a rough guess; add images to it"
        )
    return Choice(fraction, why), warnings


def _held(count: int, fraction: float) -> int:
    return len(stratified_split([0] * count, fraction, 0)[1])


def _split_sizes(found: Survey, fraction: float) -> tuple[int, int]:
    labels = [label for label, name in enumerate(found.class_names) for _ in range(found.counts[name])]
    train, validation = stratified_split(labels, fraction, 0)
    return len(train), len(validation)


def augmentation(mode: str) -> Choice:
    """Flips, turns and zooms for colour photos; small turns and shifts, no flips, for grayscale images."""
    if mode == "grayscale":
        return Choice(
            ["{type: RandomRotation, factor: 0.03}", "{type: RandomTranslation, height_factor: 0.05, width_factor: 0.05}"],
            [
                "grayscale images are taken for digits, letters or scans, where a mirror image means something else (a mirrored",
                "2 is not a 2): small turns (up to +/- 11 degrees) and shifts only; add {type: RandomFlip, mode: horizontal} for photos",
            ],
        )
    return Choice(
        ["{type: RandomFlip, mode: horizontal}", "{type: RandomRotation, factor: 0.1}", "{type: RandomZoom, height_factor: 0.1}"],
        [
            "colour images are taken for photos: a mirrored, slightly turned or zoomed photo shows the same thing;",
            "drop RandomFlip if left and right matter (text, road signs)",
        ],
    )


def cache(found: Survey, size: list[int], mode: str, memory: int | None) -> Choice:
    """``memory`` when the decoded images fit in ``CACHE_SHARE`` of ``memory`` (bytes, None: unknown), else ``none``."""
    decoded = found.total * size[0] * size[1] * CHANNELS[mode] * 4  # float32 pixels
    need = f"the decoded images take about {in_bytes(decoded)}"
    if memory is None or decoded <= CACHE_SHARE * memory:
        where = f", within half of this machine's {in_bytes(memory)}" if memory else ""
        return Choice("memory", [f"memory: decoded once, then kept in memory; {need}{where}"])
    return Choice(
        "none", [f"none: {need}, more than half of this machine's {in_bytes(memory)}; every epoch decodes them again (or give a file path to cache on disk)"]
    )
