"""One point of the scale curve: scan a folder of generated images, then train two epochs on it.

Uses cnnbuild's library the way ``cnnbuild run`` does (load_spec, load_source, build_pipelines,
build_model, compile_model) on benchmarks/specs/scale.yaml, timing the scan (every file opened
and checked) apart from the epochs: the first decodes every image and fills the cache, the
second reads the cache (or decodes again with ``cache: none``).

    python benchmarks/scale_probe.py --data ~/.cache/cnnbuild-bench/images-10000 --cache memory
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SPEC = Path(__file__).resolve().parent / "specs" / "scale.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache", default="memory", help="data.cache: memory or none")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--result", help="write the JSON result here")
    args = parser.parse_args()

    from cnnbuild.builder.runtime import import_tensorflow, resolve_precision

    import_tensorflow()
    import keras
    from handwritten_clock import EpochClock, emit_result

    from cnnbuild.builder.data.pipelines import build_pipelines
    from cnnbuild.builder.data.source import load_source
    from cnnbuild.builder.model.build import build_model
    from cnnbuild.builder.model.compile import compile_model
    from cnnbuild.spec import load_spec

    spec = load_spec(SPEC, [f"data.path={args.data}", f"data.cache={args.cache}", f"train.epochs={args.epochs}"])
    keras.utils.set_random_seed(spec.seed)
    keras.config.set_dtype_policy(resolve_precision(spec.train.precision))
    rss_before_scan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started = time.perf_counter()
    source = load_source(spec)
    scan_seconds = time.perf_counter() - started
    rss_after_scan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    prepared = build_pipelines(spec, source)
    model = compile_model(build_model(spec, len(source.class_names)), spec, prepared.labels)
    clock = EpochClock()
    started = time.perf_counter()
    history = model.fit(prepared.train, epochs=args.epochs, callbacks=[clock], verbose=0)
    result = {
        "images": source.train_count + source.validation_count,
        "skipped": len(source.skipped),
        "cache": args.cache,
        "scan_seconds": scan_seconds,
        "epoch_train_seconds": clock.train_seconds,
        "fit_seconds": time.perf_counter() - started,
        "rss_before_scan_mb": rss_before_scan,
        "rss_after_scan_mb": rss_after_scan,
        "final_accuracy": float(history.history["accuracy"][-1]),
    }
    emit_result(result, args.result)


if __name__ == "__main__":
    main()
