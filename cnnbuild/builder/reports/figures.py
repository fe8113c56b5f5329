"""Figures of runs and data, written as PNG files.

Figures are built with ``matplotlib.figure.Figure`` (the Agg canvas), never through pyplot, so
drawing changes no global state: a notebook keeps its own backend; image grids are composed
with Pillow where its font has every character of their text. Every drawing function
returns the figure's title texts (suptitle first), which tests and reports can check. Text that
comes from users (class names, file names, run names) is drawn literally: matplotlib would
otherwise read ``$...$`` as math and fail on a folder named ``$^$``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnbuild.runs.checkpoint_state import PHASE_KEY, Phase

DPI = 100
TRAIN_STYLE = {"color": "#08306b", "linestyle": "-", "marker": "o"}  # dark: reads in greyscale
VALIDATION_STYLE = {"color": "#e6850e", "linestyle": "--", "marker": "s"}  # light, dashed


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(figure: Any, path: Path, title: str) -> list[str]:
    titles = [title, *(axes.get_title() for axes in figure.axes if axes.get_title())]
    figure.savefig(path, format="png", dpi=DPI)
    return titles


def metric_panels(history: dict[str, list[float]]) -> list[str]:
    """Metric names to draw, one panel each: training metrics (with their ``val_`` twin), loss
    after the others, then metrics only validation has, and ``learning_rate`` last."""
    names = [key for key in history if not key.startswith("val_") and key not in ("learning_rate", PHASE_KEY)]
    names += [key[4:] for key in history if key.startswith("val_") and key[4:] not in history]
    names = [name for _, name in sorted(enumerate(names), key=lambda item: ("loss" in item[1], item[0]))]
    if "learning_rate" in history:
        names.append("learning_rate")
    return names


def fine_tune_start(history: dict[str, list[float]]) -> int | None:
    """The first fine-tuning epoch (1-based) of a run with ``train.fine_tune``, from the history's ``phase``."""
    phases = history.get(PHASE_KEY) or []
    return next((epoch for epoch, phase in enumerate(phases, start=1) if Phase.read(phase) == Phase.FINE_TUNE), None)


def literal(text: str) -> str:
    """``text`` with its dollar signs escaped, for places (legend labels) that take no ``parse_math``."""
    return str(text).replace("$", r"\$")


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def draw_curves(history: dict[str, list[float]], path: Path, *, title: str = "Training curves") -> list[str]:
    """One panel per metric, training (solid) against validation (dashed), epochs on x."""
    from matplotlib.ticker import MaxNLocator

    panels = metric_panels(history) or ["loss"]
    change = fine_tune_start(history)
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = _figure(4.6 * columns, 3.4 * rows + 0.4)
    figure.suptitle(title, fontsize=13, parse_math=False)
    for number, metric in enumerate(panels, start=1):
        axes = figure.add_subplot(rows, columns, number)
        for key, label, style in ((metric, "training", TRAIN_STYLE), (f"val_{metric}", "validation", VALIDATION_STYLE)):
            values = history.get(key) or []
            if values:
                epochs = range(1, len(values) + 1)
                axes.plot(epochs, values, label=label, markersize=4, linewidth=1.6, **style)
        if change is not None:
            axes.axvline(change - 0.5, color="0.45", linestyle=":", linewidth=1.2, label="fine-tuning starts")
        axes.set_title(_label(metric))
        axes.set_xlabel("epoch")
        axes.set_ylabel(_label(metric))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        if axes.lines:
            axes.legend(frameon=False)
        else:
            axes.text(0.5, 0.5, "no values recorded", ha="center", va="center", transform=axes.transAxes)
    return _save(figure, path, title)


def draw_confusion_matrix(confusion: Sequence[Sequence[int]], class_names: list[str], path: Path, *, title: str = "Confusion matrix") -> list[str]:
    """Counts in each cell, shaded by the fraction of the true class (row-normalised, 'Blues')."""
    import numpy as np

    counts = np.asarray(confusion, dtype="int64")
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype="float64"), where=totals > 0)
    n = len(class_names)
    side = min(max(4.5, 0.55 * n + 2.5), 18)
    figure = _figure(side + 1.2, side)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    colorbar = figure.colorbar(image, ax=axes, shrink=0.8)
    colorbar.set_label("fraction of the true class")
    slanted = n > 3 and max(len(name) for name in class_names) > 2  # long names would overlap
    axes.set_xticks(range(n), class_names, rotation=45 if slanted else 0, ha="right" if slanted else "center", parse_math=False)
    axes.set_yticks(range(n), class_names, parse_math=False)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    figure.suptitle(title, fontsize=12, parse_math=False)
    if n <= 30:  # beyond that the numbers no longer fit in the cells
        size = 10 if n <= 12 else 7
        for row in range(n):
            for column in range(n):
                colour = "white" if shares[row, column] > 0.5 else "black"
                axes.text(column, row, str(counts[row, column]), ha="center", va="center", color=colour, fontsize=size)
    return _save(figure, path, title)


def _tile(image: Any, size: int) -> Any:
    """``image`` (values 0..255, height x width x channels) as uint8 RGB fitted into a ``size`` square,
    its aspect kept: small images (under 64 pixels a side) enlarged with nearest neighbours, so their
    pixels stay visible, others resampled smoothly."""
    import numpy as np
    from PIL import Image

    array = np.clip(np.asarray(image, dtype="float32"), 0, 255).round().astype("uint8")
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.shape[-1] == 4:  # shown over the white page, as an axes would show it
        alpha = array[..., 3:].astype("float32") / 255
        array = (array[..., :3] * alpha + 255 * (1 - alpha)).round().astype("uint8")
    array = array[..., :3]
    height, width = array.shape[:2]
    scale = size / max(height, width)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.NEAREST if min(height, width) < 64 else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(array).resize(shape, resample))


def draw_image_grid(images: Sequence[Any], titles: Sequence[str], path: Path, *, title: str, columns: int = 3, empty_message: str = "no images") -> list[str]:
    """Images (float 0..255, height x width x channels) in a grid, each with its title.

    The images are placed pixel for pixel into one canvas. The titles are written on it with Pillow
    in the font matplotlib's figures use (DejaVu Sans): the flowers run's misclassified grid took
    2.0 s through matplotlib (text and a canvas resampled at 1:1) on the 2-core machine, 0.4 s so.
    Text with a character that font lacks (CJK file names, say) is left to matplotlib, whose font
    fallback may have it; a grid of axes laid out by the constrained engine had cost 2.2 s."""
    count = len(images)
    if count == 0:
        figure = _figure(6, 2.2)
        figure.suptitle(title, fontsize=13, parse_math=False)
        figure.text(0.5, 0.45, empty_message, ha="center", va="center", fontsize=12, parse_math=False)
        return _save(figure, path, title)
    import numpy as np

    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    lines = max((str(t).count("\n") + 1 for t in titles), default=1)
    heading_lines = str(title).count("\n") + 1  # preview wraps long titles
    cell, line, heading, gap = round(2.2 * DPI), round(0.2 * DPI), round((0.28 + 0.22 * heading_lines) * DPI), round(0.1 * DPI)  # pixels
    row = line * lines + cell + gap
    grid_width = columns * (cell + gap) + gap
    widest = max(len(text) for text in str(title).splitlines() or [""])
    width, height = max(grid_width, round(widest * 0.11 * DPI) + 2 * gap), heading + rows * row  # 13 pt: about 0.11 inch a character
    margin = (width - grid_width) // 2
    canvas = np.full((height, width, 3), 255, dtype="uint8")
    captions = []  # (text, centre x, bottom y) in pixels
    for number, (image, text) in enumerate(zip(images, titles, strict=True)):
        r, c = divmod(number, columns)
        tile = _tile(image, cell)
        top, left = heading + r * row + line * lines, margin + gap + c * (cell + gap)
        y, x = top + (cell - tile.shape[0]) // 2, left + (cell - tile.shape[1]) // 2
        canvas[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
        captions.append((str(text), left + cell / 2, top - 3))
    font = _dejavu_sans([str(title), *(text for text, _, _ in captions)])
    if font is not None:
        from PIL import Image, ImageDraw

        picture = Image.fromarray(canvas)
        draw = ImageDraw.Draw(picture)
        heading_font, caption_font = font.font_variant(size=round(13 * DPI / 72)), font.font_variant(size=round(10 * DPI / 72))
        _centred_lines(draw, str(title), width / 2, gap, heading_font)
        for text, centre, bottom in captions:
            _centred_lines(draw, text, centre, bottom - line * (text.count("\n") + 1), caption_font)
        picture.save(path, format="PNG", compress_level=1)  # photos barely compress: level 6 took 0.8 s for a 9% smaller file
    else:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        figure.suptitle(title, fontsize=13, parse_math=False, y=1 - 0.1 * DPI / height, va="top")
        for text, centre, bottom in captions:
            figure.text(centre / width, 1 - bottom / height, text, ha="center", va="bottom", fontsize=10, parse_math=False)
        figure.figimage(canvas, 0, 0, origin="upper", zorder=0)
        figure.savefig(path, format="png", dpi=DPI)
    return [title, *(str(text) for text in titles if text)]


def _dejavu_sans(texts: list[str]) -> Any:
    """Pillow's FreeType font of the DejaVu Sans matplotlib ships, when it has every character of
    ``texts``; None when it lacks one, or Pillow has no FreeType."""
    try:
        import matplotlib
        from matplotlib.ft2font import FT2Font
        from PIL import ImageFont

        file = str(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
        characters = FT2Font(file).get_charmap()
        if any(ord(character) not in characters for text in texts for character in text if not character.isspace()):
            return None
        return ImageFont.truetype(file, 12)
    except (ImportError, OSError):
        return None


def _centred_lines(draw: Any, text: str, centre: float, top: float, font: Any) -> None:
    """``text``, line by line, each centred on ``centre``, from ``top`` down (drawn as written: no markup is read)."""
    step = round(font.size * 1.2)
    for number, part in enumerate(text.splitlines() or [""]):
        draw.text((centre, top + number * step), part, fill="black", font=font, anchor="ma")


def draw_compare(histories: dict[str, dict[str, list[float]]], path: Path, *, title: str = "Validation curves") -> list[str]:
    """Each validation metric in its own panel, one line per run."""
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    metrics: list[str] = []
    for history in histories.values():
        metrics += [key for key in history if key.startswith("val_") and key not in metrics]
    metrics = [name for _, name in sorted(enumerate(metrics), key=lambda item: ("loss" in item[1], item[0]))]
    if not metrics:
        metrics = ["val_loss"]
    columns = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / columns)
    figure = _figure(5.2 * columns, 3.8 * rows + 0.4)
    figure.suptitle(title, fontsize=13, parse_math=False)
    colours = colormaps["viridis"]
    markers = "osD^vP*X"
    linestyles = ["-", "--", "-.", ":"]
    count = len(histories)
    for number, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(rows, columns, number)
        for index, (label, history) in enumerate(histories.items()):
            values = history.get(metric) or []
            if values:
                colour = colours(0.85 * index / max(count - 1, 1))
                axes.plot(range(1, len(values) + 1), values, label=literal(label), color=colour, marker=markers[index % len(markers)], linestyle=linestyles[index % len(linestyles)], markersize=4, linewidth=1.6)
        axes.set_title(_label(metric))
        axes.set_xlabel("epoch")
        axes.set_ylabel(_label(metric))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        if axes.lines:
            axes.legend(frameon=False, fontsize=8)
    return _save(figure, path, title)
