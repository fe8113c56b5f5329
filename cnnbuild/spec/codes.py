"""The stable code of every kind of spec issue, listed once: programs decide by these (``cnnbuild
validate --json``, tests, editors), never by a message's wording, which may improve at any release.

A code, once published, keeps its meaning; a new kind of problem gets a new code. The README's
validation section has the same table (a test keeps the two equal).
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """What kind of problem a :class:`~cnnbuild.spec.errors.SpecIssue` is."""

    # reading the file
    CANNOT_READ = "cannot-read"
    NOT_TEXT = "not-text"
    INVALID_YAML = "invalid-yaml"
    EMPTY_FILE = "empty-file"
    YAML_TAG = "yaml-tag"
    DUPLICATE_KEY = "duplicate-key"
    TOO_LARGE = "too-large"
    # keys and values
    UNKNOWN_KEY = "unknown-key"
    MISSING_KEY = "missing-key"
    UNKNOWN_TYPE = "unknown-type"
    NOT_ALLOWED_HERE = "not-allowed-here"
    WRONG_TYPE = "wrong-type"
    INVALID_VALUE = "invalid-value"
    INVALID_OVERRIDE = "invalid-override"
    OLD_SPELLING = "old-spelling"
    UNKNOWN_FORMAT_VERSION = "unknown-format-version"
    # the model's graph
    UNKNOWN_INPUT = "unknown-input"
    DUPLICATE_NAME = "duplicate-name"
    RESERVED_NAME = "reserved-name"
    INPUT_COUNT = "input-count"
    CYCLE = "cycle"
    UNUSED_OUTPUT = "unused-output"
    UNKNOWN_PARAMETER = "unknown-parameter"
    UNUSED_PARAMETER = "unused-parameter"
    UNUSED_BLOCK = "unused-block"
    EXPRESSION_SYNTAX = "expression-syntax"
    UNKNOWN_NAME = "unknown-name"
    NOT_AN_INTEGER = "not-an-integer"
    DIVISION_BY_ZERO = "division-by-zero"
    UNKNOWN_SHAPE = "unknown-shape"
    ABSENT_ENTRY = "absent-entry"
    # what the model, its labels and its training need
    SHAPE_MISMATCH = "shape-mismatch"
    SHAPE_FUNCTION_FAILED = "shape-function-failed"
    MODEL_TOO_LARGE = "model-too-large"
    LABEL_MISMATCH = "label-mismatch"
    LABEL_MIXING = "label-mixing"
    FINE_TUNE = "fine-tune"
    DOUBLE_RESCALING = "double-rescaling"
    BACKBONE_TRAINABLE = "backbone-trainable"
    BACKBONE_RANDOM_FROZEN = "backbone-random-frozen"
    UNSUPPORTED = "unsupported"
    TASK_MISMATCH = "task-mismatch"
    TASK_UNSUPPORTED = "task-unsupported"
    SEGMENTATION_RESOLUTION = "segmentation-resolution"
    # the data, packages and the machine
    DATA_MISSING = "data-missing"
    DATA_INVALID = "data-invalid"
    MISSING_PACKAGE = "missing-package"
    OUT_OF_MEMORY = "out-of-memory"
    PLUGIN_FAILED = "plugin-failed"
    # sweeps
    UNKNOWN_METRIC = "unknown-metric"
    INVALID_TRIAL = "invalid-trial"
    INVALID_COMBINATION = "invalid-combination"
    NO_EFFECT = "no-effect"
    CONFLICT = "conflict"
    # cnnbuild's own fault
    INTERNAL_ERROR = "internal-error"


#: What each code means, in the words of the README's table.
MEANINGS: dict[Code, str] = {
    Code.CANNOT_READ: "the spec file cannot be read (missing, a folder, no permission)",
    Code.NOT_TEXT: "the file is not UTF-8 text",
    Code.INVALID_YAML: "YAML syntax: a bad indent, a tab, an unclosed bracket, several documents, a key that is not plain text",
    Code.EMPTY_FILE: "the file holds nothing",
    Code.YAML_TAG: "a YAML tag (`!!python/...`, `!custom`): a spec is plain data",
    Code.DUPLICATE_KEY: "the same key twice in one mapping",
    Code.TOO_LARGE: "the file, its nesting or the model's expanded graph is beyond cnnbuild's limits",
    Code.UNKNOWN_KEY: "a key this place does not have (a misspelling, or a key that belongs elsewhere: the message says where)",
    Code.MISSING_KEY: "a required key is absent (`type` of an entry, `data`, `model.layers`, ...)",
    Code.UNKNOWN_TYPE: "a `type` no installed plugin registers (a misspelling, or a plugin not installed or failed to load)",
    Code.NOT_ALLOWED_HERE: "a registered type or key that exists but cannot be used at this place",
    Code.WRONG_TYPE: "a value of the wrong kind: a mapping, a list, a number or true/false was expected",
    Code.INVALID_VALUE: "a value of the right kind that is not allowed: out of range, not one of the choices, the wrong form or length",
    Code.INVALID_OVERRIDE: "a `--set` option (or a key of a sweep's space) that is not `KEY=VALUE` or names a place that cannot be set",
    Code.OLD_SPELLING: "warning: a key spelled as an earlier spec format spelled it; read as the current spelling (`cnnbuild migrate` rewrites it)",
    Code.UNKNOWN_FORMAT_VERSION: "`format_version` is newer than this cnnbuild reads: upgrade cnnbuild",
    Code.UNKNOWN_INPUT: "`inputs` or `model.outputs` names no entry visible there",
    Code.DUPLICATE_NAME: "two entries of one list share a `name`",
    Code.RESERVED_NAME: "a name cnnbuild gives something itself (`input`, a Residual's `shortcut`/`add`, a layer type for a block, a block use's own keys)",
    Code.INPUT_COUNT: "a layer or container given more or fewer inputs than it takes",
    Code.CYCLE: "entries take each other's outputs, or a block uses itself",
    Code.UNUSED_OUTPUT: "an entry's output goes nowhere (not an input of any entry, nor the model's output)",
    Code.UNKNOWN_PARAMETER: "a `$name` in a block that is not one of its parameters",
    Code.UNUSED_PARAMETER: "warning: a block parameter no layer of the block uses",
    Code.UNUSED_BLOCK: "warning: a block `model.layers` never uses",
    Code.EXPRESSION_SYNTAX: "an expression in a block (`$filters * 2`, a `when:`) that cannot be read; the column points inside it",
    Code.UNKNOWN_NAME: "an expression names a function, an `$in` property or a bare word it does not have",
    Code.NOT_AN_INTEGER: "an expression gives a fraction where an integer is needed (`filters`, `strides`, `round_to`'s divisor)",
    Code.DIVISION_BY_ZERO: "an expression divides by zero with the values of a use",
    Code.UNKNOWN_SHAPE: "an expression uses `$in` where the block's input shape is not known before the model is built",
    Code.ABSENT_ENTRY: "`inputs` names an entry of a block that its `when:` leaves out of this use",
    Code.SHAPE_MISMATCH: "a layer cannot take the shape it receives, or an augmentation layer changes the image's shape",
    Code.SHAPE_FUNCTION_FAILED: "a plugin layer's shape function failed or returned nonsense (the plugin's bug)",
    Code.MODEL_TOO_LARGE: "the model would have more than a billion parameters",
    Code.LABEL_MISMATCH: "the last layer, the loss, the metrics, `label_mode` or `class_weight` do not fit the labels or the class count",
    Code.LABEL_MIXING: "MixUp or CutMix with a placement, labels, loss or monitored metric they cannot work with",
    Code.FINE_TUNE: "`train.fine_tune` without a frozen pretrained backbone to unfreeze",
    Code.DOUBLE_RESCALING: "warning: a Rescaling before a backbone that preprocesses the 0..255 images itself",
    Code.BACKBONE_TRAINABLE: "warning: a pretrained backbone trained whole from the first epoch",
    Code.BACKBONE_RANDOM_FROZEN: "warning: a backbone with random weights (`weights: none`) that never trains",
    Code.UNSUPPORTED: "a combination the engine cannot run (several batches per call under `distribute.mode: devices`, a sweep over machines)",
    Code.TASK_MISMATCH: "the output layer, loss, metrics, `label_mode` or weights do not fit the spec's `task` (multi-label: sigmoid per label; regression: linear outputs)",
    Code.TASK_UNSUPPORTED: "the data source does not supply the spec's `task` (it declares the tasks it supplies)",
    Code.SEGMENTATION_RESOLUTION: "`task: segmentation`: the model's output does not have the input's height and width; the message names the layer where the resolution is lost",
    Code.DATA_MISSING: "warning: the data is not on this machine (yet): the data was not checked",
    Code.DATA_INVALID: "the data is there but cannot be used: one class, an empty class, a listed class without its folder",
    Code.MISSING_PACKAGE: "an entry needs a package that is not installed; the message gives the pip command",
    Code.OUT_OF_MEMORY: "warning: a training step needs more memory than this machine has",
    Code.PLUGIN_FAILED: "a plugin failed: its data source could not list the classes; or, as a note after an unknown type, a plugin that failed to load",
    Code.UNKNOWN_METRIC: "`sweep.metric` is not a metric the runs record",
    Code.INVALID_TRIAL: "a value of the sweep's search space makes an invalid spec",
    Code.INVALID_COMBINATION: "warning: some combinations of the sweep's values make invalid specs",
    Code.NO_EFFECT: "warning: a setting that can never act (a pruner with one epoch)",
    Code.CONFLICT: "two places say contradicting things (a sweep file and its spec both with a sweep section)",
    Code.INTERNAL_ERROR: "cnnbuild's own bug; please report the spec",
}
