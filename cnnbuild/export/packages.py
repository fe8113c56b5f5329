"""Optional packages export and serve need, imported when used; a missing one names its pip command."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from cnnbuild.errors import MissingPackageError

#: import name -> (distribution, the cnnbuild extra that installs it)
PACKAGES = {
    "tf2onnx": ("tf2onnx", "export"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "onnxconverter_common": ("onnxconverter-common", "export"),
    "ai_edge_litert": ("ai-edge-litert", "export"),
    "starlette": ("starlette", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "multipart": ("python-multipart", "serve"),
}


def check_installed(module: str, purpose: str) -> None:
    """MissingPackageError (as :func:`require` words it) when ``module``'s distribution is not
    installed; found without importing it, so cheap enough for every check made before TensorFlow loads."""
    top = module.split(".")[0]
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        distribution, extra = PACKAGES[top]
        raise MissingPackageError(f"{purpose} needs {distribution}, which is not installed: pip install 'cnnbuild[{extra}]' (or pip install {distribution})")


def require(module: str, purpose: str) -> ModuleType:
    """``import module``; when it is not installed, a MissingPackageError saying what to install.

    ``purpose`` completes "... needs": for example "ONNX export".
    """
    distribution, extra = PACKAGES[module.split(".")[0]]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != module.split(".")[0]:
            raise MissingPackageError(f"{purpose} needs {distribution}, which is installed but cannot import {exc.name}: reinstall it with pip install --force-reinstall {distribution}") from exc
        raise MissingPackageError(f"{purpose} needs {distribution}, which is not installed: pip install 'cnnbuild[{extra}]' (or pip install {distribution})") from exc
    except ImportError as exc:
        raise MissingPackageError(f"{purpose} needs {distribution}, which is installed but fails to import ({exc}); reinstall it with pip install --force-reinstall {distribution}") from exc
