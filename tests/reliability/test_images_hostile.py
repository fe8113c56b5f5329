"""A messy photo folder: every bad file is skipped and listed before training, every good one
decodes to the spec's color_mode, and nothing hangs, crashes mid-epoch or is silently lost."""

from __future__ import annotations

import json
import os
import random
import resource
import time
from pathlib import Path

import numpy as np
import pytest

from cnnbuild.errors import DataError
from cnnbuild.data.decode import decode_files
from cnnbuild.plugins.builtin.image_directory import ImageDirectoryParams, load
from cnnbuild.data.files import scan
from cnnbuild.data.image_files import ImageFile, check_image
from cnnbuild.contracts import DataContext

from ..conftest import run_cli
from .budget import scaled
from .hostile_images import Corpus, build_corpus, mutate, mutation_seeds, real_bomb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("messy") / "photos")


def test_scan_keeps_every_good_file_and_lists_every_bad_one_with_its_reason(corpus, tally):
    started = time.perf_counter()
    found = scan(corpus.root, corpus.classes)
    assert time.perf_counter() - started < 60  # a pipe, /dev/zero and a link loop are in there
    kept = {Path(item.path) for item in found.files}
    assert kept == set(corpus.good)
    reasons = {Path(item.path): item.reason for item in found.skipped}
    assert set(reasons) == set(corpus.bad) | set(corpus.listed)  # every file under the folder is used or listed
    for path, word in {**corpus.bad, **corpus.listed}.items():
        assert word in reasons[path], (path.name, reasons[path])
    assert not kept & set(corpus.listed)  # hidden and system files, links read twice: never used, always listed
    labels = {Path(item.path): corpus.classes[item.label] for item in found.files}
    assert all(labels[path] == path.relative_to(corpus.root).parts[0] for path in kept)  # nested files keep their class
    tally["hostile image files: good kept"] += len(kept)
    tally["hostile image files: bad skipped and listed"] += len(reasons)


@pytest.mark.parametrize("color_mode, channels", [("rgb", 3), ("grayscale", 1), ("rgba", 4)])
def test_every_kept_file_decodes_to_the_color_mode_with_the_right_pixels(corpus, tally, color_mode, channels):
    params = ImageDirectoryParams(path=str(corpus.root), class_names=corpus.classes, color_mode=color_mode, image_size=(8, 10), validation_split=0.25, shuffle_buffer=0)
    source = load(params, DataContext(base_dir=corpus.root))
    decoded = [image for dataset in (source.train, source.validation) for image, _ in dataset.as_numpy_iterator()]
    assert len(decoded) == source.train_count + source.validation_count == len(corpus.good)  # nothing dropped mid-pipeline
    assert {image.shape for image in decoded} == {(8, 10, channels)}
    for path, (rgb, alpha) in sorted(corpus.good.items()):
        native, reason = check_image(path)
        assert reason == ""
        (image, _), = decode_files([ImageFile(str(path), 0, native, path.stat().st_size)], params).as_numpy_iterator()
        pixel = image[4, 5]
        if channels == 1:
            expected = [0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]]
        else:
            expected = list(rgb) + ([alpha] if channels == 4 else [])
        assert np.allclose(pixel, expected, atol=10), (path.name, color_mode, pixel, expected)
        tally[f"hostile image files decoded and checked ({color_mode})"] += 1


def test_empty_class_folder_stops_before_training_naming_it(corpus):
    with pytest.raises(DataError, match=r"empty-class.*hold no usable images"):
        scan(corpus.root, ["red", "empty-class"])


def test_class_folder_that_is_a_file_is_ignored_or_named(corpus):
    with pytest.raises(DataError, match=r"class folders \['class-that-is-a-file'\] not found"):
        scan(corpus.root, ["red", "class-that-is-a-file"])
    with pytest.raises(DataError, match=r"empty-class"):
        scan(corpus.root)  # every sub-folder is a class by default: the empty one is named


def test_decompression_bombs_cost_neither_time_nor_memory(tmp_path, tally):
    bomb = real_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()  # this process's CPU time: other work on the machine cannot fail it
    native, reason = check_image(bomb)
    assert "decompression bomb" in reason and not native
    assert time.process_time() - started < 2, "the header alone should refuse it, without decoding"
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200_000, f"checking a 20000x20000 image raised peak memory by {grown_kib} KiB"
    tally["decompression bombs refused (20000x20000)"] += 1


def test_damaged_files_are_either_skipped_or_decode_all_the_way(tmp_path, tally):
    """Bit flips, cuts and garbage in every format: the scan's verdict matches what the
    training pipeline does, so no file passes the check and then vanishes mid-epoch."""
    rng = random.Random(1234)
    seeds = mutation_seeds()
    folder = tmp_path / "damaged" / "only"
    folder.mkdir(parents=True)
    count = scaled(150, 3000)
    for index in range(count):
        suffix = rng.choice(sorted(seeds))
        (folder / f"file{index:05d}{suffix}").write_bytes(mutate(seeds[suffix], rng))
    files = sorted(folder.iterdir())
    verdicts = [check_image(path) for path in files]
    kept = [ImageFile(str(path), 0, native, path.stat().st_size) for path, (native, reason) in zip(files, verdicts) if not reason]
    assert kept and len(kept) < len(files)  # the mutations do break files, and some survive
    for color_mode in ("rgb", "grayscale", "rgba"):
        params = ImageDirectoryParams(path=str(folder), color_mode=color_mode, image_size=(6, 6))
        assert sum(1 for _ in decode_files(kept, params).as_numpy_iterator()) == len(kept), color_mode
    tally["damaged image files tried"] += len(files)
    tally["damaged image files: skipped at scan"] += len(files) - len(kept)
    tally["damaged image files: kept and decoded in rgb, grayscale and rgba"] += len(kept)


def test_a_run_over_the_messy_folder_finishes_and_lists_what_it_skipped(corpus, tmp_path, tally):
    spec = tmp_path / "messy.yaml"
    spec.write_text(
        f"""
name: messy
seed: 3
data: {{type: image_directory, path: {json.dumps(str(corpus.root))}, class_names: [green, red], color_mode: rgba, image_size: [12, 12], batch_size: 4, validation_split: 0.25}}
model:
  layers:
    - {{type: Rescaling, scale: 1/255}}
    - {{type: Conv2D, filters: 4, kernel_size: 3, activation: relu}}
    - GlobalAveragePooling2D
    - {{type: Dense, units: auto}}
train: {{epochs: 2, verbose: line}}
""",
        encoding="utf-8",
    )
    result = run_cli("run", str(spec), "--output", str(tmp_path / "run"), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    skipped = json.loads((tmp_path / "run" / "skipped.json").read_text())
    assert {item["path"] for item in skipped} == {str(path) for path in (*corpus.bad, *corpus.listed)}
    for path in (*corpus.bad, *corpus.listed):
        assert f"skipped {path}:" in result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train_examples"] + metrics["validation_examples"] == len(corpus.good)
    assert metrics["epochs_run"] == 2
    # every validation file listed, in valid UTF-8: a name that is not (caf\xe9-latin1.png, in validation with this seed) shows its byte as \xe9
    rows = (tmp_path / "run" / "predictions.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == metrics["validation_examples"] and any("caf\\xe9-latin1.png" in row for row in rows)
    tally["training runs over the messy folder completed"] += 1


def test_non_utf8_file_names_survive_the_whole_pipeline(corpus):
    latin1 = [path for path in corpus.good if os.fsencode(path).endswith(b"\xe9-latin1.png")]
    assert len(latin1) == 2
    for path in latin1:
        native, reason = check_image(path)
        assert reason == ""
        params = ImageDirectoryParams(path=str(corpus.root), image_size=(4, 4))
        assert len(list(decode_files([ImageFile(str(path), 0, native, 1)], params).as_numpy_iterator())) == 1
