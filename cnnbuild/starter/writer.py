"""``cnnbuild init``: survey the data, decide, write the starter spec (validated first, never over a file)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnbuild.errors import CnnbuildError
from cnnbuild.starter import choices
from cnnbuild.starter.models import MODELS
from cnnbuild.starter.spec_text import Decisions, spec_text
from cnnbuild.starter.survey import SAMPLE, Survey, survey


@dataclass
class Starter:
    """What ``init`` wrote, from what it found, and what the user should know."""

    path: Path
    survey: Survey
    model: str
    decisions: Decisions
    warnings: list[str] = field(default_factory=list)

    def summary(self, shown: int = 10) -> list[str]:
        """Lines for the terminal: the classes, the files left out, the choices, the warnings."""
        found, made = self.survey, self.decisions
        what = "folder of class sub-folders" if found.source == "image_directory" else "CSV file"
        read = f"headers of a sample of {found.read:,} of {found.listed:,} files read; a run checks them all" if found.sampled else "every header read"
        lines = [f"{found.location}: {what}, {len(found.class_names)} classes, {found.total:,} images ({read})"]
        width = max(len(name) for name in found.class_names)
        lines += [f"  {name:<{width}}  {found.counts[name]:>7,}" for name in found.class_names]
        if found.skipped:
            lines.append(f"{len(found.skipped):,} file(s) will not be used:")
            lines += [f"  {item.path}: {item.reason}" for item in found.skipped[:shown]]
            if len(found.skipped) > shown:
                lines.append(f"  ... and {len(found.skipped) - shown:,} more (cnnbuild preview {self.path} lists them all)")
        height, width_px = made.image_size.value
        lines.append(
            f"spec: model {self.model}, image_size [{height}, {width_px}], color_mode {made.color_mode.value}, "
            f"validation_split {made.validation_split.value:g}, class_weight {made.class_weight.value}, cache {made.cache.value}"
        )
        lines += [f"warning: {warning}" for warning in self.warnings]
        return lines


def default_spec_path(data: Path) -> Path:
    """``NAME.yaml`` in the current folder, NAME being the data folder's (or the CSV file's) name."""
    return Path(f"{Path(os.path.abspath(data)).stem or 'data'}.yaml")


def run_name(path: Path) -> str:
    """A spec ``name`` from the spec file's name: letters, digits, '.', '_' and '-', starting with a letter or digit."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).lstrip("._-")[:64]
    return name or "starter"


def _as_seen_from(data: Path, folder: Path) -> str:
    """``data`` relative to ``folder`` when they share a folder below the file system's root (so the
    two can move together), else absolute."""
    data_abs, folder_abs = os.path.abspath(data), os.path.abspath(folder)
    try:
        shared = os.path.commonpath([data_abs, folder_abs])
    except ValueError:  # different drives
        return data_abs
    return data_abs if shared == os.path.dirname(shared) else os.path.relpath(data_abs, folder_abs)


def refuse_existing(out: Path) -> None:
    """CnnbuildError when ``out`` exists (init never overwrites a file)."""
    if out.exists() or out.is_symlink():
        raise CnnbuildError(f"{out}: already exists; cnnbuild init never overwrites a file: give another --out, or move {out} away")


def write_starter(
    data: Path, out: Path | None = None, model: str = "small", *, filename_column: str = "filename", label_column: str = "label", sample: int = SAMPLE
) -> Starter:
    """Look at ``data`` (a folder of class sub-folders, or a CSV file) and write a starter spec to
    ``out`` (default :func:`default_spec_path`) that validates and trains. Returns what was written.

    Raises :class:`~cnnbuild.errors.CnnbuildError` when ``out`` exists, and
    :class:`~cnnbuild.errors.DataError` when the data cannot make a classifier.
    """
    from cnnbuild.spec.resources import machine_memory

    if model not in MODELS:
        raise CnnbuildError(f"model {model!r}: choose one of {', '.join(MODELS)}")
    out = Path(out) if out is not None else default_spec_path(data)
    refuse_existing(out)
    chosen = MODELS[model]
    found = survey(Path(data), filename_column=filename_column, label_column=label_column, sample=sample)
    size = choices.image_size(found, chosen)
    mode = choices.color_mode(found, chosen)
    split, warnings = choices.validation_split(found)
    made = Decisions(
        size, mode, split, choices.cache(found, size.value, mode.value, machine_memory()), choices.augmentation(mode.value), choices.class_weight(found)
    )
    data_path = _as_seen_from(Path(data), out.parent)
    text = spec_text(found, chosen, made, data_path=data_path, spec_name=str(out), name=run_name(out))
    spec = checked_spec(text, out)
    warnings += [issue.render() for issue in spec.warnings]
    if found.source == "image_directory" and Path(os.path.abspath(out)).is_relative_to(os.path.abspath(data)):
        warnings.append(
            f"{out} is inside the data folder {data}: a run lists it as a file it does not use, and writes its runs there "
            "(never read as data); a spec beside the data folder keeps the two apart"
        )
    write_new(out, text)
    return Starter(out, found, model, made, warnings)


def checked_spec(text: str, out: Path) -> Any:
    """The spec init made, validated as if read from ``out``; a spec that does not validate is init's own bug."""
    from cnnbuild.spec import SpecError, spec_from_text

    try:
        return spec_from_text(text, str(out), Path(os.path.abspath(out.parent)))
    except SpecError as exc:  # say so rather than write a spec that fails
        raise CnnbuildError(f"cnnbuild init made a spec that does not validate (a bug; please report it with this message); nothing written:\n{exc}") from exc


def write_new(out: Path, text: str) -> None:
    """Write ``text`` to ``out``, which must not exist (nor appear meanwhile: it is never overwritten)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        refuse_existing(out)
        raise
