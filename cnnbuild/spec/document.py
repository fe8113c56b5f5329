"""The whole spec: its model (rebuilt from the registered types), loading and validation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from cnnbuild.contracts.layers import ENTRY_NAME_PATTERN
from cnnbuild.contracts.tasks import Task, task_named
from cnnbuild.contracts.values import NonNegativeInt, Params, PositiveInt
from cnnbuild.spec.canonical import canonical_order, resolve_known_paths, resolve_spec_paths
from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecError, SpecIssue
from cnnbuild.spec.format_history import CURRENT as CURRENT_FORMAT
from cnnbuild.spec.format_history import KEY as FORMAT_KEY
from cnnbuild.spec.graph.entries import BLOCK_NAME_PATTERN, Block, block_signature
from cnnbuild.spec.normalize import normalize
from cnnbuild.spec.sections import Compile, Distribute, Output, Train
from cnnbuild.spec.sweep_section import Sweep
from cnnbuild.spec.task_section import TaskSection, with_task_metrics
from cnnbuild.spec.translate import translate
from cnnbuild.spec.yaml_source import SpecSource, parse_yaml, read_yaml

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.entry_types import DataSource, Entry, GraphEntry
    from cnnbuild.spec.graph.nodes import Graph

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SECTION_ORDER = ("format_version", "name", "seed", "task", "data", "augmentation", "augmentation_placement", "blocks", "model", "compile", "train", "output", "distribute")


class Spec(Params):
    """A validated spec. Sections are typed models; entries keep their registered ``type``."""

    format_version: PositiveInt | None = Field(None, description=f"the spec format this spec was written for (1 to {CURRENT_FORMAT}); default: the current one")
    name: str = Field("experiment", pattern=NAME_PATTERN, description="names the run directory: letters, digits, '.', '_' and '-'")
    seed: NonNegativeInt | None = Field(None, description="seed for the split, shuffling, augmentation and weights")
    task: TaskSection | None = Field(None, description="what the model predicts: single_label (default), multi_label (several labels per image) or regression")
    augmentation_placement: Literal["pipeline", "model"] = Field("pipeline", description="pipeline: in the tf.data map (parallel, faster on CPU); model: inside the model")
    compile: Compile = Field(default_factory=Compile)
    output: Output = Field(default_factory=Output)
    distribute: Distribute = Field(default_factory=Distribute, description="data-parallel training over devices or machines; default: one device")
    sweep: Sweep | None = Field(None, description="a hyperparameter search over this spec, run by cnnbuild sweep (cnnbuild run ignores it)")
    blocks: dict[Annotated[str, Field(pattern=BLOCK_NAME_PATTERN)], Block] = Field(
        default_factory=dict, description="named sub-graphs with parameters, used in model.layers by name like a layer type"
    )

    _source: SpecSource | None = PrivateAttr(None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _warnings: list[SpecIssue] = PrivateAttr(default_factory=list)
    _graph: Any = PrivateAttr(None)
    _registry: Any = PrivateAttr(None)

    # Declared by the model built from the registry (spec_model); listed here for type checkers.
    if TYPE_CHECKING:
        data: DataSource
        augmentation: list[Entry]
        model: ModelSection
        train: Train

    @model_validator(mode="before")
    @classmethod
    def _task_metrics(cls, data: Any) -> Any:
        return with_task_metrics(data)

    @property
    def task_row(self) -> Task:
        """The row of the task table this spec states (single-label without ``task``)."""
        return task_named(self.task.type if self.task is not None else None)

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the spec are relative to (the spec file's folder)."""
        return self._base_dir

    @property
    def warnings(self) -> list[SpecIssue]:
        """What the checks found worth saying about a valid spec (a training step larger than the machine's memory)."""
        return list(self._warnings)

    @property
    def registry(self) -> Registry:
        """The registry this spec was validated against, which builds, infers and checks its types."""
        from cnnbuild.plugins.manager import get_registry

        return self._registry or get_registry()

    @property
    def graph(self) -> Graph:
        """The model's layers as a graph of registered layers: containers and blocks expanded,
        names resolved (a plain list is a chain). Raises :class:`SpecError` for a graph that cannot be built."""
        if self._graph is None:
            from cnnbuild.spec.graph.expand import expand_graph

            self._graph = expand_graph(self, self.registry)
        return self._graph

    @property
    def source(self) -> SpecSource | None:
        """The YAML the spec came from, with positions (None for specs built in Python)."""
        return self._source

    def with_base_dir(self, base_dir: Path) -> Spec:
        """A copy whose relative paths are relative to ``base_dir``."""
        copy = self.model_copy()
        copy._base_dir = Path(base_dir)
        return copy

    def resolve_path(self, value: str | Path) -> Path:
        """``value`` relative to the spec file, with ``~`` expanded."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def canonical(self, *, absolute_paths: bool = False) -> dict[str, Any]:
        """Plain data in canonical form with every default filled in (what ``spec.yaml`` holds).

        ``absolute_paths`` resolves every path setting against the spec's folder (each
        :data:`~cnnbuild.spec.types.SpecPath` parameter, builtin or a plugin's, a ``data.cache``
        file and ``output.dir``), so the result runs from anywhere.
        """
        # a run's spec is what it trained, not the search around it; without a task, as before ``task`` existed
        data = canonical_order(self.model_dump(mode="json", exclude={"sweep"} | ({"task"} if self.task is None else set())))
        data[FORMAT_KEY] = CURRENT_FORMAT  # old spellings were read as the current ones
        if absolute_paths:
            resolve_spec_paths(self, data, self.resolve_path)
            resolve_known_paths(data, self.resolve_path)
        return {key: data[key] for key in SECTION_ORDER if key in data} | data


class ModelSection(Params):
    """The ``model`` section; its entry lists come from the registered kinds."""

    outputs: Annotated[str, Field(pattern=ENTRY_NAME_PATTERN)] | None = Field(None, description="the name of the entry whose output the model returns; default: the last entry")

    if TYPE_CHECKING:  # added by spec_model, with the registry's types and the spec's blocks
        layers: list[GraphEntry]


#: Sections that hold entry lists of a registered kind (``model.layers``, ``train.callbacks``), and their fixed part.
SECTION_BASES: dict[str, type[Params]] = {"model": ModelSection, "train": Train}


def _default_name(filename: str) -> str | None:
    stem = Path(filename).stem
    return stem if re.match(NAME_PATTERN, stem) else None


def validate_source(
    source: SpecSource, registry: Registry | None = None, *, num_classes: int | None = None, check: bool = True, base_dir: Path | None = None, assumed_format: int | None = None
) -> Spec:
    """Validate parsed YAML against the registered types, then check shapes and consistency.

    A spec written for an older format is read as the current one (``assumed_format``: the format
    of a spec that does not say, such as a run folder's from before specs recorded it).
    Raises :class:`SpecError` with every issue found.
    """
    from cnnbuild.plugins.manager import get_registry
    from cnnbuild.spec.upgrade import upgrade

    registry = registry or get_registry()
    if not isinstance(source.data, dict):
        what = "a list" if isinstance(source.data, list) else f"{type(source.data).__name__} {source.data!r}"[:80]
        raise SpecError([SpecIssue(source.filename, 1, 1, "", f"a spec is a mapping with sections such as 'data' and 'model', got {what}", code=Code.WRONG_TYPE)])
    upgraded = upgrade(source, assumed_format)
    source = normalize(upgraded.source, registry, _default_name(source.filename))
    signature = block_signature(source.data.get("blocks"))
    try:
        try:
            model = spec_model(registry, signature, _type_names(source.data))
            spec = model.model_validate(source.data)
        except ValidationError:
            # the errors are worded from the whole model (its lists of known types, for one)
            model = spec_model(registry, signature)
            spec = model.model_validate(source.data)
    except ValidationError as exc:
        issues = [*upgraded.warnings, *translate(exc, source, model, registry), *upgraded.notes]
        if registry.failures and any(issue.code == Code.UNKNOWN_TYPE for issue in issues):
            # an unknown type may belong to a plugin that failed to load: say so
            issues += [SpecIssue(source.filename, 0, 0, "", failure, "note", code=Code.PLUGIN_FAILED) for failure in registry.failures]
        raise SpecError(issues) from exc
    except RecursionError as exc:
        raise SpecError([SpecIssue(source.filename, 1, 1, "", "spec nested too deeply", code=Code.TOO_LARGE)]) from exc
    spec._source = source
    spec._registry = registry
    if base_dir is not None:
        spec._base_dir = Path(base_dir)
    elif source.filename not in ("<string>", "<dict>"):
        spec._base_dir = Path(source.filename).resolve().parent
    if check:
        from cnnbuild.spec.checks import check_spec

        try:
            spec.graph  # noqa: B018  (a graph that cannot be built is an error of its own, before shapes are checked)
        except SpecError as exc:
            raise SpecError([*upgraded.warnings, *exc.issues, *upgraded.notes]) from exc
        issues = [*upgraded.warnings, *check_spec(spec, registry, num_classes=num_classes)]
        if any(issue.severity == "error" for issue in issues):
            raise SpecError([*issues, *upgraded.notes])
        spec._warnings = issues
    else:
        spec._warnings = upgraded.warnings
    return spec


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = (), *, num_classes: int | None = None) -> Spec:
    """Read, validate and check the spec file at ``path``; ``overrides`` are ``KEY=VALUE`` strings."""
    return spec_from_source(read_yaml(path), overrides, num_classes=num_classes)


def spec_from_source(source: SpecSource, overrides: list[str] | tuple[str, ...] = (), *, num_classes: int | None = None) -> Spec:
    """:func:`load_spec` of a spec file already read (``read_yaml``)."""
    if overrides:
        from cnnbuild.spec.overrides import apply_overrides

        source = apply_overrides(source, overrides)
    return validate_source(source, num_classes=num_classes)


def spec_from_text(text: str, filename: str = "<string>", base_dir: Path | None = None, *, num_classes: int | None = None, assumed_format: int | None = None) -> Spec:
    """Validate a spec given as YAML text (relative paths are relative to ``base_dir``; with
    ``num_classes`` the data is not looked at; ``assumed_format``: the spec format of a text that does not say)."""
    return validate_source(parse_yaml(text, filename), base_dir=base_dir, num_classes=num_classes, assumed_format=assumed_format)


def spec_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Spec:
    """Validate a spec given as plain Python data."""
    return validate_source(SpecSource(data, "<dict>"), base_dir=base_dir)


def apply_to_spec(spec: Spec, overrides: list[str] | tuple[str, ...]) -> Spec:
    """``spec`` with ``KEY=VALUE`` overrides applied and everything validated and checked again
    (errors point at the spec's file, or at the ``--set`` option that caused them)."""
    from cnnbuild.spec.overrides import apply_overrides

    if spec.source is None:
        sweep = {"sweep": spec.sweep.model_dump(mode="json", by_alias=True, exclude_none=True)} if spec.sweep else {}
        source = SpecSource(spec.canonical() | sweep, "<dict>")
    else:
        source = spec.source
    return validate_source(apply_overrides(source, overrides), spec.registry, base_dir=spec.base_dir)


# built from the registry in its own module; importable from here as before
from cnnbuild.spec.spec_model import _type_names, spec_model  # noqa: E402
