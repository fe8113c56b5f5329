"""check_images (the bulk check scan uses) gives exactly check_image's answers, file by file."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from cnnbuild.data.files import scan
from cnnbuild.data.image_files import check_image, check_images
from tests.conftest import make_images


def _awkward_files(folder: Path) -> list[Path]:
    """Good and bad files of every kind the check tells apart."""
    make_images(folder, {"a": 3, "b": 3}, formats=("JPEG", "PNG", "BMP"))
    good = sorted((folder / "a").glob("*.jpg"))[0]
    data = good.read_bytes()
    bad = folder / "a"
    (bad / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "notes.png").write_text("not a picture\n")
    (bad / "trailer.jpg").write_bytes(data + b"camera trailer after the end marker")
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2 : len(corrupt) // 2 + 40] = b"\x00" * 40
    (bad / "scrambled.jpg").write_bytes(bytes(corrupt))
    Image.new("CMYK", (20, 20), (10, 20, 30, 40)).save(bad / "cmyk.jpg")
    Image.new("RGB", (20, 20), (200, 10, 10)).save(bad / "picture.webp")
    Image.new("I;16", (20, 20)).save(bad / "deep.png")
    # Headers that read fine over pixel data that does not: only a full decode finds these.
    noise = Image.effect_noise((160, 160), 60).convert("RGB")
    noise.save(bad / "large.jpg", quality=95)
    large = (bad / "large.jpg").read_bytes()
    (bad / "cut_in_pixels.jpg").write_bytes(large[: int(len(large) * 0.6)])
    noise.save(bad / "large.png")
    png = bytearray((bad / "large.png").read_bytes())
    start = png.index(b"IDAT") + 200
    png[start : start + 64] = bytes(64)
    (bad / "bad_pixels.png").write_bytes(bytes(png))
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_bulk_check_matches_the_single_file_check(tmp_path):
    paths = _awkward_files(tmp_path / "images")
    expected = [check_image(path) for path in paths]
    assert check_images(paths) == expected
    by_name = dict(zip((p.name for p in paths), expected))
    assert by_name["empty.jpg"] == (False, "empty file (0 bytes)")
    assert by_name["truncated.jpg"][1]  # skipped with a reason
    assert by_name["notes.png"] == (False, "not an image Pillow can read (corrupt or another file type)")
    assert by_name["trailer.jpg"] == (True, "")  # the full decode accepts bytes after the end marker
    assert by_name["cmyk.jpg"] == (False, "") and by_name["picture.webp"] == (False, "")  # usable, read by Pillow
    assert by_name["a_000.jpg"] == (True, "") and by_name["a_001.png"] == (True, "")
    assert by_name["cut_in_pixels.jpg"][1].startswith("cannot decode") and by_name["bad_pixels.png"][1].startswith("cannot decode")


def test_scan_keeps_the_usable_files_and_lists_the_rest(tmp_path):
    paths = _awkward_files(tmp_path / "images")
    found = scan(tmp_path / "images")
    usable = {Path(f.path).name for f in found.files}
    skipped = {Path(s.path).name for s in found.skipped}
    assert usable | skipped == {p.name for p in paths}
    assert {"empty.jpg", "truncated.jpg", "notes.png", "cut_in_pixels.jpg", "bad_pixels.png"} <= skipped
    assert {"trailer.jpg", "cmyk.jpg", "picture.webp", "a_000.jpg"} <= usable
