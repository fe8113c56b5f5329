"""Use a finished run: load its model safely, predict the classes of new images."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cnnbuild.builder.model.build import load_saved_model
from cnnbuild.contracts.ranking import top_classes
from cnnbuild.errors import CnnbuildError, DataError, RunError
from cnnbuild.runs.record import RunRecord
from cnnbuild.runs.task_record import TaskRecord, read_task_record
from cnnbuild.spec.document import Spec


@dataclass
class FinishedRun:
    """A finished run and its loaded model."""

    record: RunRecord
    model: Any

    @property
    def spec(self) -> Spec:
        return self.record.spec

    @property
    def class_names(self) -> list[str]:
        return self.record.class_names

    @cached_property
    def task(self) -> TaskRecord | None:
        """The run's ``task.json`` (None for single-label runs)."""
        return read_task_record(self.record)


def open_finished(run_dir: str | Path, *, allow_unsafe: bool = False) -> FinishedRun:
    """A completed run with its model loaded. Keras safe mode stays on unless ``allow_unsafe``:
    a model file holding Python code (a Lambda layer) is refused."""
    record = RunRecord.open(run_dir)
    return FinishedRun(record, load_saved_model(record.model_path, allow_unsafe=allow_unsafe, spec=record.spec))


def image_paths(inputs: list[str | Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Image files named directly or found (recursively, by the same rules as training data) in the
    given folders, in a stable order; and what in those folders was not taken, with why."""
    from cnnbuild.data.walk import find_images

    paths: list[Path] = []
    skipped: list[dict[str, str]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = find_images(item)
            paths += found.images
            skipped += [{"path": s.path, "not_used": s.reason} for s in found.skipped]
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder")
    if not paths:
        raise DataError(f"no images found in {', '.join(map(str, inputs))}")
    return paths, skipped


def predict(run_dir: str | Path, inputs: list[str | Path], *, top_k: int = 1, allow_unsafe: bool = False) -> list[dict[str, Any]]:
    """For each image: its top-k classes with probabilities; an image that cannot be read gets an
    ``error`` instead. What a folder holds besides images (hidden files and folders, other files)
    comes last, each with ``not_used`` and the reason, by the rules training uses."""
    import numpy as np

    from cnnbuild.builder.model.outputs import output_probabilities
    from cnnbuild.data.decode import decode_files
    from cnnbuild.data.image_files import ImageFile, inspect_images

    finished = open_finished(run_dir, allow_unsafe=allow_unsafe)
    spec = finished.spec
    paths, not_used = image_paths(inputs)
    results: list[dict[str, Any]] = []
    wanted: list[dict[str, Any]] = []
    usable: list[ImageFile] = []
    for path, verdict in zip(paths, inspect_images(paths), strict=True):
        result: dict[str, Any] = {"path": str(path)}
        if verdict.reason:
            result["error"] = verdict.reason
        else:
            usable.append(ImageFile(str(path), len(wanted), verdict.native, verdict.size))  # the label carries the position
            wanted.append(result)
        results.append(result)
    if usable:
        # Each image keeps its position, so a file that fails to decode after the check leaves no other file with its answer.
        batches = decode_files(usable, spec.data).batch(spec.data.batch_size)
        answered = set()
        task = finished.task
        for images, positions in batches.as_numpy_iterator():
            outputs = np.asarray(call_model(finished, lambda model, images=images: model.predict_on_batch(images)), dtype="float64")
            if task is not None:
                for position, answer in zip(positions, task_answers(task, outputs), strict=True):
                    wanted[position].update(answer)
                    answered.add(int(position))
                continue
            for position, row in zip(positions, output_probabilities(outputs, finished.record.labels), strict=True):
                order = top_classes(row, top_k)
                wanted[position]["predictions"] = [{"class": finished.class_names[i], "probability": float(row[i])} for i in order]
                answered.add(int(position))
        for position, result in enumerate(wanted):
            if position not in answered:
                result["error"] = "could not be decoded (changed or removed after it was checked)"
    return results + not_used


def task_answers(record: TaskRecord, outputs: Any) -> list[dict[str, Any]]:
    """Each output row as a multi-label or regression answer: ``labels`` (those at or above their
    threshold, most probable first) with every label's ``probabilities``, or ``values`` in the
    targets' original units."""
    if record.task == "regression":
        return [{"values": {name: float(value) for name, value in zip(record.names, row, strict=True)}} for row in record.values(outputs)]
    probabilities = record.probabilities(outputs)
    answers = []
    for row, present in zip(probabilities, record.present(probabilities), strict=True):
        chosen = sorted((index for index in range(len(row)) if present[index]), key=lambda index: (-row[index], index))
        answers.append({
            "labels": [{"label": record.names[i], "probability": float(row[i])} for i in chosen],
            "probabilities": {name: float(p) for name, p in zip(record.names, row, strict=True)},
        })  # fmt: skip
    return answers


def call_model(finished: FinishedRun, use: Any) -> Any:
    """``use(model)``; a model that loads but fails on the data (a custom layer's bug, a shape
    that does not fit) gives one message naming the file, not a traceback."""
    try:
        return use(finished.model)
    except CnnbuildError:
        raise
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]
        raise RunError(f"{finished.record.model_path}: the model failed on the data: {type(exc).__name__}: {first}") from exc
