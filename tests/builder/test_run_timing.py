"""The timing a run records for benchmarks: per-epoch wall and CPU seconds, and when the first batch ended."""

from __future__ import annotations

import time

from tests.conftest import REPO


def test_metrics_time_every_epoch_and_the_first_batch(tmp_path):
    import cnnbuild

    started = time.time()
    result = cnnbuild.run(REPO / "examples" / "digits.yaml", overrides=["train.epochs=3", "data.image_size=[8,8]", "train.verbose=quiet", "train.callbacks=[]"], output=tmp_path / "run")
    metrics = result.metrics
    assert started < metrics["first_batch_at"] < time.time()
    wall, cpu = metrics["epoch_train_seconds"], metrics["epoch_train_cpu_seconds"]
    assert len(wall) == len(cpu) == 3
    assert all(seconds > 0 for seconds in wall + cpu)
    # steady state: training examples over the median of the epochs after the first (two here: their mean)
    expected = 1438 / ((wall[1] + wall[2]) / 2)
    assert abs(metrics["train_images_per_second"] - expected) / expected < 1e-3
