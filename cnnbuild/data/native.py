"""TensorFlow imported quietly (and, in cnnbuild's own commands, without the optional
integrations it drags in), and what native libraries print to standard error caught.

TensorFlow's C++ start-up lines and libjpeg's warnings ("Premature end of JPEG data") are
written straight to file descriptor 2, below any Python logging; cnnbuild catches them where it
can attribute them (the import, the image check) instead of letting them reach the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

SHOW_LOGS_ENV = "CNNBUILD_TF_LOGS"
#: ``1``: a command's ``import tensorflow`` loads the optional integrations too (see :class:`IntegrationsLeftOut`).
INTEGRATIONS_ENV = "CNNBUILD_TF_INTEGRATIONS"
_tensorflow: Any = None
_command_process = False  # set by the console entry point: this process is a cnnbuild command's own
#: Held while descriptor 2 points elsewhere: two threads swapping it at once could leave it on a closed file.
_stderr_lock = threading.RLock()


@contextlib.contextmanager
def stderr_captured() -> Iterator[list[str]]:
    """Point file descriptor 2 at a temporary file for the block; the list it yields holds what
    was written, once the block ends. ``CNNBUILD_TF_LOGS=1`` lets it through instead.

    The one place cnnbuild redirects standard error: one thread at a time (others wait), and a
    thread may nest blocks."""
    written: list[str] = []
    if os.environ.get(SHOW_LOGS_ENV):
        yield written
        return
    with _stderr_lock, tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield written
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            written.append(captured.read().decode("utf-8", "replace"))


def import_tensorflow() -> Any:
    """``tensorflow``, imported with its C++ start-up log lines hidden (set CNNBUILD_TF_LOGS=1 to see them).

    TensorFlow 2.21 writes them through absl before any log level applies, so file descriptor 2
    is pointed at a temporary file for the import and the first device query; if the import
    fails, what was written is shown with the error.
    """
    global _tensorflow
    if _tensorflow is not None:
        return _tensorflow
    if "tensorflow" in sys.modules:
        import tensorflow

        _tensorflow = tensorflow
        return tensorflow
    if not os.environ.get(SHOW_LOGS_ENV):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    written: list[str] = []
    try:
        with stderr_captured() as written, _without_collections(), IntegrationsLeftOut.while_importing():
            import tensorflow

            tensorflow.config.list_physical_devices()
    except BaseException:
        sys.stderr.write("".join(written))
        raise
    _tensorflow = tensorflow
    return tensorflow


def command_process() -> None:
    """This process is a ``cnnbuild`` command's own (the console entry point says so): TensorFlow is
    imported without the integrations of :class:`IntegrationsLeftOut`, and without Python's cyclic
    garbage collector running meanwhile (:func:`_without_collections`). A program that calls
    cnnbuild as a library gets TensorFlow as it always loads, pandas and all, and its collector
    as it was."""
    global _command_process
    _command_process = True


@contextlib.contextmanager
def _without_collections() -> Iterator[None]:
    """In a command's process, no cyclic garbage collection while TensorFlow imports, and every
    object alive after it (the import's modules, classes and functions, and what the process held
    before) kept out of later collections (``gc.freeze``).

    Importing TensorFlow creates about half a million Python objects, and the collector went over
    all of them again and again as they were made: eight full collections, 0.8 s of a 3 s import
    in a flowers run. What is alive then lives about as long as the process; the freeze happens
    once, at the first import, and what the process makes afterwards is collected as usual. The
    price is the little cyclic garbage the import itself left (about 900 objects in a pandas and
    scikit-learn import measured that way), never freed.
    """
    import gc

    if not _command_process or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class IntegrationsLeftOut:
    """An import hook, installed only while ``import tensorflow`` runs, that answers "not installed"
    for optional integrations TensorFlow 2.21 and Keras 3 import on the way when they are installed
    and cnnbuild never uses: JAX (for TF Lite's ``experimental_from_jax``), pandas (DataFrames
    given to ``fit``), scikit-learn (Keras's scikit-learn wrappers) and ``matplotlib.pyplot``
    (``keras.visualization``). Each of those imports is guarded by Keras or TensorFlow, which then
    go without that integration for the rest of the process (Keras's scikit-learn wrappers say
    scikit-learn is missing, a pandas DataFrame given to ``fit`` is read as an array,
    ``keras.visualization`` and TF Lite's ``experimental_from_jax`` do not work), while importing
    the module itself afterwards works as usual (cnnbuild's multi-label report imports
    scikit-learn, for instance).

    With all of them installed they made up 1.4 to 1.5 s of a 4.8 to 5.2 s ``import tensorflow``
    (BENCHMARKS.md). Only where the console entry point asked for it (:func:`command_process`);
    never when Keras is to run on another backend (JAX is then the engine); ``CNNBUILD_TF_INTEGRATIONS=1``
    keeps them (a plugin that uses ``keras.wrappers.SKLearnClassifier`` in a run, say).
    """

    PACKAGES = frozenset({"jax", "jaxlib", "pandas", "sklearn"})
    MODULES = frozenset({"matplotlib.pyplot"})

    def __init__(self) -> None:
        self.thread = threading.get_ident()  # the thread importing TensorFlow: other threads import as usual meanwhile

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if (name.partition(".")[0] in self.PACKAGES or name in self.MODULES) and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{name} is left out while TensorFlow loads (cnnbuild: {INTEGRATIONS_ENV}=1 keeps it)", name=name)

    @classmethod
    @contextlib.contextmanager
    def while_importing(cls) -> Iterator[None]:
        if not _command_process or os.environ.get(INTEGRATIONS_ENV, "").strip() not in ("", "0") or _leave_keras_alone():
            yield
            return
        hook = cls()
        sys.meta_path.insert(0, hook)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):  # something replaced sys.meta_path meanwhile
                sys.meta_path.remove(hook)


def _leave_keras_alone() -> bool:
    """Whether the hook must stay out: Keras is loaded already, or set to a backend other than
    TensorFlow (``KERAS_BACKEND``, else its keras.json), where JAX is the engine."""
    import json

    if "keras" in sys.modules:
        return True  # Keras is loaded already, whatever its backend: leave its imports alone
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen is None:
        try:
            with open(os.path.join(keras_folder(), "keras.json"), encoding="utf-8") as file:
                chosen = json.load(file).get("backend")
        except (OSError, ValueError, AttributeError):
            chosen = None
    return chosen not in (None, "tensorflow")


def keras_folder() -> str:
    """Keras's own folder (its ``keras.json``, downloaded weights under ``models/``), found by
    Keras 3.15's rule without importing Keras: ``KERAS_HOME`` when set, else ``~/.keras``, or
    ``/tmp/.keras`` where the home folder is not writable."""
    if "KERAS_HOME" in os.environ:
        return os.path.expanduser(os.environ["KERAS_HOME"])
    home = os.path.expanduser("~")
    return os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
