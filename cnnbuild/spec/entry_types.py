"""What type checkers know of the entries in a validated spec.

The classes of entries are made at run time, one per registered type (``plugins/registry.py``
``spec_model``: the type's parameter model, a ``type`` tag, and ``name``/``inputs`` in a graph),
so these declarations exist for type checkers only and describe what every such class has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.contracts.data import DataParams
    from cnnbuild.contracts.layers import GraphEntryFields
    from cnnbuild.contracts.values import Params

    class Entry(Params):
        """An entry of a registered kind (an augmentation layer, a callback): its ``type`` and its parameters."""

        type: str

        def __getattr__(self, name: str) -> Any: ...  # the registered type's own parameters

    class GraphEntry(Entry, GraphEntryFields):
        """An entry of ``model.layers``: a layer, ``Residual``, ``Parallel`` or a block's use, with ``name`` and ``inputs``."""

    class DataSource(DataParams):
        """The ``data`` section: a data source's parameters and its ``type``."""

        type: str

        def __getattr__(self, name: str) -> Any: ...  # a plugin data source's own parameters
