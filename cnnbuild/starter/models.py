"""The models ``cnnbuild init --model`` writes: one row each, with why a user would pick it.

``tutorial`` is ``examples/flowers.yaml``'s network and ``resnet_small`` is
``examples/resnet_small.yaml``'s (a test keeps them equal); ``small`` is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnbuild.plugins.builtin.backbone_table import weights_file


@dataclass(frozen=True)
class StarterModel:
    """One choice of ``--model``: the spec text of its sections and the comment saying why."""

    name: str
    #: why a user would pick it, in sentences (the spec wraps them into comments)
    why: str
    #: ``blocks:`` and ``model:`` sections, as spec text
    model: str
    #: ``compile:`` and ``train:`` sections, as spec text
    training: str
    #: an image size the model needs whatever the images' size ([height, width]), with the reason
    fixed_size: tuple[tuple[int, int], str] | None = None
    #: true for a pretrained network that takes 3-channel images (grayscale is repeated, alpha cannot be)
    pretrained: bool = False


_EARLY_STOPPING = """  callbacks:
    - {type: EarlyStopping, monitor: val_loss, patience: 5, restore_best_weights: true}
"""

SMALL = StarterModel(
    "small",
    "a small CNN trained from scratch (the default): three convolution stages, global average pooling (so it "
    "works at any image size with few parameters) and dropout. Fast on a CPU, and a baseline to beat; for "
    "few images or hard classes try `cnnbuild init --model transfer` (a pretrained network).",
    """model:
  layers:
    - {type: Rescaling, scale: 1/255}        # pixels arrive as 0..255
    - {type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - {type: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - {type: Conv2D, filters: 128, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - GlobalAveragePooling2D
    - {type: Dropout, rate: 0.3}
    - {type: Dense, units: auto}             # one output per class, logits
""",
    """compile:
  optimizer: {type: adam, learning_rate: 0.001}
  loss: auto                                 # picked from the labels and the last layer
  metrics: [accuracy]

train:
  epochs: 30                                 # an upper bound: EarlyStopping ends the run when val_loss stops improving
"""
    + _EARLY_STOPPING,
)

TUTORIAL = StarterModel(
    "tutorial",
    "the TensorFlow image classification tutorial's network (examples/flowers.yaml): three "
    "convolutions, Flatten and a 128-unit Dense layer, whose parameters grow with the image size.",
    """model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - {type: MaxPooling2D}
    - {type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - {type: MaxPooling2D}
    - {type: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}
    - {type: MaxPooling2D}
    - {type: Dropout, rate: 0.2}
    - {type: Flatten}
    - {type: Dense, units: 128, activation: relu}
    - {type: Dense, units: auto}
""",
    """compile:
  optimizer: adam
  loss: auto
  metrics: [accuracy]

train:
  epochs: 15
"""
    + _EARLY_STOPPING,
)

RESNET_SMALL = StarterModel(
    "resnet_small",
    "a small residual network trained from scratch (examples/resnet_small.yaml): a conv_bn block, "
    "Residual stages at 32, 64 and 128 filters, global average pooling. More capacity than `small`, and slower.",
    """blocks:
  # Conv2D + BatchNormalization + activation. momentum 0.9, not Keras's 0.99: with few batches an
  # epoch, 0.99 leaves the statistics validation uses far from the data's (examples/resnet_small.yaml).
  conv_bn:
    params: {filters: required, strides: 1, activation: relu}
    layers:
      - {type: Conv2D, filters: $filters, kernel_size: 3, strides: $strides, padding: same, use_bias: false}
      - {type: BatchNormalization, momentum: 0.9}
      - {type: Activation, activation: $activation}

model:
  layers:
    - {type: Rescaling, scale: 1/255}
    - {type: conv_bn, filters: 32, strides: 2}
    - MaxPooling2D
    - type: Residual
      repeat: 2
      activation: relu
      layers:
        - {type: conv_bn, filters: 32}
        - {type: conv_bn, filters: 32, activation: linear}
    - type: Residual
      activation: relu
      layers:
        - {type: conv_bn, filters: 64, strides: 2}
        - {type: conv_bn, filters: 64, activation: linear}
    - type: Residual
      activation: relu
      layers:
        - {type: conv_bn, filters: 128, strides: 2}
        - {type: conv_bn, filters: 128, activation: linear}
    - GlobalAveragePooling2D
    - {type: Dropout, rate: 0.2}
    - {type: Dense, units: auto}
""",
    """compile:
  optimizer: adam
  loss: auto
  metrics: [accuracy]

train:
  epochs: 30
"""
    + _EARLY_STOPPING,
)

TRANSFER = StarterModel(
    "transfer",
    "transfer learning: MobileNetV3Small pretrained on ImageNet, frozen, with a new classifier; then "
    "fine-tuning the whole network at a tenth of the learning rate: the usual start when there are few images. "
    "The backbone applies its own preprocessing to the 0..255 pixels, so there is no Rescaling layer. "
    "Offline: Keras downloads the imagenet weights into ~/.keras/models on first use; without "
    f"internet access put {weights_file('MobileNetV3Small', 224, 224)} there, or set "
    "weights to a .weights.h5 file saved from the same network.",
    """model:
  layers:
    - {type: Backbone, architecture: MobileNetV3Small, weights: imagenet, pooling: avg}   # frozen unless trainable: true
    - {type: Dropout, rate: 0.2}
    - {type: Dense, units: auto}
""",
    """compile:
  optimizer: {type: adam, learning_rate: 0.001}
  loss: auto
  metrics: [accuracy]

train:
  epochs: 5                                  # the new classifier only, the backbone frozen
  fine_tune:
    epochs: 5                                # then the whole backbone (BatchNormalization stays frozen)
    learning_rate_multiplier: 0.1
  callbacks:
    - {type: EarlyStopping, monitor: val_loss, patience: 3, restore_best_weights: true}
""",
    fixed_size=((224, 224), "the size MobileNetV3Small's imagenet weights were trained at"),
    pretrained=True,
)

#: ``--model`` choices, the default first.
MODELS = {model.name: model for model in (SMALL, RESNET_SMALL, TUTORIAL, TRANSFER)}
