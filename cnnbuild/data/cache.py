"""Where cnnbuild keeps downloads, extracted datasets and its other caches: paths only, nothing
written, so ``validate`` can name them without the archive code (``cnnbuild.data.archives``)."""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from pathlib import Path

CACHE_ENV = "CNNBUILD_CACHE_DIR"


def cache_root() -> Path:
    """Where downloads and extracted datasets live (``$CNNBUILD_CACHE_DIR`` or ~/.cache/cnnbuild)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "cnnbuild"


def archive_name(url: str) -> str:
    """The file name an archive at ``url`` is kept under, safe on every file system."""
    name = Path(urllib.parse.urlparse(url).path).name or "dataset"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def cache_dir_for(url: str) -> Path:
    """The folder a dataset given only by ``url`` is extracted to."""
    name = archive_name(url)
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".tar.bz2", ".tar.xz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return cache_root() / "datasets" / f"{name}-{digest}"


def download_path(url: str) -> Path:
    """Where the archive at ``url`` is kept once downloaded (a file put there is used as it)."""
    return cache_root() / "downloads" / f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{archive_name(url)}"
