"""Download a dataset archive and extract it without ever writing outside the target folder."""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from cnnbuild.data.cache import CACHE_ENV, archive_name, cache_dir_for, cache_root, download_path
from cnnbuild.errors import DataError

__all__ = ["CACHE_ENV", "cache_dir_for", "cache_root", "download", "download_path", "extract", "fetch_and_extract"]  # the paths kept importable from here


def download(url: str, sha256: str | None = None, extract_to: Path | None = None) -> Path:
    """The archive at ``url`` in the download cache; a partial or mismatching file is never kept.

    ``extract_to`` (the folder ``data.path`` names, if it does) is where an unreachable ``url``'s
    message says to extract the archive by hand."""
    target = download_path(url)
    if target.exists() and (sha256 is None or _sha256(target) == sha256.lower()):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:  # noqa: S310 - scheme checked by the spec
            expected = response.headers.get("Content-Length")
            shutil.copyfileobj(response, out, length=1 << 20)
        received = partial.stat().st_size
        if expected is not None and received != int(expected):
            raise DataError(f"{url}: download incomplete ({received} of {expected} bytes); run again to retry")
        if sha256 is not None:
            actual = _sha256(partial)
            if actual != sha256.lower():
                raise DataError(f"{url}: checksum mismatch: expected sha256 {sha256.lower()}, got {actual}; the file changed or the download is corrupt")
        partial.replace(target)
    except urllib.error.HTTPError as exc:
        raise DataError(f"{url}: download failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:  # no answer at all: offline, an unknown host, a refused connection
        by_hand = f"extract it so that {extract_to} holds its class folders (data.path)" if extract_to else "extract it and set data.path to the folder that holds its class folders"
        raise DataError(
            f"{url}: download failed: {exc.reason}; without a network, download {archive_name(url)} from that address on another machine "
            f"and put it at {target} (it is used from there), or {by_hand}"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:  # HTTPException: the connection broke mid-body
        raise DataError(f"{url}: download failed: {getattr(exc, 'reason', None) or exc or type(exc).__name__}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inside(root: Path, path: Path) -> bool:
    target = path.resolve()
    return target == root or root in target.parents


def extract(archive: Path, destination: Path) -> None:
    """Extract a tar or zip archive into ``destination``, refusing entries that would escape it."""
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                problem = None
                if member.name.startswith(("/", "\\")) or Path(member.name).is_absolute():
                    problem = "absolute path"
                elif not _inside(root, root / member.name):
                    problem = "path outside the target folder"
                elif member.issym() or member.islnk():
                    link_base = (root / member.name).parent if member.issym() else root
                    if os.path.isabs(member.linkname) or not _inside(root, link_base / member.linkname):
                        problem = f"link to {member.linkname!r} outside the target folder"
                elif member.isdev() or member.isfifo():
                    problem = "device or FIFO entry"
                if problem:
                    raise DataError(f"{archive}: refusing entry {member.name!r}: {problem}; the archive is unsafe")
            try:
                tar.extractall(destination, filter="data")
            except tarfile.FilterError as exc:  # e.g. a path that only escapes through a symlink extracted before it
                raise DataError(f"{archive}: refusing entry {exc.tarinfo.name!r}: {exc}; the archive is unsafe") from exc
        return
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                if name.startswith(("/", "\\")) or ":" in name.split("/")[0] or not _inside(root, root / name):
                    raise DataError(f"{archive}: refusing entry {name!r}: path outside the target folder; the archive is unsafe")
            zipped.extractall(destination)
        return
    raise DataError(f"{archive}: not a tar or zip archive")


def _discard(url: str, archive: Path, problem: str) -> None:
    """Remove a cached download that cannot be used, so the next run fetches it again.

    A server that sends no Content-Length can cut a body short unnoticed; without this, the
    short file would be reused (and fail) on every run.
    """
    archive.unlink(missing_ok=True)
    raise DataError(f"{url}: {problem}; the cached copy was removed, run again to download it afresh")


def fetch_and_extract(url: str, target: Path, sha256: str | None = None) -> Path:
    """Download ``url`` and extract it so that ``target`` holds the class folders."""
    archive = download(url, sha256, None if target == cache_dir_for(url) else target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (tarfile.is_tarfile(archive) or zipfile.is_zipfile(archive)):
        _discard(url, archive, "it is not a tar or zip archive (an error page instead of the file?)")
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        try:
            extract(archive, staging)
        except OSError as exc:
            if exc.errno is not None:  # the disk, not the archive: keep the download
                raise DataError(f"{url}: cannot extract into {target.parent}: {exc.strerror}; free disk space or set {CACHE_ENV}") from exc
            _discard(url, archive, f"the archive is corrupt or incomplete ({type(exc).__name__}: {exc})")
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as exc:
            _discard(url, archive, f"the archive is corrupt or incomplete ({type(exc).__name__}: {exc})")
        entries = [p for p in staging.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        source = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
        source.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
