"""``cnnbuild init``: a commented starter spec from a folder of class sub-folders (or a CSV file).

The data is looked at cheaply (a listing, the images' headers) by the rules a run uses, so the
spec sees the classes and counts a run will; no TensorFlow is imported.
"""

from __future__ import annotations

from cnnbuild.starter.models import MODELS
from cnnbuild.starter.writer import Starter, default_spec_path, write_starter

__all__ = ["MODELS", "Starter", "default_spec_path", "write_starter"]
