"""Builder overhead: cnnbuild's build_model against the same keras.Sequential written by hand.

Both are built alternately in one process (after one untimed build of each, which loads the
plugin registry and warms Keras), then both are trained for a few steps on the same random
batch, alternately step by step, to show the per-step cost is the same model's.

    python benchmarks/builder_probe.py --builds 30 --steps 24
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent


def hand_written(num_classes: int):
    """The flowers model of examples/flowers.yaml, as a notebook would write it (augmentation in the pipeline)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(180, 180, 3)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=30, help="timed builds of each")
    parser.add_argument("--steps", type=int, default=24, help="timed training steps of each, alternating")
    parser.add_argument("--result", help="write the JSON result here")
    args = parser.parse_args()

    from cnnbuild.builder.runtime import import_tensorflow

    tf = import_tensorflow()
    import keras
    import numpy as np
    from handwritten_clock import emit_result

    from cnnbuild.builder.model.build import build_model
    from cnnbuild.spec import load_spec

    keras.config.set_dtype_policy("float32")  # the hand-written model has no policy; compare like with like
    num_classes = 5
    started = time.perf_counter()
    spec = load_spec(REPO / "examples" / "flowers.yaml")
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    build_model(spec, num_classes)
    cold_cnnbuild = time.perf_counter() - started
    started = time.perf_counter()
    hand_written(num_classes)
    cold_hand = time.perf_counter() - started

    timings: dict[str, list[float]] = {"cnnbuild": [], "hand": []}
    builders = [("cnnbuild", lambda: build_model(spec, num_classes)), ("hand", lambda: hand_written(num_classes))]
    for index in range(args.builds):
        for name, build in builders if index % 2 == 0 else builders[::-1]:  # A B, B A: neither always goes first
            started = time.perf_counter()
            build()
            timings[name].append(time.perf_counter() - started)
        keras.backend.clear_session()  # keep layer-name counters and graphs from growing over the loop

    keras.utils.set_random_seed(0)
    models = {"cnnbuild": build_model(spec, num_classes), "hand": hand_written(num_classes)}
    params = {name: model.count_params() for name, model in models.items()}
    images = np.random.default_rng(0).uniform(0, 255, (32, 180, 180, 3)).astype("float32")
    labels = np.random.default_rng(1).integers(0, num_classes, 32)
    for model in models.values():
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.train_on_batch(images, labels)  # trace
        model.train_on_batch(images, labels)
    steps: dict[str, list[float]] = {"cnnbuild": [], "hand": []}
    order = list(models.items())
    for index in range(args.steps):
        for name, model in order if index % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            model.train_on_batch(images, labels)
            steps[name].append(time.perf_counter() - started)

    build_median = {name: statistics.median(values) for name, values in timings.items()}
    step_median = {name: statistics.median(values) for name, values in steps.items()}
    result = {
        "spec_load_seconds": load_seconds,
        "cold_build_seconds": {"cnnbuild": cold_cnnbuild, "hand": cold_hand},
        "build_seconds": build_median,
        "build_overhead": build_median["cnnbuild"] / build_median["hand"] - 1,
        "step_seconds": step_median,
        "step_overhead": step_median["cnnbuild"] / step_median["hand"] - 1,
        "params": params,
        "tensorflow": tf.__version__,
    }
    emit_result(result, args.result)


if __name__ == "__main__":
    main()
