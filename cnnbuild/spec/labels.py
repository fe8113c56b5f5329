"""The rules about classes and labels, each in one place: how many classes there are, how labels
are encoded, and whether the model outputs logits or probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.contracts.data import DataContext
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: Last-layer activations whose outputs are probabilities (anything else gives logits).
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
#: Layer types that apply one of them, whatever their parameters, by type name.
PROBABILITY_LAYERS = {"Softmax": "softmax"}
#: The label mode of the tasks other than single-label (whose mode comes from the labels and the output).
TASK_LABEL_MODES = {"multi_label": "multi_hot", "regression": "values"}


@dataclass(frozen=True)
class Labels:
    """How labels are encoded and what the last layer outputs."""

    mode: str  # int | binary | categorical (single-label); multi_hot (multi-label); values (regression); mask | binary_mask (segmentation)
    num_classes: int
    from_logits: bool
    #: multi-label: each label's weight of its positive examples in the loss (empty: none)
    positive_weights: tuple[float, ...] = ()
    #: regression with standardised targets: ``(mean, std)`` per target, from the training split
    scaling: tuple[list[float], list[float]] | None = None
    #: segmentation with ``train.class_weight``: each class's weight of its pixels in the loss (empty: none)
    pixel_weights: tuple[float, ...] = ()


def data_context(spec: Spec) -> DataContext:
    """What the spec's data source is given: the spec's folder, its seed, and the source's own work
    folder under the cache (``<cache dir>/sources/<data.type>``; not created here: ``validate`` writes nothing)."""
    from cnnbuild.contracts.data import DataContext
    from cnnbuild.data.cache import cache_root

    return DataContext(base_dir=spec.base_dir, seed=spec.seed, work_dir=cache_root() / "sources" / spec.data.type, task=spec.task_row.name, task_options=task_options(spec))


def task_options(spec: Spec) -> dict[str, Any]:
    """The spec's ``task`` section without its type (what a data source reads besides ``context.task``)."""
    return spec.task.model_dump(mode="json", exclude={"type"}) if spec.task is not None else {}


def known_class_names(spec: Spec, registry: Registry) -> list[str] | None:
    """Class names when the data source can tell them cheaply (no decoding), else None (not known
    before the data is loaded, such as an archive not downloaded yet).

    A problem with the data's layout the source finds this way (a missing folder, one class, an
    empty class) is raised as its DataError; a source whose ``class_names`` fails otherwise is a
    PluginError naming the plugin.
    """
    from cnnbuild.errors import CnnbuildError, PluginError

    registration = registry.data_sources.get(spec.data.type)
    if registration is None or registration.class_names is None or spec.task_row.name not in registration.tasks:
        return None  # a task the source does not supply is validate's task-unsupported error, not a question for the source
    try:
        names = registration.class_names(spec.data, data_context(spec))
    except CnnbuildError:
        raise
    except Exception as exc:
        raise PluginError(f"{registration.plugin.describe()}: class_names of data source {spec.data.type!r} failed: {type(exc).__name__}: {exc}") from exc
    if names is not None and (not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names)):
        raise PluginError(f"{registration.plugin.describe()}: class_names of data source {spec.data.type!r} returned {names!r}, not a list of strings or None")
    return [str(name) for name in names] if names else None


def class_count(spec: Spec, given: int | None = None, registry: Registry | None = None) -> int | None:
    """The number of classes: ``given`` (``--num-classes``, or the data a run loaded), else what
    the data source tells without loading the data, else None (not known yet)."""
    if given is not None:
        return given
    names = known_class_names(spec, registry or spec.registry)
    return len(names) if names else None


def needs_class_count(spec: Spec) -> tuple[str, ...] | None:
    """The path of the first ``units: auto`` whose value is the class count (not 1 for binary labels),
    or None when the model's shapes do not depend on the number of classes."""
    if spec.data.label_mode == "binary":
        return None  # units: auto is 1, whatever the data
    return next(((*node.path, "units") for node in spec.graph.nodes if getattr(node.entry, "units", None) == "auto"), None)


def model_class_count(spec: Spec, given: int | None = None, registry: Registry | None = None, *, required: bool = True) -> int | None:
    """The class count building the model needs: ``given``, else the data source's; None when the data
    cannot tell and the model does not need it (``summary``, ``plot-model`` and ``diff`` before the data is there).

    Raises :class:`~cnnbuild.errors.CnnbuildError` naming ``--num-classes`` when a ``units: auto`` needs
    the count and neither ``given`` nor the data can tell it, unless not ``required`` (``diff``, which
    lists such a layer as of unknown size): then None. Needs no TensorFlow.
    """
    from cnnbuild.errors import CnnbuildError, DataNotFound
    from cnnbuild.spec.errors import format_path

    if given is not None:
        return given
    try:
        count, why = class_count(spec, None, registry), "the data source cannot tell its classes before the data is loaded"
    except DataNotFound as exc:
        count, why = None, str(exc)
    needed = needs_class_count(spec)
    if count is None and needed is not None and required:
        where = ":".join(map(str, spec.source.locate(needed))) if spec.source is not None else "<spec>"
        raise CnnbuildError(
            f"{where}: {format_path(needed)}: 'auto' means the number of classes, and they cannot be counted: {why}; "
            "pass --num-classes N (num_classes=N in Python), or create the data folder"
        )
    return count


def label_mixing_entries(spec: Spec, registry: Registry | None = None) -> list[str]:
    """The ``augmentation`` entries that mix labels across a batch (MixUp, CutMix), by type.

    Their training labels are soft (a weighted pair of classes), so multi-class labels are
    one-hot (``categorical``) and the loss is the categorical form."""
    registry = registry or spec.registry
    return [entry.type for entry in spec.augmentation if (registration := registry.layers.get(entry.type)) is not None and registration.mixes_labels]


def output_layer(spec: Spec) -> object:
    """The entry of the layer whose output the model returns: the last of a plain list, else the
    graph's output (``model.outputs``, or the last entry's last layer)."""
    layers = spec.model.layers
    if spec.model.outputs is None and getattr(layers[-1], "type", None) in spec.registry.layers:
        return layers[-1]
    return spec.graph.output_entry()


def binary_labels(spec: Spec, num_classes: int | None) -> bool:
    """Whether labels are one 0/1 value: ``label_mode: binary``, or unset with two classes and
    a last layer of ``units: auto`` or 1."""
    if spec.task_row.name == "segmentation":  # two classes per pixel with one sigmoid output (0/1 masks)
        return num_classes == 2 and applied_activation(output_layer(spec)) == "sigmoid" and getattr(output_layer(spec), "units", None) in ("auto", 1)
    if spec.task_row.name != "single_label":
        return False  # two labels of a multi-label task are two outputs, never one
    if spec.data.label_mode is not None:
        return spec.data.label_mode == "binary"
    return num_classes == 2 and getattr(output_layer(spec), "units", None) in ("auto", 1)


def label_mode(spec: Spec, num_classes: int | None) -> str | None:
    """``int``, ``binary`` or ``categorical``: the spec's ``data.label_mode``, else binary for
    binary labels, else categorical when augmentation mixes labels (MixUp, CutMix), else int;
    None while neither the class count nor the output size tells. Multi-label labels are
    ``multi_hot`` (a 0/1 vector), regression targets ``values``."""
    if spec.task_row.name == "segmentation":
        return "binary_mask" if binary_labels(spec, num_classes) else "mask"
    if spec.task_row.name in TASK_LABEL_MODES:
        return TASK_LABEL_MODES[spec.task_row.name]
    if spec.data.label_mode is not None:
        return spec.data.label_mode
    if binary_labels(spec, num_classes):
        return "binary"
    if num_classes is None and getattr(output_layer(spec), "units", None) == 1:
        return None
    return "categorical" if label_mixing_entries(spec) else "int"


def applied_activation(entry: object) -> str | None:
    """The activation a layer entry applies last: its ``activation``, or the one its type is (a ``Softmax`` layer)."""
    kind = getattr(entry, "type", None)
    return (PROBABILITY_LAYERS.get(kind) if isinstance(kind, str) else None) or getattr(entry, "activation", None)


def outputs_probabilities(spec: Spec) -> bool:
    """Whether the last layer's activation turns its outputs into probabilities."""
    return applied_activation(output_layer(spec)) in PROBABILITY_ACTIVATIONS


def label_encoding(spec: Spec, num_classes: int) -> Labels:
    """The label mode and whether the model outputs logits, from the spec and the class count."""
    from_logits = spec.compile.loss.from_logits
    if spec.task_row.name == "regression":
        from_logits = False  # plain values, never logits
    elif from_logits is None:
        from_logits = not outputs_probabilities(spec)
    return Labels(label_mode(spec, num_classes) or "int", num_classes, from_logits)
