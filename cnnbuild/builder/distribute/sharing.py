"""What each process of a data-parallel run reads: its batch, its share of each split, the data for the reports."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from cnnbuild.builder.distribute.cluster import DistributeError
from cnnbuild.builder.distribute.collectives import gather

if TYPE_CHECKING:
    from cnnbuild.builder.distribute.placement import Placement
    from cnnbuild.contracts.data import Datasets
    from cnnbuild.spec.document import Spec


class DataShare:
    """The data of one process of a run placed by ``placement``."""

    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        self._whole_validation: tuple[Any, int] = (None, 0)

    def pipeline_spec(self, spec: Spec) -> Spec:
        """The spec this process builds its tf.data pipelines from: ``data.batch_size`` stays the
        global batch, so each of N processes batches 1/N of it, and a cache file gets one name per process."""
        if self.placement.num_processes == 1:
            return spec
        update: dict[str, Any] = {"batch_size": spec.data.batch_size // self.placement.num_processes}
        if spec.data.cache not in ("memory", "none"):
            update["cache"] = f"{spec.data.cache}.process-{self.placement.process_id}-of-{self.placement.num_processes}"
        return spec.model_copy(update={"data": spec.data.model_copy(update=update)})

    def balance(self, source: Datasets) -> Datasets:
        """Give every process the same number of examples, a multiple of its device count.

        JAX assembles each global batch from one local batch per process and splits it over the
        devices, so every process must run the same batches of the same sizes. The training split
        is sliced by the data source (``DataContext.shard``); validation and test are whole on every
        process and are divided here. The returned counts are totals over all processes.
        """
        if self.placement.backend != "jax" or self.placement.replicas == 1:
            return source  # MirroredStrategy splits uneven batches itself
        n, k = self.placement.num_processes, self.placement.local_devices
        smallest = int(min(gather(self.placement, [source.train_count])[:, 0]))
        train = smallest // k * k
        if train == 0:
            raise DistributeError(f"{n} process(es) x {k} device(s) need at least {k} training example(s) each; the smallest shard has {smallest}")

        def divide(dataset: Any, count: int) -> tuple[Any, int]:
            each = count // n // k * k
            if dataset is None or each == 0:
                return None, 0
            return (dataset.shard(n, self.placement.process_id) if n > 1 else dataset).take(each), each * n

        self._whole_validation = (source.validation, source.validation_count)
        validation, validation_count = divide(source.validation, source.validation_count)
        test, test_count = divide(source.test, source.test_count)
        labels = source.train_labels[:train] if source.train_labels else source.train_labels
        return dataclasses.replace(
            source,
            train=source.train.take(train), train_count=train * n, train_labels=labels,
            validation=validation, validation_count=validation_count, test=test, test_count=test_count,
        )  # fmt: skip

    def for_reports(self, model: Any, prepared: Any, spec: Spec) -> tuple[Any, Any]:
        """The model and pipelines for the figures and per-class table made after training.

        With several processes every process predicts the whole validation split (so each one's
        predictions cover all of it). Under MirroredStrategy, Keras 3.15's ``predict_on_batch``
        gives the whole batch to every replica and concatenates the results (N rows per image),
        so batches are predicted through ``predict``, which splits them.
        """
        if self.placement.strategy is not None and self.placement.backend == "tensorflow" and self.placement.replicas > 1:
            model = _SplitBatches(model)
        if self.placement.num_processes == 1 or self._whole_validation[0] is None:
            return model, prepared
        from cnnbuild.builder.data.pipelines import build_pipelines

        dataset, count = self._whole_validation
        count = count // self.placement.local_devices * self.placement.local_devices
        local = self.pipeline_spec(spec)
        local = local.model_copy(update={"data": local.data.model_copy(update={"cache": "none"})})  # a cache file holds the shard
        return model, build_pipelines(
            local, dataclasses.replace(prepared.source, validation=dataset.take(count), validation_count=count, test=None, test_count=0)
        )


class _SplitBatches:
    """A model whose ``predict_on_batch`` goes through ``predict`` (see :meth:`Placement.for_reports`)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def predict_on_batch(self, images: Any) -> Any:
        return self._model.predict(images, verbose=0)
