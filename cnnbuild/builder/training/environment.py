"""What ``environment.json`` records: versions, platform, engine, plugins, and the data's fingerprint."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.builder.distribute.placement import Placement
    from cnnbuild.contracts.data import Datasets
    from cnnbuild.spec.document import Spec


def versions() -> dict[str, str]:
    """Python's version and those of the packages a run depends on."""
    found = {"python": platform.python_version()}
    for package in ("cnnbuild", "tensorflow", "keras", "numpy", "pydantic", "pillow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def environment(spec: Spec, placement: Placement, source: Datasets, precision: str) -> dict[str, Any]:
    """The facts about where and on what a run trained."""
    return {
        "versions": versions(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "precision": precision,
        "distribute": placement.describe(spec),
        "plugins": [{"name": p.name, "distribution": p.distribution, "version": p.version} for p in spec.registry.plugins],
        "data": {
            "type": spec.data.type,
            "fingerprint": source.fingerprint,
            "train_examples": source.train_count,
            "validation_examples": source.validation_count,
            "test_examples": source.test_count,
            "skipped_files": len(source.skipped),
        },
    }
