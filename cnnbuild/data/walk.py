"""Every file under a data folder, sorted into image candidates and the rest, each of the rest with its reason.

One rule for training, evaluation and ``predict FOLDER``:

- symbolic links are followed, files and folders alike; a folder is read once (a link back to a
  folder already read, a loop, is listed instead), and a broken link is listed;
- hidden files and folders (a leading ``.``) and the system's own files (``Thumbs.db``,
  ``desktop.ini``, ``__MACOSX``) are not used and are listed, a hidden folder with the number of
  images it holds;
- a cnnbuild run directory is never read as data (a spec inside its own data folder would
  otherwise train on its previous runs' figures), and is listed;
- a file with an image suffix is a candidate (the image check decides); a photo format that
  cannot be read (HEIC, RAW, SVG) is listed with what to do; anything else is listed as not an image.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cnnbuild.contracts.data import SkippedFile
from cnnbuild.contracts.run_layout import is_run_directory

#: Suffixes of the formats cnnbuild reads (TensorFlow's decoders or Pillow's), any case.
IMAGE_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .jfif .png .apng .bmp .dib .gif .webp .tif .tiff .avif .avifs .ppm .pgm .pbm .pnm .tga .qoi .jp2 .j2k .jpx .jpf".split()
)
_CONVERT = "convert it to JPEG or PNG to use it"
#: Image formats people have that cnnbuild cannot decode, and what to do about each.
UNREADABLE_IMAGES = {
    **dict.fromkeys((".heic", ".heif", ".hif"), f"HEIC/HEIF photo (an iPhone's default format), which cnnbuild cannot decode; {_CONVERT} (for example with heif-convert or an image viewer's export)"),
    ".svg": "SVG drawing (vector graphics, not pixels); render it to PNG to use it",
    ".jxl": f"JPEG XL image, which cnnbuild cannot decode; {_CONVERT}",
    **dict.fromkeys((".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf", ".raw"), f"camera RAW file, which cnnbuild cannot develop; {_CONVERT} (export from the camera's or a photo editor's software)"),
    ".psd": f"Photoshop document; {_CONVERT}",
    ".eps": f"EPS drawing; {_CONVERT}",
    ".pdf": f"PDF document; {_CONVERT}",
}
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "__macosx", "$recycle.bin", "system volume information"})
#: How deep under a class folder to look for run directories (output.dir/<name>/<timestamp>).
RUN_SEARCH_DEPTH = 3


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def is_system(name: str) -> bool:
    return name.lower() in SYSTEM_FILES


#: What the scan index compares to call a file unchanged (its module says why):
#: size, modification time, inode and status-change time, as ``os.stat`` gives them.
Identity = tuple[int, int, int, int]
#: Whether a directory entry's ``stat()`` gives what ``os.stat`` does (on Windows it gives no inode).
ENTRY_STAT_IS_FULL = os.name != "nt"


def identity(status: os.stat_result) -> Identity:
    """The part of a file's status that must not change for its checked verdict to hold."""
    return (status.st_size, status.st_mtime_ns, status.st_ino, status.st_ctime_ns)


@dataclass
class Found:
    """The image candidates under a folder (sorted), and everything else with its reason."""

    #: the image candidates' paths as strings, sorted (the walk makes no Path per file)
    paths: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    #: run directories met (never read)
    runs: list[Path] = field(default_factory=list)
    #: each candidate's :data:`Identity` from the walk's own ``stat`` (empty where that is not
    #: the full ``os.stat``), so the scan index need not ``stat`` every file a second time
    identities: dict[str, Identity] = field(default_factory=dict)

    @property
    def images(self) -> list[Path]:
        """The image candidates, sorted."""
        return [Path(path) for path in self.paths]


def _count_images(folder: Path) -> int:
    count = 0
    for _, _, names in os.walk(folder, followlinks=False):
        count += sum(1 for name in names if Path(name).suffix.lower() in IMAGE_SUFFIXES)
    return count


def _folder_key(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def classify_file(path: Path) -> str | None:
    """Why the file at ``path`` is not an image candidate, or None when it is one (by its name alone)."""
    return _classify_name(path.name)


def _suffix(name: str) -> str:
    """``Path(name).suffix``, without making a Path (the walk calls it once a file)."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _classify_name(name: str) -> str | None:
    if is_hidden(name):
        return "hidden file (its name starts with '.'); not used"
    if is_system(name):
        return "the operating system's own file; not used"
    suffix = _suffix(name).lower()
    if suffix in IMAGE_SUFFIXES:
        return None
    if suffix in UNREADABLE_IMAGES:
        return UNREADABLE_IMAGES[suffix]
    return f"not an image file ({'suffix ' + suffix if suffix else 'no suffix'}); not used"


def find_images(folder: Path, seen: set[tuple[int, int]] | None = None) -> Found:
    """Every file under ``folder``, recursively (see the module's rules). ``seen`` holds the
    folders already read (shared between calls, so two class folders never read one folder twice)."""
    found = Found()
    seen = set() if seen is None else seen
    key = _folder_key(folder)
    if key is not None:
        seen.add(key)
    _read(Path(folder), found, seen)
    if os.name == "nt":  # Path objects sort there ignoring case; the walk's order is case-sensitive
        found.paths.sort(key=path_order)
    return found


def path_order(path: str) -> list[str]:
    """The sort key that orders path strings as ``Path`` objects sort: part by part ("x/a.jpg"
    before "x-1.jpg", which a plain string sort puts first), so the file order stays that of
    earlier releases (a run's data fingerprint follows it). The walk already yields this order
    where names compare case-sensitively: each folder's entries sorted by name, a sub-folder's
    files in its name's place."""
    return os.path.normcase(path).split(os.sep)


def _read(folder: Path, found: Found, seen: set[tuple[int, int]]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        found.skipped.append(SkippedFile(str(folder), f"cannot list folder: {exc.strerror or exc}"))
        return
    for entry in entries:  # strings and the entry's own stat until a Path is needed: this runs once a file
        try:
            is_link = entry.is_symlink()
            info = entry.stat()  # follows links
        except OSError:
            target = os.readlink(entry.path) if os.path.islink(entry.path) else "?"
            found.skipped.append(SkippedFile(entry.path, f"broken symbolic link (to {target}); cannot read"))
            continue
        name = entry.name
        if stat.S_ISREG(info.st_mode) and name[0] != "." and name[name.rfind(".") :].lower() in IMAGE_SUFFIXES and name.lower() not in SYSTEM_FILES:
            # the common case, inlined: a plain image file (what _classify_name returns None for)
            found.paths.append(entry.path)
            if ENTRY_STAT_IS_FULL:
                found.identities[entry.path] = (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
        elif stat.S_ISDIR(info.st_mode):
            _folder(Path(entry.path), entry.name, is_link, (info.st_dev, info.st_ino), found, seen)
        elif not stat.S_ISREG(info.st_mode) and _suffix(entry.name).lower() not in IMAGE_SUFFIXES:
            found.skipped.append(SkippedFile(entry.path, "not a regular file (a pipe, device or socket)"))
        else:
            reason = _classify_name(entry.name)
            if reason is None:
                found.paths.append(entry.path)
                if ENTRY_STAT_IS_FULL:
                    found.identities[entry.path] = (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
            else:
                found.skipped.append(SkippedFile(entry.path, reason))


def _folder(path: Path, name: str, is_link: bool, key: tuple[int, int], found: Found, seen: set[tuple[int, int]]) -> None:
    if is_hidden(name) or is_system(name):
        count = _count_images(path)
        what = "hidden folder (its name starts with '.')" if is_hidden(name) else "the operating system's own folder"
        hint = f" holding {count} image file(s); not used (rename it without the leading '.' to use them)" if count and is_hidden(name) else "; not used"
        found.skipped.append(SkippedFile(str(path), what + hint))
        return
    if key in seen:
        why = "a symbolic link to a folder already read (a loop, or the same folder twice)" if is_link else "a folder already read"
        found.skipped.append(SkippedFile(str(path), f"{why}; read once only"))
        return
    try:
        names = set(os.listdir(path))
    except OSError:
        names = set()
    if is_run_directory(names):
        found.runs.append(path)
        found.skipped.append(SkippedFile(str(path), "a cnnbuild run directory (a run's output, such as its figures); never read as data"))
        return
    seen.add(key)
    _read(path, found, seen)


def holds_runs(folder: Path, depth: int = RUN_SEARCH_DEPTH) -> bool:
    """Whether ``folder`` is, or holds within ``depth`` levels, a cnnbuild run directory."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return False
    if is_run_directory({entry.name for entry in entries}):
        return True
    if depth == 0:
        return False
    return any(holds_runs(Path(entry.path), depth - 1) for entry in entries if not is_hidden(entry.name) and _is_folder(entry))


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # the listing's file type: no stat for a plain file
    except OSError:
        return False
