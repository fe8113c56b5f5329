"""``assert_data_source_supplies``: a data source run for one task through cnnbuild's own spec
validation, its checks of what a source returns, and its data pipeline, every failure said plainly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnbuild.contracts.data import Datasets
from cnnbuild.contracts.tasks import TASKS

#: The smallest model whose output fits each task (``units: auto`` makes validate ask the source's ``class_names``).
_MODELS: dict[str, list[Any]] = {
    "single_label": ["Flatten", {"type": "Dense", "units": "auto"}],
    "multi_label": ["Flatten", {"type": "Dense", "units": "auto", "activation": "sigmoid"}],
    "regression": ["Flatten", {"type": "Dense", "units": "auto"}],
    "segmentation": [{"type": "Dense", "units": "auto", "activation": "softmax"}],  # a softmax per pixel
}


def _failed(what: str, lines: list[str]) -> AssertionError:
    return AssertionError(what + "".join(f"\n  {line}" for line in lines))


def assert_data_source_supplies(
    task: str, data: Mapping[str, Any], *, task_options: Mapping[str, Any] | None = None, base_dir: Path | None = None, seed: int = 0, examples: int = 16
) -> Datasets:
    """Check that the data source of ``data`` (a spec's ``data:`` section as a dict, its ``type``
    included) supplies ``task`` as cnnbuild needs it, and return what it returned.

    The checks, in order: a spec of that data section, the task (with ``task_options``, such as
    segmentation's ``classes``) and a minimal model validates (the source declares the task with
    ``register(..., tasks=)``, its ``class_names`` works); the factory's ``Datasets`` holds what
    the task's contract says (docs/plugins.md: the task, names, counts, ``train_targets``, each
    split's element shapes and exact dtypes, and the values of the first ``examples`` examples of
    each split: images 0..255, 0/1 labels, finite targets, masks of the image's size holding class
    indices); the names agree with ``class_names``; cnnbuild's own check of a source passes; and
    cnnbuild's pipeline makes a first training batch. Relative paths in ``data`` are relative to
    ``base_dir`` (default: the current folder).

    Raises AssertionError listing every problem found at the first step that fails.
    """
    from cnnbuild.builder.data.pipelines import build_pipelines
    from cnnbuild.builder.data.source import check_source
    from cnnbuild.builder.data.source_contract import element_issues, example_issues, record_issues
    from cnnbuild.errors import CnnbuildError
    from cnnbuild.spec import SpecError, spec_from_dict
    from cnnbuild.spec.labels import data_context, known_class_names

    if task not in TASKS:
        raise ValueError(f"task {task!r}: use one of {', '.join(TASKS)}")
    kind = data.get("type")
    section: dict[str, Any] = {"type": task, **(task_options or {})}
    document = {"seed": seed, "task": section, "data": dict(data), "model": {"layers": _MODELS[task]}}
    try:
        spec = spec_from_dict(document, base_dir if base_dir is not None else Path.cwd())
    except SpecError as exc:
        raise _failed(f"data source {kind!r}, task {task}: a spec using it does not validate:", [issue.render() for issue in exc.issues]) from None
    registration = spec.registry.data_sources[spec.data.type]
    where = f"data source {kind!r} ({registration.plugin.describe()}), task {task}"
    try:
        datasets = registration.make(Datasets, spec.data, data_context(spec))
    except CnnbuildError as exc:
        raise _failed(f"{where}: the factory failed:", [str(exc)]) from exc
    input_shape = spec.data.input_shape
    issues = record_issues(datasets, task, strict=True)
    structure = element_issues(datasets, task, input_shape, strict=True)
    issues += structure
    if not structure:  # elements that are not (image, label) pairs cannot be read one by one
        issues += example_issues(datasets, task, input_shape, ignore_index=section.get("ignore_index"), limit=examples)
    named = known_class_names(spec, spec.registry)
    if named is not None and list(named) != list(datasets.class_names or []):
        issues.append(f"class_names(params, context) says {list(named)} but the factory's Datasets.class_names is {datasets.class_names}; validate sizes units: auto from the first")
    if issues:
        raise _failed(f"{where}: what the factory returned does not fit the task (docs/plugins.md, 'What a source returns for each task'):", issues)
    try:
        check_source(spec, datasets)
        prepared = build_pipelines(spec, datasets, augment=False)
        images, labels = next(iter(prepared.train))
    except CnnbuildError as exc:
        raise _failed(f"{where}: cnnbuild refused the data:", [str(exc)]) from exc
    except Exception as exc:  # an error from inside TensorFlow: what a user of the source would meet
        raise _failed(f"{where}: cnnbuild's data pipeline failed on the source's examples:", [f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]) from exc
    if tuple(images.shape[1:]) != tuple(input_shape):
        raise _failed(f"{where}: a training batch of images has shape {tuple(images.shape)}, not (batch, {', '.join(map(str, input_shape))})", [])
    return datasets
