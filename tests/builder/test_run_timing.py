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


def test_continuous_pipeline_trains_each_epoch_on_one_pass(image_folder, write_spec, tmp_path, monkeypatch):
    """One repeated training iterator (epochs of exactly one pass) and no autotuning thread in either pipeline
    (dropping an autotuned iterator waits out its autotuner: seconds after the last epoch)."""
    import keras

    import cnnbuild
    from tests.conftest import SMALL_MODEL

    seen: list[dict] = []
    original_fit = keras.Model.fit

    def recording_fit(self, x=None, *args, **kwargs):
        seen.append({"steps": kwargs.get("steps_per_epoch"), "infinite": int(x.cardinality()) == -1, "train_autotune": x.options().autotune.enabled, "validation_autotune": kwargs["validation_data"].options().autotune.enabled})
        return original_fit(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    spec = write_spec(f"name: cont\nseed: 3\ndata: {{type: image_directory, path: {image_folder}, image_size: [24, 24], batch_size: 7}}\n" + SMALL_MODEL)
    for switch in ("true", "false"):
        result = cnnbuild.run(spec, overrides=[f"train.continuous_pipeline={switch}", "train.epochs=2", "train.verbose=quiet"], output=tmp_path / switch)
        assert result.completed and len(result.history["loss"]) == 2
    train_count = result.metrics["train_examples"]
    assert train_count == 30  # 36 images, 2 of each class's 12 held out
    assert seen[0] == {"steps": 5, "infinite": True, "train_autotune": False, "validation_autotune": False}  # ceil(30 / 7) batches: one pass per epoch
    assert seen[1]["steps"] is None and not seen[1]["infinite"] and seen[1]["train_autotune"] is not False and seen[1]["validation_autotune"] is not False
