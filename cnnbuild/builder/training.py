"""A training run: data, model, fit, and a run directory a person can trust (and resume)."""

from __future__ import annotations

import copy
import csv
import io
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from cnnbuild.builder.callback_guard import guard_callback
from cnnbuild.builder.data import PreparedData, build_pipelines, class_weights, load_source
from cnnbuild.builder.distribution import Placement, placement_for
from cnnbuild.builder.execution import ExecutionPlan, plan_execution
from cnnbuild.builder.inspect import describe_model
from cnnbuild.builder.model import build_model, compile_model, load_saved_model
from cnnbuild.builder.run_callbacks import CHECKPOINT_STATE, Interruption, make_checkpointer, make_epoch_clock, make_epoch_lines
from cnnbuild.builder.run_directory import RunDirectory
from cnnbuild.builder.runtime import import_tensorflow
from cnnbuild.errors import CnnbuildError, RunError
from cnnbuild.plugins.contracts import CallbackContext, Datasets
from cnnbuild.plugins.manager import get_registry
from cnnbuild.spec.document import Spec, load_spec, spec_from_text

RUN_INFO = "run.json"


@dataclass
class RunResult:
    """What a finished (or interrupted) run produced."""

    run_dir: Path
    status: str
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: (index, count) of this process; only process 0 writes ``run_dir``, the others a private folder
    process: tuple[int, int] = (0, 1)

    @property
    def completed(self) -> bool:
        return self.status == "completed"


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("cnnbuild", "tensorflow", "keras", "numpy", "pydantic", "pillow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _history_csv(history: dict[str, list[float]]) -> str:
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([epoch + 1, *(history[k][epoch] if epoch < len(history[k]) else "" for k in keys)])
    return out.getvalue()


def summarize_history(history: dict[str, list[float]]) -> dict[str, Any]:
    """Final and best value of every metric; best is the minimum for losses, the maximum otherwise."""
    final = {key: values[-1] for key, values in history.items() if values}
    best: dict[str, Any] = {}
    for key, values in history.items():
        if not values or key == "learning_rate":
            continue
        pick = min if "loss" in key else max
        value = pick(values)
        best[key] = {"value": value, "epoch": values.index(value) + 1}
    return {"final": final, "best": best}


def _user_callbacks(spec: Spec, run: RunDirectory, steps: int | None, history: dict[str, list[float]]) -> list[Any]:
    import keras

    registry = get_registry()
    context = CallbackContext(
        run_dir=run.path, epochs=spec.train.epochs, learning_rate=spec.compile.optimizer.learning_rate, steps_per_epoch=steps, history=copy.deepcopy(history)
    )
    callbacks = []
    for entry in spec.train.callbacks:
        registration = registry.callbacks[entry.type]
        callback = registration.make(keras.callbacks.Callback, "a keras.callbacks.Callback", entry, context)
        callbacks.append(guard_callback(callback, registration.plugin.describe(), entry.type))
    return callbacks


class Trainer:
    """Runs one spec in one run directory; ``start`` a new run or ``resume`` an interrupted one."""

    def __init__(
        self, spec: Spec, run: RunDirectory, source: Datasets, *, completed_epochs: int = 0, history: dict[str, list[float]] | None = None, verbose: str | None = None, placement: Placement | None = None
    ) -> None:
        self.spec = spec
        self.run = run
        self.source = source
        self.placement = placement or Placement()
        self.completed_epochs = completed_epochs
        self.history = history or {}
        self.verbose = verbose or spec.train.verbose

    # -- construction -------------------------------------------------------------------
    @classmethod
    def start(cls, spec: Spec, output: Path | None = None, overrides: tuple[str, ...] = (), verbose: str | None = None) -> Trainer:
        placement = placement_for(spec)  # before Keras starts: the engine may pick the backend and devices
        _seed(spec)
        source = placement.balance(load_source(spec, shard=placement.shard))  # data problems surface before a run directory exists
        parent = spec.resolve_path(spec.output.dir)
        run = RunDirectory.create(parent, spec.name, exact=output) if placement.is_chief else placement.worker_directory()
        run.write_json(RUN_INFO, {"spec_file": spec.source.filename if spec.source else None, "base_dir": str(spec.base_dir), "overrides": list(overrides), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        run.write_text("spec.yaml", yaml.safe_dump(spec.canonical(absolute_paths=True), sort_keys=False, allow_unicode=True))
        run.write_json("class_names.json", source.class_names)
        run.write_json("skipped.json", [{"path": s.path, "reason": s.reason} for s in source.skipped])
        return cls(spec, run, source, verbose=verbose, placement=placement)

    @classmethod
    def resume(cls, run_dir: Path, verbose: str | None = None) -> Trainer:
        run = RunDirectory(Path(run_dir))
        if not run.path.is_dir():
            raise RunError(f"{run.path}: no such run directory")
        info = run.read_json(RUN_INFO)
        spec_file = run.file("spec.yaml")
        try:
            text = spec_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RunError(f"{spec_file}: cannot read: {exc.strerror}") from None
        spec = spec_from_text(text, str(spec_file), base_dir=Path(info["base_dir"]))
        placement = placement_for(spec)
        run = placement.resume_directory(run, CHECKPOINT_STATE)
        run.remove_partial_files()  # what a kill cut off mid-write
        state = run.read_json(CHECKPOINT_STATE) if run.file(CHECKPOINT_STATE).exists() else {"completed_epochs": 0, "history": {}}
        _seed(spec)
        source = placement.balance(load_source(spec, shard=placement.shard))
        return cls(spec, run, source, completed_epochs=state["completed_epochs"], history=state.get("history", {}), verbose=verbose, placement=placement)

    # -- the run ----------------------------------------------------------------------
    def _model(self, labels: Any) -> Any:
        if self.completed_epochs:
            state = self.run.read_json(CHECKPOINT_STATE)
            return load_saved_model(self.run.file(state["checkpoint"]))
        model = build_model(self.spec, len(self.source.class_names))
        return compile_model(model, self.spec, labels)

    def train(self) -> RunResult:
        import keras

        tf = import_tensorflow()
        spec, run = self.spec, self.run
        if run.file("status.json").exists() and run.read_json("status.json").get("state") == "completed":
            print(f"{run.path}: this run is already complete", file=sys.stderr)
            return self._result("completed", json.loads(run.file("metrics.json").read_text()))
        previous_policy = keras.config.dtype_policy()
        precision = self.placement.precision(spec.train.precision)
        keras.config.set_dtype_policy(precision)
        try:
            prepared = build_pipelines(self.placement.pipeline_spec(spec), self.source)
            with self.placement.scope():  # variables are created, updated and saved by the engine
                model = self.placement.adapt_model(self._model(prepared.labels))
                summary = describe_model(model)
                plan = self._execution_plan(summary.forward_flops, bool(tf.config.list_physical_devices("GPU")))
                run.write_text("summary.txt", summary.text + "\n")
                run.write_json("environment.json", {**self._environment(precision), "execution": plan.as_dict()})
                return self._fit(model, prepared, plan)
        finally:
            keras.config.set_dtype_policy(previous_policy)

    def _execution_plan(self, forward_flops: int, on_gpu: bool) -> ExecutionPlan:
        return plan_execution(
            self.spec.train.steps_per_execution,
            training_flops_per_batch=3 * forward_flops * self.placement.pipeline_spec(self.spec).data.batch_size,  # forward + two gradients
            steps_per_epoch=self.spec.train.steps_per_epoch,
            batches_per_pass=self._batches_per_pass(),
            on_gpu=on_gpu,
            several_per_call=self.placement.runs_several_steps_per_call,  # the spec check refuses a number above 1 with mode: devices
        )

    def _fit(self, model: Any, prepared: PreparedData, plan: ExecutionPlan) -> RunResult:
        spec, run = self.spec, self.run
        epochs = spec.train.epochs
        steps = spec.train.steps_per_epoch
        model.steps_per_execution = plan.steps_per_execution  # read by Keras when fit makes its train function
        train = prepared.train.repeat() if plan.steps_per_epoch else prepared.train
        images_per_epoch = steps * spec.data.batch_size if steps else self.source.train_count
        clock = make_epoch_clock(images_per_epoch)
        mode = self.verbose
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "line"
        started = time.perf_counter()
        run.set_status("running", completed_epochs=self.completed_epochs, epochs=epochs)
        if self.completed_epochs:
            print(f"resuming {run.path} after epoch {self.completed_epochs} of {epochs}", flush=True)
        with Interruption() as interruption:
            callbacks = [
                *_user_callbacks(spec, run, steps, self.history),
                clock,
                self.placement.stop_callback(interruption),
                make_checkpointer(run, interruption, self.history, spec.output.keep_checkpoints),
            ]
            if mode == "line":
                callbacks.append(make_epoch_lines(epochs, clock, images_per_epoch))
            try:
                model.fit(
                    train,
                    validation_data=prepared.validation,
                    epochs=epochs,
                    initial_epoch=self.completed_epochs,
                    steps_per_epoch=plan.steps_per_epoch,
                    class_weight=class_weights(spec.train.class_weight, self.source.train_labels, len(self.source.class_names)),
                    callbacks=callbacks,
                    verbose=1 if mode == "bar" else 0,
                    shuffle=False,  # the pipeline shuffles
                )
            except KeyboardInterrupt:
                interruption.requested = True
            except self.placement.runtime_errors as exc:
                message = getattr(exc, "message", None) or str(exc)
                run.set_status("failed", error=message)
                raise RunError(f"training failed: {message}") from None
            except Exception as exc:  # a plugin layer or callback raising mid-epoch, a full disk at a checkpoint, ...
                raise _failure(run, exc) from None
        wall = time.perf_counter() - started
        state = run.read_json(CHECKPOINT_STATE) if run.file(CHECKPOINT_STATE).exists() else {"completed_epochs": 0}
        if interruption.requested:
            run.set_status("interrupted", completed_epochs=state["completed_epochs"], epochs=epochs)
            return self._result("interrupted", {"completed_epochs": state["completed_epochs"]})
        metrics = {
            **summarize_history(self.history),
            "epochs_run": len(next(iter(self.history.values()), [])),
            "epochs": epochs,
            "stopped_early": len(next(iter(self.history.values()), [])) < epochs,
            "wall_seconds": round(wall, 3),
            "train_images_per_second": clock.images_per_second(),
            "first_batch_seconds": clock.first_batch_seconds,
            "first_batch_at": clock.first_batch_at,
            "epoch_train_seconds": [round(seconds, 4) for seconds in clock.train_seconds],
            "epoch_train_cpu_seconds": [round(seconds, 4) for seconds in clock.train_cpu_seconds],
            "train_examples": self.source.train_count,
            "validation_examples": self.source.validation_count,
            "skipped_files": len(self.source.skipped),
            "precision": model.dtype_policy.name,
        }
        if prepared.test is not None:
            metrics["test"] = {k: float(v) for k, v in model.evaluate(prepared.test, verbose=0, return_dict=True).items()}
        run.write_bytes_with("model.keras", lambda path: model.save(path))
        run.write_json("history.json", self.history)
        run.write_text("history.csv", _history_csv(self.history))
        from cnnbuild.builder.run_visuals import record_run_visuals  # figures, confusion matrix, per-class table

        metrics.update(record_run_visuals(run, *self.placement.for_reports(model, prepared, spec), self.history, spec.name))
        run.write_json("metrics.json", metrics)
        run.set_status("completed", completed_epochs=metrics["epochs_run"], epochs=epochs)
        return self._result("completed", metrics)

    def _batches_per_pass(self) -> int | None:
        """Batches in one pass over the training data, when epochs run as passes over one repeated pipeline.

        Keras otherwise makes a new tf.data iterator every epoch and drops the old one; dropping
        an autotuned iterator while tf.data's autotuner is at work stalled epochs by up to 0.9 s,
        and each new iterator refills the shuffle buffer before its first batch
        (BENCHMARKS.md). One iterator keeps preparing the next epoch's batches while an
        epoch ends and validation runs. Only in a single process, where the batch count is exact
        (``train.continuous_pipeline: false`` turns it off).
        """
        if not self.spec.train.continuous_pipeline or self.placement.num_processes != 1 or not self.source.train_count:
            return None
        return -(-self.source.train_count // self.spec.data.batch_size)

    def _environment(self, precision: str) -> dict[str, Any]:
        registry = get_registry()
        return {
            "versions": _versions(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "precision": precision,
            "distribute": self.placement.describe(self.spec),
            "plugins": [{"name": p.name, "distribution": p.distribution, "version": p.version} for p in registry.plugins],
            "data": {
                "type": self.spec.data.type,
                "fingerprint": self.source.fingerprint,
                "train_examples": self.source.train_count,
                "validation_examples": self.source.validation_count,
                "test_examples": self.source.test_count,
                "skipped_files": len(self.source.skipped),
            },
        }

    def _result(self, status: str, metrics: dict[str, Any]) -> RunResult:
        return RunResult(
            run_dir=self.run.path,
            status=status,
            history=self.history,
            metrics=metrics,
            class_names=self.source.class_names,
            skipped=[{"path": s.path, "reason": s.reason} for s in self.source.skipped],
            process=self.placement.shard,
        )


def _failure(run: RunDirectory, exc: Exception) -> CnnbuildError:
    """Mark the run failed and return the one-message error to raise; completed epochs stay resumable."""
    if isinstance(exc, CnnbuildError):
        error = exc
    else:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        error = RunError(
            f"training stopped by {type(exc).__name__}: {first}; the epochs completed before it are saved: "
            f"fix the cause, then continue with cnnbuild run --resume {run.path}"
        )
    try:
        run.set_status("failed", error=str(error))
    except CnnbuildError:
        pass  # the disk may be what failed; the status then still says running, never completed
    return error


def _seed(spec: Spec) -> None:
    import_tensorflow()
    import keras

    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)


def run(spec: Spec | str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), *, output: str | Path | None = None, resume: str | Path | None = None, verbose: str | None = None) -> RunResult:
    """Train a spec (a :class:`Spec` or a path to one) and write a run directory.

    ``overrides`` are ``KEY=VALUE`` strings as ``--set`` takes them; ``output`` is the exact run
    directory (default ``output.dir/<name>/<timestamp>``); ``resume`` continues the run in that
    directory from its last completed epoch. Returns a :class:`RunResult`.
    """
    if resume is not None:
        return Trainer.resume(Path(resume), verbose=verbose).train()
    if spec is None:
        raise RunError("give a spec (or a path to one), or resume=RUN_DIR")
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    elif overrides:
        raise RunError("overrides apply to spec files; change the Spec object instead (spec.model_copy(update=...))")
    return Trainer.start(spec, Path(output) if output else None, tuple(overrides), verbose=verbose).train()
