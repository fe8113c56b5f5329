"""The Keras loss and metrics of multi-label and regression runs that Keras has no exact form of:
binary cross-entropy with a weight per label's positive examples, and regression errors measured
in the targets' original units while the model trains on standardised ones.

Registered with Keras under the package ``cnnbuild`` when this module is imported, so a saved
model (a checkpoint that ``--resume`` continues) loads with them in safe mode.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnnbuild")
class PositiveWeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy per label, each label's positive term times its weight, averaged over labels."""

    def __init__(self, positive_weights: list[float], from_logits: bool = False, name: str = "positive_weighted_binary_crossentropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.positive_weights = [float(w) for w in positive_weights]
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, y_pred.dtype)
        weights = ops.cast(ops.convert_to_tensor(self.positive_weights), y_pred.dtype)
        if self.from_logits:
            positive, negative = ops.softplus(-y_pred), ops.softplus(y_pred)  # -log(sigmoid(x)), -log(1 - sigmoid(x))
        else:
            p = ops.clip(y_pred, keras.backend.epsilon(), 1 - keras.backend.epsilon())
            positive, negative = -ops.log(p), -ops.log(1 - p)
        return ops.mean(weights * y_true * positive + (1 - y_true) * negative, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "positive_weights": self.positive_weights, "from_logits": self.from_logits}


class _OriginalUnits:
    """Mixin: undo the standardisation of targets and outputs before the metric sees them."""

    def _scale(self, mean: list[float], std: list[float]) -> None:
        self.target_mean = [float(v) for v in mean]
        self.target_std = [float(v) for v in std]

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        mean = ops.convert_to_tensor(self.target_mean, dtype="float32")
        std = ops.convert_to_tensor(self.target_std, dtype="float32")
        y_true = ops.cast(y_true, "float32") * std + mean
        y_pred = ops.cast(y_pred, "float32") * std + mean
        return super().update_state(y_true, y_pred, sample_weight)  # type: ignore[misc]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_mean": self.target_mean, "target_std": self.target_std}  # type: ignore[misc]


@keras.saving.register_keras_serializable(package="cnnbuild")
class OriginalUnitsMeanAbsoluteError(_OriginalUnits, keras.metrics.MeanAbsoluteError):
    """Mean absolute error in the targets' original units."""

    def __init__(self, target_mean: list[float], target_std: list[float], name: str = "mae", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self._scale(target_mean, target_std)


@keras.saving.register_keras_serializable(package="cnnbuild")
class OriginalUnitsRootMeanSquaredError(_OriginalUnits, keras.metrics.RootMeanSquaredError):
    """Root mean squared error in the targets' original units."""

    def __init__(self, target_mean: list[float], target_std: list[float], name: str = "rmse", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self._scale(target_mean, target_std)


@keras.saving.register_keras_serializable(package="cnnbuild")
class LogitF1Score(keras.metrics.F1Score):
    """F1 of a model that outputs logits (no sigmoid layer): the probability is taken first, so the
    threshold is 0.5 as with probabilities (Keras's F1Score takes no threshold of 0)."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        return super().update_state(y_true, ops.sigmoid(ops.cast(y_pred, "float32")), sample_weight)
