"""The file-list data source helper: ``(path, class)`` pairs in, a checked, split, decoded ``Datasets`` out.

A plugin that knows which file is which class (a CSV, a JSON manifest, a pattern in the file
names, a database query) calls :func:`file_list_source` and gets what ``image_directory`` has:
every file checked before training (the scan index keeps verdicts between runs), unusable ones
listed with their reason, a stratified split that the seed repeats, parallel decoding with the
Pillow fallback and EXIF orientation, resizing, and a fingerprint of the file list.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cnnbuild.contracts.data import DataContext, DataParams, Datasets, SkippedFile
from cnnbuild.data.decode import decode_files
from cnnbuild.data.folders import SUFFIX_HINT, folder_listing, nfc
from cnnbuild.data.image_files import ImageFile, inspect_images
from cnnbuild.data.progress import Step
from cnnbuild.data.scan_index import ScanIndex
from cnnbuild.data.splitting import split_warnings, stratified_split
from cnnbuild.data.walk import Identity
from cnnbuild.errors import DataError


@dataclass
class Scan:
    """The usable images (each with its class index), the files left out, and the class names."""

    files: list[ImageFile]
    skipped: list[SkippedFile]
    class_names: list[str]

    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed, relabelled or changes size."""
        digest = hashlib.sha256()
        for item in self.files:
            digest.update(f"{item.label}\0{item.path}\0{item.size}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()


def check_files(
    pairs: Iterable[tuple[Path | str, str]], class_names: list[str], skipped: Iterable[SkippedFile] = (), *, where: str, identities: dict[str, Identity] | None = None
) -> Scan:
    """Check every file of ``pairs`` (``(path, class name)``); a class in ``class_names`` with no
    usable image, or fewer than two classes, is a :class:`DataError` naming ``where``.

    ``identities`` comes with the pairs of :func:`~cnnbuild.data.folders.folder_listing`: their
    paths are the walk's strings, used as they are, and each file's identity from the walk's
    ``stat`` spares the scan index a second one. Other paths are made ``Path`` objects first.
    """
    label_of = {nfc(name): label for label, name in enumerate(class_names)}
    left_out = list(skipped)
    candidates: list[tuple[Path | str, int]] = []
    for path, name in pairs:
        label = label_of.get(nfc(str(name)))
        if label is None:
            left_out.append(SkippedFile(str(path), f"class {name!r} is not in data.class_names; not used"))
        else:
            candidates.append((path if identities is not None or isinstance(path, Path) else Path(path), label))
    with Step("checking image files", total=len(candidates)) as step:
        verdicts = inspect_images([path for path, _ in candidates], index=ScanIndex.default(), step=step, identities=identities)
    files: list[ImageFile] = []
    for (path, label), verdict in zip(candidates, verdicts, strict=True):
        if verdict.reason:
            left_out.append(SkippedFile(str(path), verdict.reason))
        else:
            files.append(ImageFile(str(path), label, verdict.native, verdict.size, verdict.mtime_ns, verdict.digest))
    counts = Counter(item.label for item in files)
    empty = [name for label, name in enumerate(class_names) if not counts[label]]
    if empty:
        unreadable = sum(1 for item in left_out if item.reason.startswith(("cannot", "truncated", "not an image Pillow", "empty file")))
        detail = f" ({unreadable} files skipped as unreadable)" if unreadable else ""
        raise DataError(f"{where}: class folders {empty} hold no usable images{detail}; add images ({SUFFIX_HINT}, ...) or list the classes to use in data.class_names")
    return Scan(files, left_out, list(class_names))


def _duplicate_warning(files: list[ImageFile], class_names: list[str]) -> list[str]:
    by_digest: dict[str, list[ImageFile]] = defaultdict(list)
    for item in files:
        if item.digest:
            by_digest[item.digest].append(item)
    groups = [[f"{class_names[item.label]}/{Path(item.path).name}" for item in group] for group in by_digest.values() if len({item.label for item in group}) > 1]
    return [duplicates_message(groups)] if groups else []


def duplicates_message(groups: list[list[str]]) -> str:
    """The warning about identical images filed under more than one class (each group: the copies' names)."""
    shown = "; ".join(" = ".join(group) for group in groups[:5])
    more = f" (and {len(groups) - 5} more groups)" if len(groups) > 5 else ""
    return (
        f"{len(groups)} identical image(s) filed under more than one class: {shown}{more}; "
        "a copy in two classes teaches the model nothing and leaks between the splits; keep one copy in the right class"
    )


def datasets_from_files(scan: Scan, params: DataParams, context: DataContext, *, test: Scan | None = None, where: str) -> Datasets:
    """Split ``scan`` (stratified, by ``context.seed``), and decode each split in parallel."""
    files = sorted(scan.files, key=lambda f: f.path)
    train_index, validation_index = stratified_split([f.label for f in files], params.validation_split, context.seed)
    train, validation = [files[i] for i in train_index], [files[i] for i in validation_index]
    if not train:
        raise DataError(f"{where}: no training images left after the validation split; lower data.validation_split or add images")
    test_files = test.files if test is not None else []
    warnings = split_warnings([f.label for f in train], [f.label for f in validation], scan.class_names, params.validation_split)
    warnings += _duplicate_warning(files, scan.class_names)
    return Datasets(
        train=decode_files(train, params),
        validation=decode_files(validation, params) if validation else None,
        class_names=scan.class_names,
        train_count=len(train),
        validation_count=len(validation),
        test=decode_files(test_files, params) if test_files else None,
        test_count=len(test_files),
        skipped=scan.skipped + (test.skipped if test is not None else []),
        fingerprint=scan.fingerprint(),
        train_labels=[f.label for f in train],
        files=[(f.path, f.label, "train") for f in train] + [(f.path, f.label, "validation") for f in validation] + [(f.path, f.label, "test") for f in test_files],
        warnings=warnings,
    )


def file_list_source(
    pairs: Iterable[tuple[str | Path, str]],
    params: DataParams,
    context: DataContext,
    *,
    class_names: list[str] | None = None,
    skipped: Iterable[SkippedFile] = (),
    test_pairs: Iterable[tuple[str | Path, str]] | None = None,
    where: str,
) -> Datasets:
    """A ``Datasets`` from ``(path, class name)`` pairs: what a file-list data source returns.

    ``class_names`` gives the classes and their label order (default: every class in ``pairs``,
    sorted); pairs of other classes are listed as skipped. ``skipped`` are files the plugin left
    out itself (with reasons), ``test_pairs`` a separate test set, ``where`` names the data in
    messages (a file or folder). Relative paths are resolved against ``context.base_dir``.
    """
    resolved = [(context.resolve_path(path), str(name)) for path, name in pairs]
    names = [str(name) for name in class_names] if class_names else sorted({nfc(name) for _, name in resolved})
    if len(names) < 2:
        raise DataError(f"{where}: {len(names)} class(es) found ({names}); a classifier needs at least two")
    scan = check_files(resolved, names, skipped, where=where)
    test = None
    if test_pairs is not None:
        test = check_files([(context.resolve_path(path), str(name)) for path, name in test_pairs], names, where=f"{where} (test set)")
    return datasets_from_files(scan, params, context, test=test, where=where)


def scan(root: Path, class_names: list[str] | None = None) -> Scan:
    """Check every file under a folder of class sub-folders (see :mod:`cnnbuild.data.folders`)."""
    listing = folder_listing(Path(root), class_names)
    return check_files(listing.pairs, listing.names, listing.skipped, where=str(root), identities=listing.identities)
