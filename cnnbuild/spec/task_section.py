"""The ``task`` section: what the model predicts, stated once (see :mod:`cnnbuild.contracts.tasks`).

``task: multi_label`` is the short form of ``task: {type: multi_label}``. A spec without ``task``
is single-label classification, exactly as before the section existed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator, model_validator

from cnnbuild.contracts.values import NonNegativeInt, Params, PositiveNumber, Probability

ClassName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class SingleLabel(Params):
    """One class per image (the default)."""

    type: Literal["single_label"]


class MultiLabel(Params):
    """Several labels per image: one sigmoid output per label, binary cross-entropy per label."""

    type: Literal["multi_label"]
    threshold: Literal["auto"] | Probability = Field(
        "auto", description="a label is predicted when its probability reaches this; auto: chosen per label on the validation split (best F1), stored with the run"
    )
    positive_weight: Literal["none", "auto"] | dict[str, PositiveNumber] = Field(
        "none",
        description="weight of each label's positive examples in the loss: auto = negatives/positives of the training split (capped at 100); or a mapping label -> weight",
    )


class Regression(Params):
    """One or more numbers per image: linear outputs, mean squared error (or Huber, mean absolute error)."""

    type: Literal["regression"]
    standardize: bool = Field(
        True, description="train on targets scaled to mean 0 and standard deviation 1 (the training split's, stored with the run); predictions are in the original units"
    )


class Segmentation(Params):
    """One class per pixel: a per-pixel softmax (or sigmoid for two classes) whose output has the input's height and width."""

    type: Literal["segmentation"]
    classes: dict[NonNegativeInt, ClassName] | None = Field(
        None,
        description="the class of each mask index, e.g. {0: background, 1: cell}: indices 0 to N-1, each once; default: the names the data source gives (the masks folder needs it)",
    )
    ignore_index: Annotated[int, Field(ge=0, le=255)] | None = Field(
        None, description="a mask value that marks pixels without a class (e.g. 255 for borders): left out of the loss and the metrics"
    )
    dice_weight: PositiveNumber = Field(1.0, description="loss dice_crossentropy: the weight of the Dice loss added to the cross-entropy")

    @field_validator("classes")
    @classmethod
    def _indices(cls, value: dict[int, str] | None) -> dict[int, str] | None:
        if value is None:
            return None
        if sorted(value) != list(range(len(value))):
            raise ValueError(f"mask indices must be 0 to {len(value) - 1}, each once (got {sorted(value)})")
        if len(value) < 2:
            raise ValueError("name at least two classes (e.g. {0: background, 1: cell})")
        if len(set(value.values())) != len(value):
            raise ValueError("class names must be unique")
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _ignore_outside(self) -> Segmentation:
        if self.ignore_index is not None and self.classes is not None and self.ignore_index in self.classes:
            raise ValueError(f"ignore_index {self.ignore_index} is the index of class {self.classes[self.ignore_index]!r}; use a value that is no class's (e.g. 255)")
        return self

    @property
    def class_names(self) -> list[str] | None:
        """The classes in index order, when the spec names them."""
        return list(self.classes.values()) if self.classes is not None else None


def _tagged(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


TaskSection = Annotated[SingleLabel | MultiLabel | Regression | Segmentation, Field(discriminator="type"), BeforeValidator(_tagged)]


def with_task_metrics(data: Any) -> Any:
    """A spec's raw mapping with its task's own metrics where it names none (``compile.metrics``'
    default is single-label's ``accuracy``)."""
    from cnnbuild.contracts.tasks import task_named

    if not isinstance(data, dict):
        return data
    task = data.get("task")
    name = task.get("type") if isinstance(task, dict) else task
    compile_section = data.get("compile", {})
    if not isinstance(name, str) or name not in ("multi_label", "regression", "segmentation") or not isinstance(compile_section, dict) or "metrics" in compile_section:
        return data
    return {**data, "compile": {**compile_section, "metrics": list(task_named(name).default_metrics)}}
