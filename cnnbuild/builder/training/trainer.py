"""A training run: data, model, fit, and a run directory a person can trust (and resume)."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import yaml

from cnnbuild.builder.data.pipelines import PreparedData, build_pipelines, class_weights
from cnnbuild.builder.data.source import load_source
from cnnbuild.builder.data.task_targets import first_task_record, task_labels
from cnnbuild.builder.distribute.placement import Placement
from cnnbuild.builder.distribute.sharing import DataShare
from cnnbuild.builder.distribute.workers import WorkerFolders
from cnnbuild.builder.model.build import build_model, load_saved_model
from cnnbuild.builder.model.compile import compile_model
from cnnbuild.builder.model.summary import describe_model, shape_mismatches
from cnnbuild.builder.runtime import import_keras, import_tensorflow
from cnnbuild.builder.training.artifacts import run_metrics, write_artifacts, write_history
from cnnbuild.builder.training.callbacks import EpochClock, FinalWeights, Interruption
from cnnbuild.builder.training.data_checks import batch_norm_warnings, check_resumable, check_training_labels, data_warnings, without_late_failures
from cnnbuild.builder.training.environment import environment
from cnnbuild.builder.training.execution import ExecutionPlan, batches_per_pass, plan_execution
from cnnbuild.builder.training.fine_tune import check_fine_tune
from cnnbuild.builder.training.phases import fit_phases
from cnnbuild.builder.training.result import RunResult
from cnnbuild.builder.training.supervisor import announce_run_dir
from cnnbuild.contracts import run_layout as layout
from cnnbuild.contracts.data import Datasets
from cnnbuild.errors import CnnbuildError, RunError
from cnnbuild.runs.directory import RunDirectory
from cnnbuild.runs.record import RunRecord
from cnnbuild.runs.tracebacks import bug_message, save_traceback
from cnnbuild.spec.document import Spec
from cnnbuild.spec.labels import label_encoding

keras = import_keras()
log = logging.getLogger(__name__)


class Trainer:
    """Runs one spec in one run directory; :meth:`start` a new run or :meth:`resume` an interrupted one."""

    def __init__(self, spec: Spec, run: RunDirectory, data: tuple[Datasets, int], placement: Placement, share: DataShare, *, verbose: str, completed_epochs: int = 0, history: dict[str, list[float]] | None = None) -> None:
        self.spec, self.run = spec, run
        self.source, self.loaded_at = data  # the data source's result, and when its files were checked (time.time_ns())
        self.placement, self.share = placement, share
        self.completed_epochs = completed_epochs
        self.history = history or {}
        self.verbose = verbose
        #: Keras callbacks the caller adds (``run(callbacks=...)``), after the spec's own
        self.extra_callbacks: list[Any] = []
        self.final_weights = FinalWeights()  # the latest validation pass and checkpoint: the report need not repeat them

    # -- construction -------------------------------------------------------------------
    @classmethod
    def start(cls, spec: Spec, placement: Placement, output: Path | None = None, overrides: tuple[str, ...] = (), *, verbose: str, tags: dict[str, Any] | None = None) -> Trainer:
        """A new run of ``spec``, placed by ``placement`` (``engines.placement_for(spec)``, made before Keras loads)."""
        seed(spec)
        share = DataShare(placement)
        loaded_at = time.time_ns()
        source = share.balance(load_source(spec, shard=placement.shard))  # data problems surface before a run directory exists
        check_training_labels(source)
        run = RunDirectory.create(spec.resolve_path(spec.output.dir), spec.name, exact=output) if placement.is_chief else WorkerFolders(placement.process_id).worker_directory()
        announce_run_dir(run.path)
        _write_run_files(run, spec, source, overrides, tags)
        for issue in spec.warnings:  # the checks' warnings (memory), now that the data is known to be there
            log.warning(issue.render())
        for warning in [*data_warnings(source, weighted=spec.train.class_weight != "none"), *batch_norm_warnings(spec, source.train_count)]:
            log.warning("warning: %s", warning)
        return cls(spec, run, (source, loaded_at), placement, share, verbose=verbose)

    @classmethod
    def resume(cls, record: RunRecord, placement: Placement, *, verbose: str, allow_changed_data: bool = False) -> Trainer:
        """The interrupted run ``record``, continued from its last complete epoch, on the same classes
        (and the same files, unless ``allow_changed_data``)."""
        spec = record.spec
        run = WorkerFolders(placement.process_id).resume_directory(RunDirectory(record.path))
        announce_run_dir(run.path)
        run.remove_partial_files()  # what a kill cut off mid-write
        state = run.record.resume_state
        seed(spec)
        share = DataShare(placement)
        loaded_at = time.time_ns()
        source = share.balance(load_source(spec, shard=placement.shard))
        if not record.completed:
            for warning in check_resumable(record, source, allow_changed_data):
                log.warning("warning: %s", warning)
        return cls(spec, run, (source, loaded_at), placement, share, verbose=verbose, completed_epochs=state.completed_epochs, history=state.history)

    # -- the run ----------------------------------------------------------------------
    def train(self) -> RunResult:
        record = self.run.record
        if record.completed:
            log.warning("%s: this run is already complete", self.run.path)
            return self._result("completed", record.metrics or {})
        previous_policy = keras.config.dtype_policy()
        try:
            precision = self.placement.precision(self.spec.train.precision)
            keras.config.set_dtype_policy(precision)
            prepared = self.pipelines()
            with self.placement.scope():  # variables are created, updated and saved by the engine
                model = self.placement.adapt_model(self._model(prepared))
                summary = describe_model(model)
                if not self.completed_epochs:
                    for mismatch in shape_mismatches(self.spec, model, len(self.source.class_names)):
                        log.warning("warning: %s", mismatch)
                plan = self._execution_plan(summary.forward_flops)
                self.run.write_text(layout.SUMMARY, summary.text + "\n")
                self.run.write_json(layout.ENVIRONMENT, {**environment(self.spec, self.placement, self.source, precision), "execution": plan.as_dict()})
                return self._fit(model, prepared, plan)
        except Exception as exc:  # set-up, training or writing failed: the run says so in status.json
            raise failure(self.run, exc) from exc
        finally:
            keras.config.set_dtype_policy(previous_policy)

    def _model(self, prepared: PreparedData) -> Any:
        state = self.run.record.resume_state
        if self.completed_epochs and state.checkpoint is not None:
            model = load_saved_model(self.run.file(state.checkpoint), spec=self.spec)
        else:
            model = compile_model(build_model(self.spec, len(self.source.class_names)), self.spec, prepared.labels)
        check_fine_tune(model, self.spec, self.spec.registry)  # a from_layer the backbone lacks fails now, not after the frozen epochs
        return model

    def fit(self, model: Any, prepared: PreparedData, plan: ExecutionPlan, callbacks: list[Any], epochs: int, interruption: Interruption) -> None:
        """``model.fit`` from the last completed epoch up to ``epochs``; Ctrl-C and the engine's errors handled."""
        try:
            model.fit(
                prepared.train.repeat() if plan.steps_per_epoch else prepared.train,
                validation_data=prepared.validation,
                epochs=epochs,
                initial_epoch=self.completed_epochs,
                steps_per_epoch=plan.steps_per_epoch,
                class_weight=None if prepared.labels.mode in ("mask", "binary_mask") else class_weights(self.spec.train.class_weight, self.source.train_labels, len(self.source.class_names)),  # masks: pixel weights in the loss
                callbacks=callbacks,
                verbose=1 if self.verbose == "bar" else 0,
                shuffle=False,  # the pipeline shuffles
            )
        except KeyboardInterrupt:
            interruption.requested = True
        except self.placement.runtime_errors as exc:
            message = (getattr(exc, "message", None) or str(exc)).strip().splitlines()[0][:300]
            raise RunError(f"training failed: {message}") from exc
        self.completed_epochs = self.run.record.resume_state.completed_epochs

    def pipelines(self) -> PreparedData:
        return build_pipelines(self.share.pipeline_spec(self.spec), self.source)

    def _execution_plan(self, forward_flops: int) -> ExecutionPlan:
        return plan_execution(
            self.spec.train.steps_per_execution,
            training_flops_per_batch=3 * forward_flops * self.share.pipeline_spec(self.spec).data.batch_size,  # forward + two gradients
            steps_per_epoch=self.spec.train.steps_per_epoch,
            batches_per_pass=batches_per_pass(self.spec, self.source.train_count, self.placement.num_processes),
            on_gpu=bool(import_tensorflow().config.list_physical_devices("GPU")),
            several_per_call=self.placement.runs_several_steps_per_call,
        )

    def _fit(self, model: Any, prepared: PreparedData, plan: ExecutionPlan) -> RunResult:
        spec, run, epochs = self.spec, self.run, self.spec.train.total_epochs
        model.steps_per_execution = plan.steps_per_execution  # read by Keras when fit makes its train function
        steps = spec.train.steps_per_epoch
        clock = EpochClock(steps * spec.data.batch_size if steps else self.source.train_count)
        started = time.perf_counter()
        run.set_status("running", completed_epochs=self.completed_epochs, epochs=epochs, pid=os.getpid(), host=socket.gethostname())
        if self.completed_epochs:
            log.info("resuming %s after epoch %d of %d", run.path, self.completed_epochs, epochs)
        with Interruption() as interruption:
            model = fit_phases(self, model, prepared, plan, clock, interruption)
        self.source = without_late_failures(run, self.source, self.loaded_at)
        if interruption.requested:
            done = run.record.resume_state.completed_epochs
            write_history(run, self.history)
            run.set_status("interrupted", completed_epochs=done, epochs=epochs)
            return self._result("interrupted", {"completed_epochs": done})
        metrics = run_metrics(self.history, epochs, time.perf_counter() - started, clock, self.source, model.dtype_policy.name)
        reports = self.share.for_reports(model, prepared, spec)
        return self._result("completed", write_artifacts(run, model, prepared, reports, self.history, metrics, spec, self.final_weights))

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


def _write_run_files(run: RunDirectory, spec: Spec, source: Datasets, overrides: tuple[str, ...], tags: dict[str, Any] | None) -> None:
    """What a new run knows before its first epoch: how it was started, its spec, classes and skipped files."""
    info = {
        layout.FORMAT_KEY: layout.FORMAT_VERSION, "spec_file": spec.source.filename if spec.source else None, "base_dir": str(spec.base_dir),
        "overrides": list(overrides), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }  # fmt: skip
    if tags:
        info["tags"] = tags
    run.write_json(layout.RUN_INFO, info)
    run.write_text(layout.SPEC, yaml.safe_dump(spec.canonical(absolute_paths=True), sort_keys=False, allow_unicode=True))
    if spec.source is not None and spec.source.text:
        run.write_text(layout.SPEC_WRITTEN, spec.source.text)
    run.write_json(layout.CLASS_NAMES, source.class_names)
    record = first_task_record(spec, source, task_labels(spec, source, label_encoding(spec, len(source.class_names))))
    if record is not None:
        run.write_json(layout.TASK, record.as_dict())
    run.write_json(layout.SKIPPED, [{"path": s.path, "reason": s.reason} for s in source.skipped])


def failure(run: RunDirectory, exc: BaseException) -> CnnbuildError:
    """Mark the run failed and return the one-message error to raise; completed epochs stay resumable."""
    if isinstance(exc, CnnbuildError):
        error = exc
    elif isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
        error = RunError(
            f"out of memory ({type(exc).__name__}); use a smaller data.batch_size or image_size, or fewer filters or units "
            f"(cnnbuild summary estimates the memory a batch needs); completed epochs are kept: cnnbuild run --resume {run.path}"
        )
    else:  # not an error cnnbuild expects: a bug, kept whole in the run folder
        error = RunError(f"training stopped: {bug_message(exc, save_traceback(exc, run.path))}; the epochs completed before it are saved: cnnbuild run --resume {run.path}")
    try:
        run.set_status("failed", error=str(error))
    except CnnbuildError:
        pass  # the disk may be what failed; the status then still says running, never completed
    return error


def seed(spec: Spec) -> None:
    """Seed every random number generator from the spec's seed (nothing without one)."""
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
