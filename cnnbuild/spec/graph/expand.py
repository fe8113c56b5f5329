"""``model.layers`` -> :class:`Graph`: names resolved, containers and blocks expanded, and every
problem of the graph itself (an unknown input, a name used twice, a cycle, an output nobody
uses, a block using itself) reported at the line of the entry it is about."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from cnnbuild.spec.codes import Code
from cnnbuild.spec.errors import SpecError, SpecIssue, format_path, suggest
from cnnbuild.spec.graph.block_input import BlockInputShapes
from cnnbuild.spec.graph.blocks import BlockUse
from cnnbuild.spec.graph.entries import CONTAINERS, USE_KEYS
from cnnbuild.spec.graph.issue_list import IssueList
from cnnbuild.spec.graph.nodes import INPUT, PROJECTION, Graph, Node, snake, topological
from cnnbuild.spec.yaml_source import PathKey, SpecSource

if TYPE_CHECKING:
    from cnnbuild.plugins.registry import Registry
    from cnnbuild.spec.document import Spec

#: How the expander reports a problem: ``report(path, code, message)``.
Report = Callable[..., None]

#: What a block parameter may be called: a name ``$name`` can stand for.
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Names cnnbuild gives nodes it adds, by the key of the list whose entries could clash with them.
RESERVED = {"layers": ("shortcut", "add")}
RESERVED_WHAT = {"shortcut": "Residual's shortcut", "add": "Residual's addition"}

#: A graph larger than this is refused: repeat counts multiply.
MAX_NODES = 50_000


def expand_graph(spec: Spec, registry: Registry) -> Graph:
    """The spec's model as a graph; :class:`SpecError` with every problem found."""
    return _Expander(spec, registry).run()


class _Expander:
    def __init__(self, spec: Spec, registry: Registry) -> None:
        self.spec, self.registry = spec, registry
        self.source = spec.source or SpecSource(None, "<dict>")
        self.nodes: list[Node] = []
        self.found = IssueList(self.source)
        self.issues, self.report = self.found.issues, self.found.report  # the list itself, growing
        self.stack: list[str] = []  # the blocks being expanded, outermost first
        self.inputs = BlockInputShapes(spec, registry, self.found)
        self.uses = BlockUse(spec, registry, self.report, self.inputs.shape)

    def run(self) -> Graph:
        _check_blocks(self.spec, self.registry, self.report)
        if self.issues:
            raise SpecError(self.issues)
        model = self.spec.model
        layers = model.layers
        chain = model.outputs is None and all(_plain(self.registry, entry) for entry in layers)
        top = self.expand_list(layers, ("model", "layers"), INPUT, "", "", outputs=model.outputs)
        if self.issues:
            raise SpecError(self.issues)
        _unique_ids(self.nodes)
        ordered, left = topological(self.nodes)
        if left:
            _cycle(self.report, left)
        else:
            _unused(self.report, self.spec, ordered, top)
        if self.issues:
            raise SpecError(self.issues)
        warnings = (*self.uses.written.unused_parameters(), *_unused_blocks(self.spec, self.source, self.uses.written.used_parameters))
        return Graph(tuple(ordered), top, chain, warnings, inferred=self.inputs.inferred)

    # -- lists: one scope of names -----------------------------------------------------
    def expand_list(self, entries: list[Any], list_path: PathKey, source: str, prefix: str, context: str, *, final: str | None = None, outputs: str | None = None) -> str:
        """Nodes for ``entries`` (fed by node ``source``); returns the id of the list's output."""
        if not entries:
            return source
        kept = self.uses.kept.get(list_path)  # a block's list whose when: left entries out: the indices as written
        written = kept if kept is not None else range(len(entries))
        ids = [f"{prefix}{entry.name or f'{written[index]}_{snake(entry.type)}'}" for index, entry in enumerate(entries)]
        bases = list(ids)  # what a container's inner ids start with: its own id even where its output is the list's
        if final is not None:
            ids[-1] = final
        names: dict[str, int] = {}
        for index, entry in enumerate(entries):
            if entry.name is None:
                continue
            if entry.name == INPUT:
                self.report((*list_path, written[index], "name"), Code.RESERVED_NAME, f"'{INPUT}' names the input of this list of layers; choose another name")
            elif isinstance(list_path[-2], int) and entry.name in RESERVED.get(str(list_path[-1]), ()):  # a Residual's own layers
                self.report((*list_path, written[index], "name"), Code.RESERVED_NAME, f"name {entry.name!r} is the name cnnbuild gives the {RESERVED_WHAT[entry.name]} here; choose another name")
            elif entry.name in names:
                first = (*list_path, written[names[entry.name]])
                self.report((*list_path, written[index], "name"), Code.DUPLICATE_NAME, f"name {entry.name!r} is already used by {format_path(first)} (line {self.source.locate(first)[1]}); names must be unique in a list")
            else:
                names[entry.name] = index
        absent = self.uses.absent.get(list_path, {})
        for index, entry in enumerate(entries):
            path = (*list_path, written[index])
            if entry.inputs is None:
                inputs: list[str] | None = [ids[index - 1] if index else source]
            else:  # None when a name is not resolved (each is reported)
                inputs = _all_known([_resolve(self.report, reference, names, ids, source, (*path, "inputs", position), list_path, absent, context) for position, reference in enumerate(entry.inputs)])
            if inputs is not None:
                self.expand_entry(entry, path, ids[index], inputs, context, given=entry.inputs is not None, base=bases[index])
        if outputs is None:
            return ids[-1]
        return _resolve(self.report, outputs, names, ids, source, ("model", "outputs"), list_path) or ids[-1]

    # -- entries -------------------------------------------------------------------------
    def expand_entry(self, entry: Any, path: PathKey, out: str, inputs: list[str], context: str, *, given: bool, base: str | None = None) -> None:
        if len(self.nodes) > MAX_NODES:
            if len(self.nodes) == MAX_NODES + 1:
                self.report(path, Code.TOO_LARGE, f"the model expands to more than {MAX_NODES:,} layers; lower the repeat counts")
            return
        if entry.type in CONTAINERS or entry.type in self.spec.blocks:
            if len(inputs) != 1:
                self.report((*path, "inputs") if given else path, Code.INPUT_COUNT, f"a {entry.type} takes one input, got {len(inputs)}; merge them first (Add, Concatenate) or list one")
                return
            expand = self._residual if entry.type == "Residual" else self._parallel if entry.type == "Parallel" else self._block
            self._repeated(entry, path, out, base or out, inputs[0], context, expand)
            return
        registration = self.registry.layers[entry.type]
        low, high = registration.input_range
        if len(inputs) < low or (high is not None and len(inputs) > high):
            wanted = "one input" if high == 1 else f"{low} inputs" if low == high else f"{low} or more inputs" if high is None else f"{low} to {high} inputs"
            hint = f"; list them, as inputs: [{', '.join(['a', 'b', 'c'][:low])}]" if low > 1 else ""
            self.report((*path, "inputs") if given else path, Code.INPUT_COUNT, f"{entry.type} takes {wanted}, got {len(inputs)}{hint}")
            return
        self.add(Node(out, entry.type, entry.model_copy(update={"name": None, "inputs": None}), tuple(inputs), path, format_path(path), context, name=entry.name))

    def add(self, node: Node) -> str:
        self.nodes.append(node)
        self.inputs.add(node)
        return node.id

    def _repeated(self, entry: Any, path: PathKey, out: str, root: str, source: str, context: str, expand: Any) -> None:
        """``repeat`` copies of a container, each fed by the one before; inner ids start with
        ``root`` (the entry's own id), and the last copy's output is ``out``."""
        current = source
        for repetition in range(entry.repeat):
            last = repetition == entry.repeat - 1
            base = root if entry.repeat == 1 else f"{root}.{repetition + 1}"
            current = expand(entry, path, base, out if last else base, current, context, repetition)

    def _residual(self, entry: Any, path: PathKey, base: str, final: str, source: str, context: str, repetition: int = 0) -> str:
        main = self.expand_list(entry.layers, (*path, "layers"), source, f"{base}.", context)
        if entry.shortcut == "identity":
            shortcut = source
        elif entry.shortcut == "auto":
            shortcut = self.add(Node(f"{base}.shortcut", PROJECTION, None, (source,), path, f"{format_path(path)}.shortcut", context, shape_of=main))
        else:
            shortcut = self.expand_list(entry.shortcut, (*path, "shortcut"), source, f"{base}.shortcut.", context)
        added = f"{base}.add" if entry.activation else final
        self.add(Node(added, "Add", _layer(self.registry, "Add"), (main, shortcut), path, format_path(path), context, labels=("the main path", "the shortcut"), name=entry.name))
        if entry.activation:
            self.add(Node(final, "Activation", _layer(self.registry, "Activation", activation=entry.activation), (added,), path, format_path(path), context, name=entry.name))
        return final

    def _parallel(self, entry: Any, path: PathKey, base: str, final: str, source: str, context: str, repetition: int = 0) -> str:
        outputs = [self.expand_list(branch, (*path, "branches", index), source, f"{base}.b{index + 1}.", context) for index, branch in enumerate(entry.branches)]
        merge = entry.merge or _layer(self.registry, "Concatenate")
        low, high = self.registry.layers[merge.type].input_range
        merge_path = (*path, "merge") if entry.merge is not None else path
        for key in ("name", "inputs"):
            if getattr(merge, key, None) is not None:
                self.report((*merge_path, key), Code.NOT_ALLOWED_HERE, f"a Parallel's merge takes its branches as inputs and is named by the Parallel; give {key} to the Parallel entry")
                return final
        if len(outputs) < low or (high is not None and len(outputs) > high):
            self.report(merge_path, Code.INPUT_COUNT, f"{merge.type} merges {low}{'' if high == low else ' or more'} inputs, and this Parallel has {len(outputs)} branches")
            return final
        labels = tuple(f"branch {index + 1}" for index in range(len(outputs)))
        return self.add(Node(final, merge.type, merge, tuple(outputs), merge_path, format_path(path), context, labels=labels, name=entry.name))

    def _block(self, entry: Any, path: PathKey, base: str, final: str, source: str, context: str, repetition: int = 0) -> str:
        name = entry.type
        if name in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(name) :], name])
            self.report((*path, "type"), Code.CYCLE, f"block {name} uses itself ({cycle}); a block cannot contain itself")
            return final
        inner = f"in block {name} used at {format_path(path)}" + (f", {context}" if context else "")
        entries = self.uses.entries(name, entry, path, inner, source=source, repetition=repetition)
        if entries is None:
            return final
        self.stack.append(name)
        try:
            return self.expand_list(entries, ("blocks", name, "layers"), source, f"{base}.", inner, final=final)
        finally:
            self.stack.pop()


def _all_known(ids: list[str | None]) -> list[str] | None:
    known = [node for node in ids if node is not None]
    return known if len(known) == len(ids) else None


def _check_blocks(spec: Spec, registry: Registry, report: Report) -> None:
    """Block names that are not already types, and parameter names a ``$name`` can use."""
    for name, block in spec.blocks.items():
        if name in CONTAINERS or name in registry.layers:
            what = "a container" if name in CONTAINERS else "a layer type"
            report(("blocks", name), Code.RESERVED_NAME, f"block name {name!r} is already {what}; give the block another name", key=True)
        for key in block.params:
            if not isinstance(key, str) or not PARAMETER_NAME.match(key):
                report(("blocks", name, "params", key), Code.INVALID_VALUE, f"parameter name {key!r} cannot be used as ${key}: use letters, digits and '_', not starting with a digit", key=True)
            elif key in USE_KEYS:
                report(("blocks", name, "params", key), Code.RESERVED_NAME, f"parameter name {key!r} is a key of every use of a block ({', '.join(USE_KEYS)}); choose another name", key=True)


def _resolve(report: Report, reference: str, names: dict[str, int], ids: list[str], source: str, path: PathKey, list_path: PathKey, absent: dict[str, str] | None = None, context: str = "") -> str | None:
    if reference == INPUT:
        return source
    if reference in names:
        return ids[names[reference]]
    if absent and reference in absent:
        report(path, Code.ABSENT_ENTRY, f"input {reference!r} is left out of this use: {absent[reference]}; give this entry the same when:, or take another input", context=context)
        return None
    scope = "" if list_path == ("model", "layers") else f"; inside {format_path(list_path)}, only its own entries' names and '{INPUT}' (its input) are visible"
    known = sorted(names)
    hint = suggest(reference, [*known, INPUT]) or (f"; names here: {', '.join(known)}" if known else "; no entry here has a name: give one name: NAME")
    report(path, Code.UNKNOWN_INPUT, f"unknown {'output' if path == ('model', 'outputs') else 'input'} {reference!r}{hint}{scope}")
    return None


def _unique_ids(nodes: list[Node]) -> None:
    """Every node's id is unique (the graph is wired by them); a clash is cnnbuild's bug, said as such."""
    seen: dict[str, Node] = {}
    for node in nodes:
        if node.id in seen:
            raise SpecError([SpecIssue("<spec>", 0, 0, node.where, f"internal error: two layers got the id {node.id!r} ({seen[node.id].where} and {node.where}); please report this spec to cnnbuild", code=Code.INTERNAL_ERROR)])
        seen[node.id] = node


def _plain(registry: Registry, entry: Any) -> bool:
    """An entry a straight chain could hold: a one-input layer with no name and no inputs."""
    registration = registry.layers.get(entry.type)
    return registration is not None and not registration.merges and entry.name is None and entry.inputs is None


def _layer(registry: Registry, type_name: str, **params: Any) -> Any:
    """The validated parameters of a layer the expander adds (a projection, a merge)."""
    return registry.layers[type_name].params.model_validate({"type": type_name, **params})


def _cycle(report: Report, left: list[Node]) -> None:
    """Report one cycle among the nodes ``topological`` could not order."""
    remaining = {node.id: node for node in left}
    start = left[0]
    seen: list[str] = []
    current: Node | None = start
    while current is not None and current.id not in seen:
        seen.append(current.id)
        current = next((remaining[i] for i in (*current.inputs, current.shape_of) if i in remaining), None)
    loop = seen[seen.index(current.id) :] if current is not None else seen
    described = " <- ".join([*(remaining[i].where for i in loop), remaining[loop[0]].where])
    first = remaining[loop[0]]
    report((*first.path, "inputs"), Code.CYCLE, f"these entries take each other's outputs as inputs, a cycle: {described}; a model's layers must form a graph without cycles")

def _unused(report: Report, spec: Spec, ordered: list[Node], output: str) -> None:
    """Report every entry whose output goes nowhere."""
    used = {i for node in ordered for i in node.inputs} | {output}
    after_output = spec.model.outputs is not None
    for node in ordered:
        if node.id in used or node.type == PROJECTION:
            continue
        reason = f"comes after the model's output (model.outputs: {spec.model.outputs})" if after_output and len(node.path) == 3 else "is not the input of any entry nor the model's output"
        if node.name is not None:
            report(node.path, Code.UNUSED_OUTPUT, f"the output of {node.name!r} {reason}: a branch that leads nowhere; list {node.name!r} in an entry's inputs, or remove it")
        else:
            report(node.path, Code.UNUSED_OUTPUT, f"this entry's output {reason}: a branch that leads nowhere; list it in an entry's inputs, or remove it")

def _unused_blocks(spec: Spec, source: SpecSource, used: Any) -> list[SpecIssue]:
    """Warnings for the blocks model.layers never uses."""
    issues = []
    for name in spec.blocks:
        if name not in used:
            where, line, column = source.locate(("blocks", name), key=True)
            issues.append(SpecIssue(where, line, column, f"blocks.{name}", f"block {name} is defined but model.layers never uses it", "warning", code=Code.UNUSED_BLOCK))
    return issues
