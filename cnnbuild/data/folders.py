"""A folder of class sub-folders, as flower_photos and cell_images are laid out: its classes and files.

Every file under the folder ends up used or listed: files outside the class folders, class
folders left out by ``data.class_names``, and whatever :func:`~cnnbuild.data.walk.find_images`
does not take. Class names are compared in Unicode's composed form (NFC), so a folder named on
macOS (decomposed, NFD) matches the same name typed in a spec.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cnnbuild.contracts.data import SkippedFile
from cnnbuild.data.walk import IMAGE_SUFFIXES, Identity, find_images, holds_runs, is_hidden, is_system
from cnnbuild.errors import DataError, DataNotFound

SUFFIX_HINT = ".jpg, .png, .bmp, .gif, .webp, .tif"


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


@dataclass
class ClassFolders:
    """The class sub-folders of a data folder (name in NFC -> folder), and what else is there."""

    root: Path
    folders: dict[str, Path] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.folders)


def _has_image(folder: Path) -> bool:
    """Whether any image-suffixed file sits under ``folder`` outside hidden folders and run directories (stops at the first)."""
    visited: set[tuple[int, int]] = set()
    for current, dirs, files in os.walk(folder, followlinks=True):
        status = os.stat(current)
        if (status.st_dev, status.st_ino) in visited:  # a link loop: its files were looked at already
            dirs[:] = []
            continue
        visited.add((status.st_dev, status.st_ino))
        if any(Path(name).suffix.lower() in IMAGE_SUFFIXES and not is_hidden(name) for name in files):
            return True
        dirs[:] = [d for d in dirs if not is_hidden(d) and not is_system(d) and not holds_runs(Path(current) / d, 0)]
    return False


def class_folders(root: Path) -> ClassFolders:
    """The class folders of ``root``, sorted, without hidden folders and folders of cnnbuild runs
    (both listed); files lying next to the class folders are listed too."""
    if not root.exists():
        raise DataNotFound(f"{root}: folder does not exist; set data.path to a folder of class sub-folders (or give data.url)")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, not a folder of class sub-folders")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"{root}: cannot list folder: {exc.strerror}") from exc
    found = ClassFolders(root)
    for entry in entries:
        path = Path(entry.path)
        if not entry.is_dir(follow_symlinks=True):
            found.skipped.append(SkippedFile(str(path), "a file next to the class folders, not inside one; not used"))
        elif is_hidden(entry.name) or is_system(entry.name):
            found.skipped.append(SkippedFile(str(path), "hidden or system folder, not a class; not used"))
        elif holds_runs(path) and not _has_image(path):
            found.skipped.append(SkippedFile(str(path), "holds cnnbuild run directories (a spec's output.dir inside its data folder?); never read as data, not a class"))
        else:
            name = nfc(entry.name)
            if name in found.folders:
                raise DataError(f"{root}: class folders {found.folders[name].name!r} and {entry.name!r} have the same name written two ways in Unicode (composed and decomposed); rename one")
            found.folders[name] = path
    return found


def chosen_classes(found: ClassFolders, class_names: list[str] | None) -> list[str]:
    """The classes to use, in label order: ``class_names`` (matched in NFC), else every class folder."""
    names = [nfc(name) for name in class_names] if class_names else found.names
    missing = [name for name in names if name not in found.folders]
    if missing:
        raise DataError(f"{found.root}: class folders {missing} not found; folders there: {found.names or 'none'}")
    if not names:
        raise DataError(f"{found.root}: no class sub-folders found; put each class's images in a sub-folder named after the class (for example {found.root}/cats/*.jpg)")
    if len(names) < 2:
        raise DataError(f"{found.root}: only one class ({names[0]!r}); a classifier needs at least two class sub-folders")
    return names


def check_layout(root: Path, class_names: list[str] | None) -> list[str]:
    """The class names, after the cheap checks ``validate`` makes (a listing, no decoding):
    the folder exists, has two or more class folders, each holding an image file."""
    found = class_folders(root)
    names = chosen_classes(found, class_names)
    empty = [name for name in names if not _has_image(found.folders[name])]
    if empty:
        raise DataError(f"{root}: class folders {empty} hold no image files ({SUFFIX_HINT}, ...); add images, or list the classes to use in data.class_names")
    return names


@dataclass
class FolderListing:
    """What :func:`folder_listing` found: the classes in label order, every image candidate as
    ``(path, class)`` (paths as strings, no ``Path`` per file), everything not used with why, and
    each candidate's identity from the walk's ``stat`` (see :class:`~cnnbuild.data.walk.Found`)."""

    names: list[str]
    pairs: list[tuple[str, str]]
    skipped: list[SkippedFile]
    identities: dict[str, Identity]


def folder_listing(root: Path, class_names: list[str] | None) -> FolderListing:
    """The classes, every image candidate as ``(path, class)``, and everything not used, listed."""
    found = class_folders(root)
    names = chosen_classes(found, class_names)
    skipped = list(found.skipped)
    for name, folder in found.folders.items():
        if name not in names:
            skipped.append(SkippedFile(str(folder), "class folder not in data.class_names; not used"))
    seen = set()
    for folder in (root, *found.folders.values()):  # a link from one class into another (or up) is read once
        status = os.stat(folder)
        seen.add((status.st_dev, status.st_ino))
    pairs: list[tuple[str, str]] = []
    identities: dict[str, Identity] = {}
    for name in names:
        walked = find_images(found.folders[name], seen)
        pairs += [(path, name) for path in walked.paths]
        skipped += walked.skipped
        identities.update(walked.identities)
    return FolderListing(names, pairs, skipped, identities)


def folder_files(root: Path, class_names: list[str] | None) -> tuple[list[str], list[tuple[Path, str]], list[SkippedFile]]:
    """The classes, every image candidate as ``(path, class)``, and everything not used, listed."""
    listing = folder_listing(root, class_names)
    return listing.names, [(Path(path), name) for path, name in listing.pairs], listing.skipped
