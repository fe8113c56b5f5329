"""Datasets given by ``url``: unsafe archive entries are refused, checksums are enforced, and a
cut-off download is never taken for the whole file."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnnbuild.errors import DataError
from cnnbuild.data.archives import CACHE_ENV, cache_dir_for, download, fetch_and_extract
from cnnbuild.plugins.builtin.image_directory import ImageDirectoryParams, load
from cnnbuild.contracts import DataContext

from ..conftest import make_images


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def _member(name: str, **fields: object) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(member, key, value)
    return member


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members:
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def dataset_tar(path: Path, source: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname="shapes")
    return path


SYM, LNK, CHR, BLK, FIFO, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.DIRTYPE

UNSAFE_TARS = {
    "parent path": [(_member("../escaped.txt"), b"x")],
    "parent path inside": [(_member("shapes/../../escaped.txt"), b"x")],
    "absolute path": [(_member("/tmp/cnnbuild-escaped.txt"), b"x")],
    "symlink to an absolute path": [(_member("link", type=SYM, linkname="/etc/passwd"), None)],
    "symlink climbing out": [(_member("link", type=SYM, linkname="../../escaped"), None)],
    "write through a symlink": [(_member("d", type=SYM, linkname="."), None), (_member("d/../../escaped.txt"), b"x")],
    "symlink chain out": [(_member("a", type=SYM, linkname="."), None), (_member("b", type=SYM, linkname="a/.."), None), (_member("b/escaped.txt"), b"x")],
    "link then parent": [(_member("sub", type=DIR), None), (_member("sub/up", type=SYM, linkname=".."), None), (_member("sub/up/../escaped.txt"), b"x")],
    "hard link to an absolute path": [(_member("h", type=LNK, linkname="/etc/passwd"), None)],
    "hard link climbing out": [(_member("h", type=LNK, linkname="../escaped"), None)],
    "character device": [(_member("dev", type=CHR, devmajor=1, devminor=3), None)],
    "block device": [(_member("disk", type=BLK, devmajor=8, devminor=0), None)],
    "fifo": [(_member("pipe", type=FIFO), None)],
}


@pytest.mark.parametrize("name", sorted(UNSAFE_TARS))
def test_unsafe_tar_entries_are_refused_and_nothing_lands_outside(tmp_path, tally, name):
    archive = make_tar(tmp_path / "evil.tar.gz", UNSAFE_TARS[name])
    target = tmp_path / "area" / "datasets" / "evil"
    before = set((tmp_path).rglob("*"))
    with pytest.raises(DataError, match="refusing entry .*the archive is unsafe"):
        fetch_and_extract(archive.as_uri(), target)
    after = set(tmp_path.rglob("*"))
    created = {path for path in after - before if "cache" not in path.parts}
    assert created <= {tmp_path / "area", tmp_path / "area" / "datasets"}, created  # no staging left, nothing escaped
    assert not Path("/tmp/cnnbuild-escaped.txt").exists()
    tally["unsafe archive entries refused"] += 1


@pytest.mark.parametrize("entry", ["../escaped.txt", "/abs/escaped.txt", "C:/escaped.txt", "a/../../escaped.txt"])
def test_unsafe_zip_entries_are_refused(tmp_path, tally, entry):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("shapes/a/x.txt", "fine")
        zipped.writestr(entry, "bad")
    with pytest.raises(DataError, match="refusing entry"):
        fetch_and_extract(archive.as_uri(), tmp_path / "area" / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "area" / "escaped.txt").exists()
    tally["unsafe archive entries refused"] += 1


def test_a_url_dataset_downloads_checks_and_trains_from_the_archive(tmp_path, tally):
    archive = dataset_tar(tmp_path / "shapes.tar.gz", make_images(tmp_path / "src", {"a": 6, "b": 6}))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    params = ImageDirectoryParams(url=archive.as_uri(), sha256=digest, image_size=(8, 8))
    source = load(params, DataContext(base_dir=tmp_path))
    assert source.class_names == ["a", "b"] and source.train_count + source.validation_count == 12
    assert (cache_dir_for(archive.as_uri()) / "a").is_dir()
    tally["archives extracted and used"] += 1


def test_checksum_mismatch_is_an_error_and_keeps_nothing(tmp_path, cache, tally):
    archive = dataset_tar(tmp_path / "shapes.tar.gz", make_images(tmp_path / "src", {"a": 2, "b": 2}))
    with pytest.raises(DataError, match="checksum mismatch: expected sha256 0{64}, got [0-9a-f]{64}"):
        download(archive.as_uri(), "0" * 64)
    assert not any(path.is_file() for path in cache.rglob("*"))
    tally["checksum mismatches refused"] += 1


class _Server(http.server.ThreadingHTTPServer):
    routes: dict[str, tuple[bytes, int | None]]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body, declared = self.server.routes.get(self.path, (b"", None))
        if not body:
            self.send_error(404)
            return
        self.send_response(200)
        if declared is not None:
            self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _url(server: _Server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_a_body_shorter_than_its_content_length_is_not_kept(tmp_path, server, cache, tally):
    whole = dataset_tar(tmp_path / "shapes.tar.gz", make_images(tmp_path / "src", {"a": 4, "b": 4})).read_bytes()
    server.routes["/shapes.tar.gz"] = (whole[: len(whole) // 2], len(whole))
    url = _url(server, "/shapes.tar.gz")
    with pytest.raises(DataError, match=rf"download incomplete \({len(whole) // 2} of {len(whole)} bytes\)"):
        fetch_and_extract(url, cache_dir_for(url))
    assert not any(path.is_file() for path in cache.rglob("*")), "a partial download was kept"
    server.routes["/shapes.tar.gz"] = (whole, len(whole))  # the network recovers: the next run succeeds
    fetch_and_extract(url, cache_dir_for(url))
    assert sorted(p.name for p in cache_dir_for(url).iterdir()) == ["a", "b"]
    tally["partial downloads detected"] += 1


def test_a_cut_body_without_length_is_found_corrupt_and_fetched_again(tmp_path, server, cache, tally):
    whole = dataset_tar(tmp_path / "shapes.tar.gz", make_images(tmp_path / "src", {"a": 4, "b": 4})).read_bytes()
    server.routes["/nolength.tar.gz"] = (whole[: len(whole) // 2], None)
    url = _url(server, "/nolength.tar.gz")
    with pytest.raises(DataError, match="corrupt or incomplete.*cached copy was removed"):
        fetch_and_extract(url, cache_dir_for(url))
    assert not list((cache / "downloads").iterdir())
    assert not cache_dir_for(url).exists()
    server.routes["/nolength.tar.gz"] = (whole, None)
    fetch_and_extract(url, cache_dir_for(url))
    assert sorted(p.name for p in cache_dir_for(url).iterdir()) == ["a", "b"]
    tally["partial downloads detected"] += 1


def test_an_error_page_instead_of_an_archive_is_not_cached(server, cache, tally):
    server.routes["/data.zip"] = (b"<html>please log in</html>", None)
    url = _url(server, "/data.zip")
    with pytest.raises(DataError, match="not a tar or zip archive"):
        fetch_and_extract(url, cache_dir_for(url))
    assert not list((cache / "downloads").iterdir())
    with pytest.raises(DataError, match="HTTP 404"):
        download(_url(server, "/missing.zip"))
    tally["bad downloads refused"] += 2


def test_an_unreachable_address_names_the_archive_where_to_put_it_and_data_path(tmp_path, cache, tally):
    import socket

    from cnnbuild.data.archives import download_path

    with socket.socket() as probe:  # a port nothing listens on: the connection is refused, as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/shapes.tar.gz"
    with pytest.raises(DataError) as failure:
        load(ImageDirectoryParams(url=url, image_size=(8, 8)), DataContext(base_dir=tmp_path))
    message = str(failure.value)
    assert message.startswith(f"{url}: download failed: [Errno 111] Connection refused; without a network, download shapes.tar.gz from that address")
    assert f"put it at {download_path(url)} (it is used from there)" in message and "set data.path to the folder that holds its class folders" in message
    download_path(url).parent.mkdir(parents=True, exist_ok=True)  # doing what it says works without a network
    dataset_tar(download_path(url), make_images(tmp_path / "src", {"a": 4, "b": 4}))
    assert load(ImageDirectoryParams(url=url, image_size=(8, 8)), DataContext(base_dir=tmp_path)).class_names == ["a", "b"]
    tally["unreachable downloads explained"] += 1
    named = ImageDirectoryParams(url=url.replace("shapes", "other"), path="photos", image_size=(8, 8))  # data.path names where it goes
    with pytest.raises(DataError, match=rf"or extract it so that {tmp_path / 'photos'} holds its class folders \(data.path\)$"):
        load(named, DataContext(base_dir=tmp_path))
