"""The fixed sections of a spec: compile, train, output, distribute (``data`` comes from the data sources' registrations)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from cnnbuild.contracts.plugin_api import moved_names
from cnnbuild.contracts.tasks import TASKS
from cnnbuild.contracts.values import Fraction01, NonNegativeNumber, Params, PositiveInt, PositiveNumber

if TYPE_CHECKING:
    from cnnbuild.spec.entry_types import Entry


# Optimizers: one model per name, the tag in `type`.
class _Optimizer(Params):
    learning_rate: PositiveNumber = 0.001
    weight_decay: NonNegativeNumber | None = None
    clipnorm: PositiveNumber | None = None
    global_clipnorm: PositiveNumber | None = None


class Adam(_Optimizer):
    type: Literal["adam"]
    beta_1: Fraction01 = 0.9
    beta_2: Fraction01 = 0.999
    epsilon: PositiveNumber = 1e-7
    amsgrad: bool = False


class AdamW(_Optimizer):
    type: Literal["adamw"]
    weight_decay: NonNegativeNumber | None = 0.004
    beta_1: Fraction01 = 0.9
    beta_2: Fraction01 = 0.999
    epsilon: PositiveNumber = 1e-7


class SGD(_Optimizer):
    type: Literal["sgd"]
    learning_rate: PositiveNumber = 0.01
    momentum: Fraction01 = 0.0
    nesterov: bool = False


class RMSprop(_Optimizer):
    type: Literal["rmsprop"]
    rho: Fraction01 = 0.9
    momentum: Fraction01 = 0.0
    epsilon: PositiveNumber = 1e-7
    centered: bool = False


def _tagged(value: Any) -> Any:
    """A bare name is the short form of ``{type: name}``."""
    return {"type": value} if isinstance(value, str) else value


Optimizer = Annotated[Adam | AdamW | SGD | RMSprop, Field(discriminator="type"), BeforeValidator(_tagged)]

class Loss(Params):
    """``auto`` picks the loss from the labels and the last layer's activation."""

    type: Literal[
        "auto", "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "huber",
        "dice_crossentropy",
    ] = "auto"
    from_logits: bool | None = Field(None, description="default: true when the last layer has no activation")
    label_smoothing: Fraction01 = 0.0


#: Every metric of every task, in the task table's order (which fit a spec: its task's row).
METRICS = tuple(dict.fromkeys(name for task in TASKS.values() for name in task.metrics))


class Compile(Params):
    optimizer: Optimizer = Field(default_factory=lambda: Adam(type="adam"))
    loss: Annotated[Loss, BeforeValidator(_tagged)] = Field(default_factory=Loss)
    metrics: list[Literal[METRICS]] = Field(default_factory=lambda: ["accuracy"])  # type: ignore[valid-type]
    jit_compile: bool | Literal["auto"] = Field(False, description="XLA compilation; off by default because it slows CPU training")


class FineTune(Params):
    """After ``train.epochs`` with the backbone frozen: unfreeze it and train on at a lower learning rate."""

    epochs: Annotated[int, Field(ge=1, le=100_000)] = Field(description="epochs of fine-tuning, after train.epochs")
    learning_rate_multiplier: Annotated[float, Field(gt=0, le=1)] = Field(0.1, description="the learning rate while fine-tuning is compile.optimizer.learning_rate times this")
    last_layers: PositiveInt | None = Field(None, description="unfreeze only the backbone's last N layers that have weights (default: all of it)")
    from_layer: str | None = Field(None, description="unfreeze from this layer of the backbone (by name, a layer with weights) to its end")

    @model_validator(mode="after")
    def _one_choice(self) -> FineTune:
        if self.last_layers is not None and self.from_layer is not None:
            raise ValueError("give last_layers or from_layer, not both (neither: the whole backbone)")
        return self


class Train(Params):
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 10
    steps_per_epoch: PositiveInt | None = None
    steps_per_execution: Literal["auto"] | Annotated[int, Field(ge=1, le=10_000)] = Field(
        "auto",
        description="training batches run per call into TensorFlow (Keras's compile argument); callbacks see every Nth batch. "
        "auto: as many batches as keep a call short by the model's estimated FLOPs (up to 16), dividing the batches of an epoch",
    )
    class_weight: Literal["auto", "none"] | dict[int, PositiveNumber] = Field("none", description="auto balances classes by frequency; or a mapping class index -> weight")
    precision: Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"] = Field("auto", description="auto: bfloat16 where the CPU computes it natively, float16 on GPUs of compute capability 7.0+, else float32")
    verbose: Literal["auto", "bar", "line", "quiet"] = Field("auto", description="auto: progress bar on a terminal, one line per epoch otherwise")
    deterministic: Literal["auto"] | bool = Field(
        "auto", description="repeatable results: augmentation draws in one stream instead of in parallel; auto: when a seed is set"
    )
    fuse_augmentation: bool = Field(
        True, description="pipeline augmentation: consecutive RandomFlip/RandomRotation/RandomZoom/RandomTranslation resample the batch once (about half the CPU); false: each layer in turn"
    )
    continuous_pipeline: bool = Field(
        True,
        description="one training iterator for the whole run (epochs are passes over the repeated data; single-process runs) and no tf.data "
        "autotuning thread (the training pipeline keeps it where more than 16 CPU threads could run its maps), so epochs and the run's end "
        "do not wait for iterators to be torn down and refilled; false: a new iterator every epoch, autotuned, as Keras does",
    )

    fine_tune: FineTune | None = Field(
        None, description="after epochs with the pretrained backbone frozen, unfreeze it (BatchNormalization stays in inference mode) and train fine_tune.epochs more"
    )

    if TYPE_CHECKING:  # added by the spec's model (document.spec_model), with the registered callbacks
        callbacks: list[Entry]

    @property
    def total_epochs(self) -> int:
        """Every epoch of the run: ``epochs``, plus the fine-tuning epochs."""
        return self.epochs + (self.fine_tune.epochs if self.fine_tune else 0)

    @field_validator("class_weight", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in value.items()}
        return value


def _safe_dir(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("path contains a NUL character")
    return value


class Output(Params):
    dir: Annotated[Path, BeforeValidator(_safe_dir)] = Field(Path("runs"), description="runs are written to DIR/<name>/<timestamp>/; relative to the spec file")
    keep_checkpoints: PositiveInt = 2


def _device_count(value: Any) -> Any:
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected 'auto' or a positive number of devices, got {value!r}")
    return value


def check_host_port(value: Any) -> Any:
    """``value`` if it is HOST:PORT; ValueError otherwise."""
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, such as trainer-0.trainer:5555, got {value!r}")
    return value


DeviceCount = Annotated[int | Literal["auto"], BeforeValidator(_device_count), WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]})]


class Distribute(Params):
    """Data-parallel training: the same keys whichever engine runs them (see docs/distributed.md)."""

    mode: Literal["single", "devices", "machines"] = Field(
        "single", description="single: one device; devices: every device of one machine; machines: one process per machine, started with the same command on each"
    )
    devices: DeviceCount = Field(
        "auto", description="devices each process trains on: auto = every GPU (one CPU without GPUs); N = the first N GPUs, or N logical CPU devices where there is no GPU (for testing)"
    )
    coordinator: Annotated[str, BeforeValidator(check_host_port)] | None = Field(
        None, description="machines: HOST:PORT of process 0, which the others connect to (or --coordinator, KERAS_DISTRIBUTION_JOB_ADDRESSES, Slurm)"
    )
    num_processes: PositiveInt | None = Field(None, description="machines: how many processes train together (or --num-processes, KERAS_DISTRIBUTION_NUM_PROCESSES, Slurm)")

    @model_validator(mode="after")
    def _machines_only(self) -> Distribute:
        given = [key for key in ("coordinator", "num_processes") if getattr(self, key) is not None]
        if given and self.mode != "machines":
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{' and '.join(given)} {verb} only to mode: machines (mode is {self.mode}); set mode: machines or remove {' and '.join(given)}")
        return self


# plugin API 1.0 kept the data sources' base here
__getattr__ = moved_names(__name__, {"DataParams": "cnnbuild.contracts.data"})
