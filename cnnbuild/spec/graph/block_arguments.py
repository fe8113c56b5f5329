"""A use's arguments at one repetition: each parameter's value (given, or the block's default;
``{first: ..., rest: ...}`` resolved for the repetition), ``$index`` and ``$repeat``, and where
the use wrote each value it gave (a wrong value is reported there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from cnnbuild.spec.yaml_source import PathKey

#: The keys of an argument that differs between repetitions: ``{first: 2, rest: 1}``.
PER_REPETITION = ("first", "rest")


def per_repetition(value: Any) -> bool:
    """Whether an argument is ``{first: ..., rest: ...}``: one value for the first repetition, one for the others."""
    return isinstance(value, dict) and set(value) == set(PER_REPETITION)


@dataclass(frozen=True)
class RepetitionArguments:
    """What repetition ``repetition`` of a use gives its block's expressions."""

    #: ``$name`` -> value: ``index``, ``repeat`` and every parameter (a parameter of the same name hides a builtin)
    names: dict[str, Any]
    #: a parameter the use gave -> where its value (for this repetition) is written
    given: dict[str, PathKey]

    @classmethod
    def of(cls, params: Iterable[str], use: Any, use_path: PathKey, repetition: int) -> RepetitionArguments:
        """The arguments of ``use`` (at ``use_path``) for a block with parameters ``params``."""
        step = PER_REPETITION[min(repetition, 1)]
        params = list(params)
        names: dict[str, Any] = {"index": repetition, "repeat": use.repeat}
        for key in params:
            value = getattr(use, key)
            names[key] = value[step] if per_repetition(value) else value
        given = {}
        for key in use.model_fields_set & set(params):
            given[key] = (*use_path, key, *((step,) if per_repetition(getattr(use, key)) else ()))
        return cls(names, given)
