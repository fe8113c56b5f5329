"""The ``task`` section: what the model predicts, stated once (see :mod:`cnnbuild.contracts.tasks`).

``task: multi_label`` is the short form of ``task: {type: multi_label}``. A spec without ``task``
is single-label classification, exactly as before the section existed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from cnnbuild.contracts.values import Params, PositiveNumber, Probability


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


def _tagged(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


TaskSection = Annotated[SingleLabel | MultiLabel | Regression, Field(discriminator="type"), BeforeValidator(_tagged)]


def with_task_metrics(data: Any) -> Any:
    """A spec's raw mapping with its task's own metrics where it names none (``compile.metrics``'
    default is single-label's ``accuracy``)."""
    from cnnbuild.contracts.tasks import task_named

    if not isinstance(data, dict):
        return data
    task = data.get("task")
    name = task.get("type") if isinstance(task, dict) else task
    compile_section = data.get("compile", {})
    if not isinstance(name, str) or name not in ("multi_label", "regression") or not isinstance(compile_section, dict) or "metrics" in compile_section:
        return data
    return {**data, "compile": {**compile_section, "metrics": list(task_named(name).default_metrics)}}
