"""A messy photo folder, generated: every format and mode people's cameras and tools produce,
broken files, decompression bombs, odd names, links and folders."""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

RED = (200, 30, 30)
GREEN = (30, 200, 30)


@dataclass
class Corpus:
    """What a corpus folder holds: usable files with the colour they must decode to, and the
    files that must be skipped with a word their reason contains."""

    root: Path
    classes: list[str]
    good: dict[Path, tuple[tuple[int, int, int], int]] = field(default_factory=dict)  # path -> (rgb, alpha)
    bad: dict[Path, str] = field(default_factory=dict)  # path -> word in the reason
    #: not images to use (hidden, system, other files, links to folders already read): listed with a word of the reason
    listed: dict[Path, str] = field(default_factory=dict)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A short PNG whose header declares ``width`` x ``height`` pixels (a bomb costs nothing to make)."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG with its frame header patched to say ``width`` x ``height``."""
    data = bytearray(_encoded("RGB", RED, "JPEG"))
    at = data.index(b"\xff\xc0")  # SOF0: marker, length (2), precision (1), height (2), width (2)
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _encoded(mode: str, colour: object, image_format: str, size: tuple[int, int] = (20, 16), **options: object) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format=image_format, **options)
    return out.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _good_files(folder: Path, rgb: tuple[int, int, int], corpus: Corpus) -> None:
    from PIL import Image

    def add(name: str, data: bytes, colour: tuple[int, int, int] = rgb, alpha: int = 255) -> None:
        corpus.good[_write(folder / name, data)] = (colour, alpha)

    grey = round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    add("plain.jpg", _encoded("RGB", rgb, "JPEG", quality=95))
    add("plain.png", _encoded("RGB", rgb, "PNG"))
    add("picture.bmp", _encoded("RGB", rgb, "BMP"))
    add("picture.webp", _encoded("RGB", rgb, "WEBP", lossless=True))
    add("picture.tiff", _encoded("RGB", rgb, "TIFF"))
    frames = [Image.new("RGB", (20, 16), rgb), Image.new("RGB", (20, 16), (0, 0, 0))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    add("animated.gif", gif.getvalue())
    cmyk = Image.new("RGB", (20, 16), rgb).convert("CMYK")
    out = io.BytesIO()
    cmyk.save(out, format="JPEG", quality=95)
    add("cmyk.jpg", out.getvalue())
    add("deep16.png", _encoded("I;16", 40000, "PNG"), (156, 156, 156))  # 40000 / 257
    add("rgba.png", _encoded("RGBA", (*rgb, 100), "PNG"), rgb, 100)
    add("palette.png", _palette_png(rgb))
    # half the picture in the transparent colour, the checked pixel in it: alpha 0 in rgba, the colour itself in rgb and grayscale
    add("transparent.gif", transparent_palette_image(rgb, "GIF"), rgb, 0)
    add("transparent-palette.png", transparent_palette_image(rgb, "PNG"), rgb, 0)
    add("grey.jpg", _encoded("L", grey, "JPEG", quality=95), (grey, grey, grey))
    add("grey-alpha.png", _encoded("LA", (grey, 180), "PNG"), (grey, grey, grey), 180)
    add("png-named.jpg", _encoded("RGB", rgb, "PNG"))
    add("webp-named.png", _encoded("RGB", rgb, "WEBP", lossless=True))
    add("camera-trailer.jpg", _encoded("RGB", rgb, "JPEG", quality=95) + b"SEFH" + bytes(4000))
    add("ünïcødé naïve 🌸.jpg", _encoded("RGB", rgb, "JPEG", quality=95))
    add("  spaces  in name .png", _encoded("RGB", rgb, "PNG"))
    add("nested/deeper/still/inner.png", _encoded("RGB", rgb, "PNG"))
    add("UPPER.JPEG", _encoded("RGB", rgb, "JPEG", quality=95))
    latin1 = os.fsencode(folder) + b"/caf\xe9-latin1.png"  # a name that is not valid UTF-8
    with open(latin1, "wb") as handle:
        handle.write(_encoded("RGB", rgb, "PNG"))
    corpus.good[Path(os.fsdecode(latin1))] = (rgb, 255)


def transparent_palette_image(rgb: tuple[int, int, int], image_format: str) -> bytes:
    """A 20x16 palette image whose right half (columns 8 on) is palette entry 0, ``rgb``, marked transparent; the left half is black."""
    from PIL import Image

    image = Image.new("P", (20, 16), 1)
    image.putpalette([*rgb, 0, 0, 0] + [0] * 762)
    image.paste(0, (8, 0, 20, 16))
    out = io.BytesIO()
    image.save(out, format=image_format, transparency=0)
    return out.getvalue()


def _palette_png(rgb: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 16), rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(out, format="PNG")
    return out.getvalue()


def _bad_files(folder: Path, corpus: Corpus) -> None:
    jpeg = _encoded("RGB", RED, "JPEG", size=(64, 48), quality=90)
    png = _encoded("RGB", RED, "PNG", size=(64, 48))

    def add(name: str, data: bytes, reason: str) -> None:
        corpus.bad[_write(folder / name, data)] = reason

    add("truncated.jpg", jpeg[: len(jpeg) // 2], "truncated")
    add("truncated.png", png[: len(png) - 30], "truncated")
    add("zero-bytes.jpg", b"", "empty file")
    add("notes.jpg", b"shopping list: milk, eggs\n", "not an image")
    add("error-page.jpg", b"<!doctype html><html><body>403 Forbidden</body></html>", "not an image")
    add("bomb-header.png", png_declaring(20000, 20000), "decompression bomb")
    add("bomb-header.jpg", jpeg_declaring(20000, 20000), "decompression bomb")
    add("big-but-legal-header.png", png_declaring(7000, 7000), "truncated")  # 49 MP is allowed; its pixel data is missing
    noisy = mutation_seeds()[".png"]
    add("corrupt-middle.png", noisy[: len(noisy) // 2] + bytes(64) + noisy[len(noisy) // 2 + 64 :], "cannot decode")
    broken = folder / "dangling-link.jpg"
    broken.symlink_to(folder / "does-not-exist.jpg")
    corpus.bad[broken] = "cannot read"
    fifo = folder / "pipe.jpg"
    os.mkfifo(fifo)  # opening it would block forever
    corpus.bad[fifo] = "not a regular file"
    device = folder / "zeros.jpg"
    device.symlink_to("/dev/zero")  # an endless file
    corpus.bad[device] = "not a regular file"


def real_bomb(path: Path) -> Path:
    """A complete, valid 20000 x 20000 PNG (one bit per pixel, all black): about 50 MB in
    memory while written, a few hundred kilobytes on disk."""
    from PIL import Image

    Image.new("1", (20000, 20000), 0).save(path, format="PNG", optimize=False)
    return path


def build_corpus(root: Path) -> Corpus:
    """Two classes, ``red`` and ``green``, of every usable kind of image, with the broken and
    the dangerous mixed in, plus the folder-level mess around them."""
    corpus = Corpus(root, ["green", "red"])
    _good_files(root / "red", RED, corpus)
    _good_files(root / "green", GREEN, corpus)
    _bad_files(root / "red", corpus)
    for hidden, word in ((root / "red" / ".hidden.jpg", "hidden file"), (root / "red" / "._resource-fork.jpg", "hidden file"), (root / "green" / "Thumbs.db", "operating system")):
        _write(hidden, _encoded("RGB", RED, "JPEG"))
        corpus.listed[hidden] = word
    corpus.listed[_write(root / ".DS_Store", b"\x00\x00\x00\x01Bud1")] = "next to the class folders"
    (root / "red" / "loop").symlink_to("..")  # a link back up: a walk that follows it never ends
    corpus.listed[root / "red" / "loop"] = "already read"
    (root / "green" / "self").symlink_to(".")
    corpus.listed[root / "green" / "self"] = "already read"
    (root / "empty-class").mkdir()
    corpus.listed[root / "empty-class"] = "not in data.class_names"  # the corpus's classes are red and green
    corpus.listed[_write(root / "class-that-is-a-file", b"not a folder")] = "next to the class folders"
    corpus.listed[_write(root / "red" / "readme.txt", b"not an image file")] = "not an image file"
    return corpus


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One way a file gets damaged: bit flips, a cut, a cut with the end marker put back,
    garbage appended, or a block overwritten."""
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        data = data[: rng.randrange(1, len(data))]
    elif kind == 2:
        data = data[: rng.randrange(1, len(data))] + data[-12:]
    elif kind == 3:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    else:
        start = rng.randrange(len(data))
        data[start : start + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(data)


def mutation_seeds() -> dict[str, bytes]:
    """Healthy files of every decoder path, to damage."""
    import numpy as np
    from PIL import Image

    noise = Image.fromarray(np.random.RandomState(0).randint(0, 255, (40, 50, 3), dtype=np.uint8))
    seeds = {}
    for image_format, suffix in (("JPEG", ".jpg"), ("PNG", ".png"), ("GIF", ".gif"), ("BMP", ".bmp"), ("WEBP", ".webp"), ("TIFF", ".tif")):
        out = io.BytesIO()
        noise.save(out, format=image_format)
        seeds[suffix] = out.getvalue()
    return seeds
