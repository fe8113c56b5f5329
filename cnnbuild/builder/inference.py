"""Use a finished run: load its model safely, evaluate it, predict classes of new images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnbuild.builder.model import load_saved_model
from cnnbuild.builder.run_directory import RunDirectory
from cnnbuild.errors import CnnbuildError, DataError, RunError
from cnnbuild.spec.document import Spec, spec_from_text


@dataclass
class FinishedRun:
    """A run directory's spec, class names and model."""

    run: RunDirectory
    spec: Spec
    class_names: list[str]
    model: Any


def load_run(run_dir: str | Path, *, allow_unsafe: bool = False) -> FinishedRun:
    """Load a completed run. The model is loaded with Keras safe mode on unless ``allow_unsafe``:
    a model file holding Python code (a Lambda layer) is refused."""
    run = RunDirectory(Path(run_dir))
    if not run.path.is_dir():
        raise RunError(f"{run.path}: no such run directory")
    info = run.read_json("run.json")
    class_names = run.read_json("class_names.json")
    spec_file = run.file("spec.yaml")
    spec = spec_from_text(spec_file.read_text(encoding="utf-8"), str(spec_file), base_dir=Path(info["base_dir"]))
    model_file = run.file("model.keras")
    if not model_file.exists():
        raise RunError(f"{run.path}: model.keras is missing; the run did not finish (resume it with cnnbuild run --resume {run.path})")
    model = load_saved_model(model_file, allow_unsafe=allow_unsafe)
    return FinishedRun(run, spec, class_names, model)


def evaluate(run_dir: str | Path, data: str | Path | None = None, *, allow_unsafe: bool = False) -> dict[str, Any]:
    """Metrics of the run's model on its validation split, or on another folder of class sub-folders."""
    from cnnbuild.builder.data import build_pipelines, load_source

    finished = load_run(run_dir, allow_unsafe=allow_unsafe)
    spec = finished.spec
    if data is not None:
        folder = Path(data).resolve()
        spec = spec.model_copy(update={"data": _folder_params(spec, folder)})
        spec._base_dir = finished.spec.base_dir
    source = load_source(spec)
    if source.class_names != finished.class_names:
        raise DataError(f"the data's classes {source.class_names} differ from the run's {finished.class_names}")
    prepared = build_pipelines(spec, source, augment=False)
    dataset = prepared.validation if data is None else prepared.train
    if dataset is None:
        raise DataError("the run's data has no validation split (validation_split: 0); pass --data FOLDER")
    results = _call_model(finished, lambda model: model.evaluate(dataset, verbose=0, return_dict=True))
    count = source.validation_count if data is None else source.train_count
    return {"examples": count, "data": str(data) if data else "validation split", **{k: float(v) for k, v in results.items()}}


def _folder_params(spec: Spec, folder: Path) -> Any:
    from cnnbuild.plugins.manager import get_registry

    params = get_registry().data_sources["image_directory"].params
    current = spec.data.model_dump(include=set(params.model_fields) & set(type(spec.data).model_fields) - {"type", "path", "url", "sha256", "test_path"})
    return params.model_validate({**current, "type": "image_directory", "path": str(folder), "validation_split": 0, "shuffle_buffer": 0, "cache": "none"})


def image_paths(inputs: list[str | Path]) -> list[Path]:
    """Image files named directly or found (recursively) in the given folders, in a stable order."""
    from cnnbuild.plugins.builtin.image_files import IMAGE_SUFFIXES

    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder")
    if not paths:
        raise DataError(f"no images found in {', '.join(map(str, inputs))}")
    return paths


def predict(run_dir: str | Path, inputs: list[str | Path], *, top_k: int = 1, allow_unsafe: bool = False) -> list[dict[str, Any]]:
    """For each image: its top-k classes with probabilities (unreadable files get an ``error``)."""
    import numpy as np

    from cnnbuild.builder.model import label_encoding, output_probabilities
    from cnnbuild.plugins.builtin.image_directory import ImageFile, decode_files
    from cnnbuild.plugins.builtin.image_files import check_image

    finished = load_run(run_dir, allow_unsafe=allow_unsafe)
    spec = finished.spec
    params = _folder_params(spec, Path("."))
    results: list[dict[str, Any]] = []
    usable: list[ImageFile] = []
    for path in image_paths(inputs):
        native, reason = check_image(path)
        if reason:
            results.append({"path": str(path), "error": reason})
        else:
            usable.append(ImageFile(str(path), 0, native, path.stat().st_size))
            results.append({"path": str(path)})
    if usable:
        images = decode_files(usable, params).map(lambda image, label: image).batch(spec.data.batch_size)
        outputs = np.asarray(_call_model(finished, lambda model: model.predict(images, verbose=0)), dtype="float64")
        labels = label_encoding(spec, len(finished.class_names))
        probabilities = output_probabilities(outputs, labels)
        rows = iter(probabilities)
        for result in results:
            if "error" in result:
                continue
            row = next(rows)
            order = np.argsort(-row)[: max(1, min(top_k, len(row)))]
            result["predictions"] = [{"class": finished.class_names[i], "probability": float(row[i])} for i in order]
    return results


def _call_model(finished: FinishedRun, use: Any) -> Any:
    """``use(model)``; a model that loads but fails on the data (a custom layer's bug, a shape
    that does not fit) gives one message naming the file, not a traceback."""
    try:
        return use(finished.model)
    except CnnbuildError:
        raise
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]
        raise RunError(f"{finished.run.file('model.keras')}: the model failed on the data: {type(exc).__name__}: {first}") from None
