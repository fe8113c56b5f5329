"""A cheap look at a user's data for ``cnnbuild init``: the classes and their images, listed by the
rules training uses, and the headers of (a sample of) the images.

A folder is listed by :func:`cnnbuild.data.folders.folder_files` and a CSV read by the ``csv``
source's own :func:`~cnnbuild.plugins.builtin.csv_source.csv_rows`, so hidden and system files,
files that are not images, run directories and rows without a file or label are left out exactly
as a run leaves them out. Each header is read by :func:`cnnbuild.data.image_header.read_header`,
as the check before training reads it; no pixels are decoded, except those of a few images with an
alpha channel, to see whether any pixel is transparent.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cnnbuild.contracts.data import DataContext, SkippedFile
from cnnbuild.data.folders import SUFFIX_HINT, folder_files, nfc
from cnnbuild.data.image_header import ImageHeader, read_header, uses_transparency
from cnnbuild.errors import DataError, DataNotFound

#: Headers read at most; a larger data set is sampled (every class at least ``SAMPLE_PER_CLASS`` of its files).
SAMPLE = 2000
SAMPLE_PER_CLASS = 20
#: Images with an alpha channel decoded at most to find one that really uses transparency.
ALPHA_CHECKS = 50


@dataclass
class Survey:
    """What ``init`` found: the classes in label order, the images of each a run will use, the
    files it will skip (each with its reason), and the headers read."""

    source: str  # the data source type: image_directory or csv
    location: Path  # the folder, or the CSV file
    class_names: list[str]
    counts: dict[str, int]
    skipped: list[SkippedFile]
    #: the usable images whose headers were read (all of them, or a sample)
    headers: list[ImageHeader] = field(default_factory=list)
    #: image files listed (before their headers were read)
    listed: int = 0
    #: headers read, usable or not
    read: int = 0
    #: the first image found with transparent pixels, and how many images with an alpha channel were decoded to look
    transparent: Path | None = None
    alpha_checked: int = 0
    filename_column: str = "filename"
    label_column: str = "label"

    @property
    def sampled(self) -> bool:
        return self.read < self.listed

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def survey(data: Path, *, filename_column: str = "filename", label_column: str = "label", sample: int = SAMPLE) -> Survey:
    """Look at ``data`` (a folder of class sub-folders, or a CSV file of image file names and labels).

    Raises :class:`DataError` (what is wrong, where, what to do) for a folder or file that is
    missing, has fewer than two classes, or has a class without a usable image.
    """
    data = Path(data)
    if not data.exists():
        raise DataNotFound(f"{data}: does not exist; give a folder with one sub-folder of images per class (or a CSV file of image names and labels)")
    if data.is_dir():
        names, pairs, skipped = folder_files(data, None)
        source = "image_directory"
    elif data.suffix.lower() == ".csv":
        names, pairs, skipped = _csv_files(data, filename_column, label_column)
        source = "csv"
    else:
        raise DataError(f"{data}: is a file, not a folder of class sub-folders or a .csv file of image names and labels")
    by_class: dict[str, list[Path]] = {name: [] for name in names}
    for path, name in pairs:
        by_class[name].append(Path(path))
    _refuse_empty(data, source, by_class, skipped)
    found = Survey(source, data, names, {}, list(skipped), filename_column=filename_column, label_column=label_column)
    _read_headers(found, by_class, sample)
    return found


def _csv_files(table: Path, filename_column: str, label_column: str) -> tuple[list[str], list[tuple[Path, str]], list[SkippedFile]]:
    """The CSV's classes (sorted, as the ``csv`` source orders them), its ``(file, class)`` rows, and the rows it skips."""
    from cnnbuild.plugins.builtin.csv_source import CsvParams, csv_rows

    _check_columns(table, filename_column, label_column)
    params = CsvParams(path=str(table), filename_column=filename_column, label_column=label_column)
    rows, skipped = csv_rows(params, DataContext(table.parent), str(table))
    pairs = [(Path(path), nfc(label)) for path, label in rows]
    names = sorted({name for _, name in pairs})
    if len(names) < 2:
        raise DataError(f"{table}: {len(names)} class(es) in column {label_column!r} ({names}); a classifier needs at least two")
    return names, pairs, skipped


def _check_columns(table: Path, filename_column: str, label_column: str) -> None:
    """The CSV's header names both columns (else a message naming the options that choose them)."""
    import csv

    try:
        with table.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{table}: cannot read the CSV: {exc}") from exc
    missing = [column for column in (filename_column, label_column) if column not in header]
    if missing:
        raise DataError(f"{table}: no column {missing}; the header has {header}; name the columns with --filename-column and --label-column")


def _refuse_empty(data: Path, source: str, by_class: dict[str, list[Path]], skipped: list[SkippedFile]) -> None:
    empty = [name for name, files in by_class.items() if not files]
    if not empty:
        return
    if source == "csv":
        raise DataError(f"{data}: classes {empty} have no rows with a file name; add rows for them")
    inside = [item for item in skipped if any(Path(item.path).is_relative_to(data / name) for name in empty)]
    listed = "".join(f"\n  {item.path}: {item.reason}" for item in inside[:10]) + (f"\n  ... and {len(inside) - 10} more" if len(inside) > 10 else "")
    raise DataError(f"{data}: class folders {empty} hold no image files ({SUFFIX_HINT}, ...); add images to them or move them out of {data}{listed}")


def _sample(by_class: dict[str, list[Path]], sample: int) -> list[Path]:
    """Every file when there are at most ``sample``; else a repeatable sample, each class in proportion and at least ``SAMPLE_PER_CLASS``."""
    total = sum(len(files) for files in by_class.values())
    if total <= sample:
        return [path for files in by_class.values() for path in files]
    chosen: list[Path] = []
    for name, files in by_class.items():
        take = min(len(files), max(SAMPLE_PER_CLASS, round(sample * len(files) / total)))
        chosen += random.Random(f"init:{name}").sample(sorted(files), take)
    return chosen


def _read_headers(found: Survey, by_class: dict[str, list[Path]], sample: int) -> None:
    class_of = {path: name for name, files in by_class.items() for path in files}
    paths = _sample(by_class, sample)
    with ThreadPoolExecutor(max_workers=8) as pool:
        headers = list(pool.map(read_header, paths))
    failed: Counter[str] = Counter()
    for path, header in zip(paths, headers, strict=True):
        if header.reason:
            failed[class_of[path]] += 1
            found.skipped.append(SkippedFile(str(path), header.reason))
        else:
            found.headers.append(header)
    found.listed, found.read = len(class_of), len(paths)
    found.counts = {name: len(files) - failed[name] for name, files in by_class.items()}
    unusable = [name for name, count in found.counts.items() if count == 0]
    if unusable:
        raise DataError(f"{found.location}: classes {unusable} have no image that can be read; " + _reasons(found.skipped, unusable, class_of))
    _look_for_transparency(found, [path for path, header in zip(paths, headers, strict=True) if header.has_alpha and not header.reason])


def _reasons(skipped: list[SkippedFile], classes: list[str], class_of: dict[Path, str]) -> str:
    why: dict[str, list[str]] = defaultdict(list)
    for item in skipped:
        if class_of.get(Path(item.path)) in classes:
            why[item.reason].append(item.path)
    return "; ".join(f"{len(paths)} file(s) {reason} (such as {paths[0]})" for reason, paths in why.items())


def _look_for_transparency(found: Survey, candidates: list[Path]) -> None:
    for path in sorted(candidates)[:ALPHA_CHECKS]:
        found.alpha_checked += 1
        if uses_transparency(path):
            found.transparent = path
            return
