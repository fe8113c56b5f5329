"""Call the spec's data source, check what it returned, and give this process its share of the training split."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cnnbuild.builder.data.source_contract import element_issues, record_issues
from cnnbuild.contracts.data import Datasets
from cnnbuild.errors import DataError
from cnnbuild.spec.labels import data_context

if TYPE_CHECKING:
    from cnnbuild.spec.document import Spec


def shard_training(source: Datasets, shard: tuple[int, int]) -> Datasets:
    """The training split of process ``index`` of ``count``: ``train[index::count]`` after the
    source's split (validation and test stay whole; the placement divides them)."""
    index, count = shard
    if count == 1:
        return source
    labels = source.train_labels[index::count] if source.train_labels is not None else None
    targets = source.train_targets[index::count] if source.train_targets is not None else None
    return dataclasses.replace(
        source, train=source.train.shard(count, index), train_count=len(range(index, source.train_count, count)), train_labels=labels, train_targets=targets
    )


def load_source(spec: Spec, *, shard: tuple[int, int] = (0, 1)) -> Datasets:
    """Call the spec's data source (its failures become errors naming the plugin), check the
    result, and keep this process's share of the training split."""
    registration = spec.registry.data_sources[spec.data.type]
    context = data_context(spec)
    try:
        context.work_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # the path is still given: a source that writes there gets the error, naming the folder
    datasets = registration.make(Datasets, spec.data, context)
    check_source(spec, datasets)
    return shard_training(datasets, shard)


def check_source(spec: Spec, datasets: Datasets) -> None:
    """Refuse what the spec's data source returned when training could not use it (DataError naming the source)."""
    if datasets.task != spec.task_row.name:
        raise DataError(f"data source {spec.data.type!r} delivered {datasets.task} labels for a {spec.task_row.name} spec; its factory must read context.task")
    if not datasets.class_names:
        raise DataError(f"data source {spec.data.type!r} named no labels or targets")
    if len(datasets.class_names) < 2 and datasets.task == "single_label":
        raise DataError(f"data source {spec.data.type!r} found {len(datasets.class_names)} class(es); a classifier needs at least two")
    if datasets.train is None or datasets.train_count == 0:
        raise DataError(f"data source {spec.data.type!r} has no training examples")
    if datasets.task != "single_label":  # single-label sources are taken as before plugin API 1.4
        issues = record_issues(datasets, datasets.task, strict=False) + element_issues(datasets, datasets.task, spec.data.input_shape, strict=False)
        if issues:
            plugin = spec.registry.data_sources[spec.data.type].plugin
            raise DataError(
                f"data source {spec.data.type!r} ({plugin.describe()}) does not deliver what task {datasets.task} needs: "
                f"{'; '.join(issues)}; docs/plugins.md says what a source returns for each task"
            )
