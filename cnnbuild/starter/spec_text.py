"""The text of the starter spec: every value ``init`` chose, with the reason as a comment above it."""

from __future__ import annotations

import json
import os
import shlex
import textwrap
from dataclasses import dataclass

from cnnbuild.spec.format_history import CURRENT as FORMAT
from cnnbuild.spec.format_history import KEY as FORMAT_KEY
from cnnbuild.starter.choices import Choice
from cnnbuild.starter.models import StarterModel
from cnnbuild.starter.survey import Survey

WIDTH = 100
SEED = 42


@dataclass(frozen=True)
class Decisions:
    """Every value ``init`` chose for a spec."""

    image_size: Choice
    color_mode: Choice
    validation_split: Choice
    cache: Choice
    augmentation: Choice
    class_weight: Choice


def quoted(text: str) -> str:
    """``text`` as a YAML scalar that reads back unchanged (JSON's double-quoted form is YAML too)."""
    return json.dumps(text)


def command_word(text: str) -> str:
    """``text`` as one word of a shell command, safe in a comment line (a line break is written as ``\\n``)."""
    return shlex.quote(text) if text.isprintable() else quoted(text)


def comment(lines: list[str], indent: str = "") -> str:
    """The reason as ``#`` lines, wrapped to ``WIDTH`` columns."""
    return (
        "\n".join(
            textwrap.wrap(" ".join(lines), WIDTH - len(indent) - 2, initial_indent=indent + "# ", subsequent_indent=indent + "# ", break_on_hyphens=False)
        )
        + "\n"
    )


def _header(found: Survey, data_path: str, spec_name: str) -> str:
    spec_name = command_word(spec_name)
    what = "a folder of class sub-folders" if found.source == "image_directory" else "a CSV file of image names and labels"
    width = max(len(quoted(name)) for name in found.class_names)
    rows = "".join(f"#   {quoted(name):<{width}}  {found.counts[name]:>7,}\n" for name in found.class_names)
    counted = f"image files listed, less those whose header in a sample of {found.read:,} could not be read" if found.sampled else "every image's header read"
    skipped = f"# {len(found.skipped):,} file(s) will not be used: `cnnbuild preview {spec_name}` lists each with its reason.\n" if found.skipped else ""
    return (
        f"# A starter spec, written by `cnnbuild init` from {quoted(data_path)} ({what}).\n"
        "# Every choice says why in a comment above it; change what you know better.\n"
        f"# Check it with `cnnbuild validate {spec_name}`, train it with `cnnbuild run {spec_name}`.\n"
        "#\n"
        f"# {len(found.class_names)} classes, {found.total:,} images ({counted}):\n"
        f"{rows}{skipped}"
        "# A run decodes every image before training and lists any more it leaves out (a file cut short, say).\n"
    )


def _data(found: Survey, data_path: str, made: Decisions) -> str:
    csv_columns = ""
    if found.source == "csv":
        for key, value, default in (("filename_column", found.filename_column, "filename"), ("label_column", found.label_column, "label")):
            if value != default:
                csv_columns += f"  {key}: {quoted(value)}\n"
    height, width = made.image_size.value
    return (
        "data:\n"
        f"  type: {found.source}\n"
        f"  path: {quoted(data_path)}{'' if os.path.isabs(data_path) else '  # relative to this file'}\n"
        f"{csv_columns}"
        f"{comment(made.image_size.why, '  ')}"
        f"  image_size: [{height}, {width}]  # [height, width]\n"
        f"{comment(made.color_mode.why, '  ')}"
        f"  color_mode: {made.color_mode.value}\n"
        "  batch_size: 32\n"
        f"{comment(made.validation_split.why, '  ')}"
        f"  validation_split: {made.validation_split.value:g}\n"
        f"{comment(made.cache.why, '  ')}"
        f"  cache: {made.cache.value}\n"
    )


def spec_text(found: Survey, model: StarterModel, made: Decisions, *, data_path: str, spec_name: str, name: str) -> str:
    """The whole starter spec. ``data_path`` is the data as seen from the spec's folder; ``spec_name`` the spec's path as the user typed it."""
    augmentation = "".join(f"  - {entry}\n" for entry in made.augmentation.value)
    weights = f"{comment(made.class_weight.why, '  ')}  class_weight: {made.class_weight.value}\n"
    training = model.training.replace("\ntrain:\n", "\ntrain:\n" + weights, 1)
    return (
        _header(found, data_path, spec_name)
        + f"\n{FORMAT_KEY}: {FORMAT}  # the spec format this file is written in (a later cnnbuild reads it, or `cnnbuild migrate` rewrites it)\n"
        + f"name: {name}\nseed: {SEED}  # the same seed, the same split, shuffling and initial weights\n\n"
        + _data(found, data_path, made)
        + "\n# Random changes to the training images (never to validation), a new draw every epoch.\n"
        + comment(made.augmentation.why)
        + f"augmentation:\n{augmentation}\n"
        + comment([f"The model: {model.why}"])
        + model.model
        + "\n"
        + training
        + "\noutput:\n  dir: runs  # each run in runs/<name>/<timestamp>/, relative to this file\n"
    )
