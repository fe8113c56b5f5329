"""``cnnbuild init --task TASK``: a starter spec for multi-label classification, regression or
segmentation that validates and trains at once, offline, on cnnbuild's own synthetic data
(``shapes``, ``shape_masks``: generated from the seed, nothing downloaded), one row per task.

Each starter says in comments which source reads a user's own data for its task and the keys
that source needs, so the data section is the one thing to change. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnbuild.errors import CnnbuildError
from cnnbuild.spec.format_history import CURRENT as FORMAT
from cnnbuild.spec.format_history import KEY as FORMAT_KEY
from cnnbuild.starter.spec_text import SEED, command_word, comment
from cnnbuild.starter.writer import checked_spec, refuse_existing, run_name, write_new


@dataclass(frozen=True)
class TaskStarter:
    """The starter spec of one task: its sections as spec text, and what the synthetic data is."""

    task: str
    #: what the model learns on the synthetic data, one line (the header and the command's summary)
    learns: str
    #: the ``task:`` section
    task_section: str
    #: the ``data:`` section on synthetic data, with the comments saying how to read one's own
    data: str
    augmentation: str
    model: str
    training: str


_CNN = """    - {type: Rescaling, scale: 1/255}        # pixels arrive as 0..255
    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - {type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D
    - {type: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}
"""

MULTI_LABEL = TaskStarter(
    "multi_label",
    "which of circle, square and triangle each image shows (any number of them, each present or not)",
    """task:
  type: multi_label     # one sigmoid output per label, binary cross-entropy per label
  threshold: auto       # each label's threshold is chosen on the validation split (best F1) and kept with the run
""",
    """# SYNTHETIC data (cnnbuild's `shapes` source, generated from the seed): shapes on striped, noisy
# backgrounds; the labels of an image are the kinds of shape it shows.
# Your own data: a CSV of image file names and their labels, read by the csv source:
#   type: csv
#   path: labels.csv          # a header row, then one row per image; file names relative to the CSV
#   label_column: labels      # labels in one column, such as cat|dog ...
#   label_separator: "|"
#   # label_columns: [cat, dog]   # ... or one 0/1 column per label instead
data:
  type: shapes
  count: 1500           # images generated, before the validation split
  image_size: [32, 32]  # [height, width]
  batch_size: 32
  validation_split: 0.2 # stratified by label set, the same images on every run
""",
    "  - {type: RandomFlip, mode: horizontal}   # a flipped image shows the same shapes\n",
    f"""model:
  layers:
{_CNN}    - GlobalMaxPooling2D                     # is a shape anywhere in the image?
    - {{type: Dense, units: auto, activation: sigmoid}}   # one output per label
""",
    """compile:
  optimizer: {type: adam, learning_rate: 0.003}
  # loss: auto is binary cross-entropy; metrics default to f1_micro, f1_macro and average_precision

train:
  epochs: 12
""",
)

REGRESSION = TaskStarter(
    "regression",
    "how many shapes each image shows (0 to 4), a number rather than a class",
    """task:
  type: regression      # linear outputs, one per target
  standardize: true     # trains on (value - mean) / std of the training split; predictions come back in the target's units
""",
    """# SYNTHETIC data (cnnbuild's `shapes` source, generated from the seed): shapes on striped, noisy
# backgrounds; the target `count` is how many shapes an image shows.
# Your own data: a CSV of image file names and numeric columns, read by the csv source:
#   type: csv
#   path: targets.csv         # a header row, then one row per image; file names relative to the CSV
#   target_columns: [age]     # the numbers to predict, one output each
data:
  type: shapes
  count: 1500           # images generated, before the validation split
  image_size: [32, 32]  # [height, width]
  max_shapes: 4         # the target is 0 to 4
  batch_size: 32
  validation_split: 0.2 # stratified by quantile of the target
""",
    "  - {type: RandomFlip, mode: horizontal_and_vertical}   # flipping never changes how many shapes there are\n",
    f"""model:
  layers:
{_CNN}    - GlobalAveragePooling2D
    - {{type: Dense, units: 32, activation: relu}}
    - {{type: Dense, units: auto}}             # one output per target, no activation
""",
    """compile:
  optimizer: {type: adam, learning_rate: 0.003}
  loss: huber           # or mean_squared_error (auto) or mean_absolute_error; metrics default to mae and rmse

train:
  epochs: 12
""",
)

SEGMENTATION = TaskStarter(
    "segmentation",
    "the class of every pixel: background, circle or square (a small U-Net)",
    """task:
  type: segmentation    # a softmax per pixel, the output as high and wide as the input
  classes: {0: background, 1: circle, 2: square}   # the class of each mask value
""",
    """# SYNTHETIC data (cnnbuild's `shape_masks` source, generated from the seed): circles and squares on
# striped, noisy backgrounds, and their masks.
# Your own data: an images folder and a masks folder of PNGs with the images' file names, each mask
# pixel the index of its class (single-channel or palette PNGs), read by the image_masks source:
#   type: image_masks
#   images: images
#   masks: masks
# and task.classes naming every index your masks use (task.ignore_index for pixels to leave out).
data:
  type: shape_masks
  count: 600            # images generated, before the validation split
  image_size: [32, 32]  # [height, width]
  shapes: [circle, square]
  batch_size: 32
  validation_split: 0.2 # stratified by the classes each mask shows
""",
    "  - {type: RandomFlip, mode: horizontal_and_vertical}   # each mask is flipped with its image\n",
    """# The encoder halves the resolution twice; the decoder doubles it back (UpSampling2D) and
# concatenates the encoder's maps of the same size (the skips, by name).
model:
  layers:
    - {type: Rescaling, scale: 1/255}        # pixels arrive as 0..255
    - {name: enc1, type: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}   # 32x32
    - MaxPooling2D                                                                             # 16x16
    - {name: enc2, type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D                                                                             # 8x8
    - {type: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}             # the bottleneck
    - {name: up2, type: UpSampling2D, size: 2}                                                 # 16x16
    - {type: Concatenate, inputs: [up2, enc2]}
    - {type: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
    - {name: up1, type: UpSampling2D, size: 2}                                                 # 32x32
    - {type: Concatenate, inputs: [up1, enc1]}
    - {type: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - {type: Dense, units: auto, activation: softmax}                                          # a softmax per pixel
""",
    """compile:
  optimizer: {type: adam, learning_rate: 0.003}
  loss: auto            # sparse categorical cross-entropy per pixel; dice_crossentropy adds a Dice term
  # metrics default to mean_iou, per_class_iou, dice and pixel_accuracy

train:
  epochs: 25
""",
)

#: The tasks ``init --task`` writes a synthetic starter for (single-label starters survey the user's data).
TASK_STARTERS: dict[str, TaskStarter] = {row.task: row for row in (MULTI_LABEL, REGRESSION, SEGMENTATION)}


@dataclass(frozen=True)
class WrittenTaskStarter:
    """What ``init --task`` wrote."""

    path: Path
    starter: TaskStarter

    def summary(self) -> list[str]:
        """Lines for the terminal: what the starter learns, on what data, and where to put one's own."""
        return [
            f"task {self.starter.task}: a starter on synthetic data (nothing downloaded) that learns {self.starter.learns}",
            f"to train on your own data, change its data: section as the comments above it say ({self.path})",
        ]


def task_spec_text(starter: TaskStarter, *, spec_name: str, name: str) -> str:
    """The whole starter spec of ``starter``; ``spec_name`` is the spec's path as the user typed it."""
    word = command_word(spec_name)
    return (
        comment([f"A starter spec for task {starter.task}, written by `cnnbuild init --task {starter.task}`.", f"It trains at once, offline, on synthetic data: the model learns {starter.learns}."])
        + f"# Check it with `cnnbuild validate {word}`, train it with `cnnbuild run {word}`.\n"
        + f"\n{FORMAT_KEY}: {FORMAT}  # the spec format this file is written in (a later cnnbuild reads it, or `cnnbuild migrate` rewrites it)\n"
        f"name: {name}\nseed: {SEED}  # the same seed, the same data, split, shuffling and initial weights\n\n"
        f"{starter.task_section}\n{starter.data}\n"
        "# Random changes to the training images (never to validation), a new draw every epoch.\n"
        f"augmentation:\n{starter.augmentation}\n{starter.model}\n{starter.training}"
        "\noutput:\n  dir: runs  # each run in runs/<name>/<timestamp>/, relative to this file\n"
    )


def write_task_starter(task: str, out: Path | None = None) -> WrittenTaskStarter:
    """Write the starter spec of ``task`` (a row of :data:`TASK_STARTERS`) to ``out`` (default
    ``TASK.yaml`` in the current folder), validated first and never over an existing file."""

    if task not in TASK_STARTERS:
        raise CnnbuildError(f"task {task!r}: init writes a synthetic starter for {', '.join(TASK_STARTERS)}; a single-label starter looks at your data (cnnbuild init DATA_FOLDER)")
    starter = TASK_STARTERS[task]
    out = Path(out) if out is not None else Path(f"{task}.yaml")
    refuse_existing(out)
    text = task_spec_text(starter, spec_name=str(out), name=run_name(out))
    checked_spec(text, out)
    write_new(out, text)
    return WrittenTaskStarter(out, starter)
