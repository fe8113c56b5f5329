"""Standard error is redirected in one place (data/native.stderr_captured), one thread at a time:
threads capturing at once each get only their own output, and descriptor 2 comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    from cnnbuild.data.native import stderr_captured
    from cnnbuild.export.native_output import quiet_native_output

    caught = {}

    def capture(name):
        with stderr_captured() as written:
            os.write(2, f"{name} begins\\n".encode())
            time.sleep(0.2)  # the other threads start their blocks meanwhile
            os.write(2, f"{name} ends\\n".encode())
        caught[name] = "".join(written)

    def converter():
        with quiet_native_output():
            os.write(2, b"converter chatter\\n")
            time.sleep(0.2)

    threads = [threading.Thread(target=capture, args=(f"t{i}",)) for i in range(3)] + [threading.Thread(target=converter)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    os.write(2, b"after\\n")
    print(json.dumps(caught))
""")


def test_threads_capturing_at_once_each_get_their_own_output_and_stderr_comes_back():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {f"t{i}": f"t{i} begins\nt{i} ends\n" for i in range(3)}
    assert done.stderr == "after\n"  # nothing captured leaked, and descriptor 2 is the terminal's again


INTEGRATIONS = textwrap.dedent("""
    import gc, importlib.util, json, sys
    from cnnbuild.data import native
    if sys.argv[1] == "command":
        native.command_process()  # what the console entry point does
    native.import_tensorflow()
    names = ["jax", "pandas", "sklearn", "matplotlib.pyplot"]
    installed = [name for name in names if importlib.util.find_spec(name.partition(".")[0]) is not None]
    loaded = [name for name in installed if name in sys.modules]
    assert "keras.src.optimizers" in sys.modules  # Keras came in whole: nothing unguarded was refused
    import sklearn.metrics  # imported as usual once TensorFlow is in
    hook_left = any(type(f).__name__ == "IntegrationsLeftOut" for f in sys.meta_path)
    print(json.dumps({"installed": installed, "loaded": loaded, "hook_left": hook_left, "frozen": gc.get_freeze_count(), "collecting": gc.isenabled()}))
""")


def test_the_import_hook_refuses_only_the_importing_thread():
    import threading

    from cnnbuild.data.native import IntegrationsLeftOut

    hook = IntegrationsLeftOut()
    elsewhere: list[object] = []
    worker = threading.Thread(target=lambda: elsewhere.append(hook.find_spec("pandas.core")))
    worker.start()
    worker.join()
    assert elsewhere == [None]  # another thread: the usual finders decide
    for name in ("pandas", "sklearn.metrics", "jax.numpy", "matplotlib.pyplot"):
        with pytest.raises(ModuleNotFoundError, match="CNNBUILD_TF_INTEGRATIONS=1"):
            hook.find_spec(name)
    assert hook.find_spec("matplotlib") is None and hook.find_spec("numpy") is None


def test_a_command_imports_tensorflow_without_the_integrations_it_never_uses(tmp_path):
    """JAX, pandas, scikit-learn and pyplot are not imported with TensorFlow in a command's process
    (1.4 s of its import), nor is the garbage collector run meanwhile (0.8 s more); the modules
    still import afterwards, and a library caller, or
    CNNBUILD_TF_INTEGRATIONS=1, or another Keras backend gets TensorFlow as it always loads.
    Real processes, started together."""
    cases = {
        "command": ("command", {}),
        "library": ("library", {}),
        "kept by the variable": ("command", {"CNNBUILD_TF_INTEGRATIONS": "1"}),
        "another backend": ("command", {"KERAS_BACKEND": "jax"}),
    }
    clean = {key: value for key, value in os.environ.items() if key not in ("KERAS_BACKEND", "CNNBUILD_TF_INTEGRATIONS", "CNNBUILD_TF_LOGS")}
    clean["KERAS_HOME"] = str(tmp_path)  # no keras.json of the developer's choosing another backend
    started = {
        name: subprocess.Popen([sys.executable, "-c", INTEGRATIONS, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**clean, **extra})
        for name, (mode, extra) in cases.items()
    }
    seen = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, f"{name}: {err[-2000:]}"
        seen[name] = json.loads(out.strip().splitlines()[-1])
    assert "sklearn" in seen["command"]["installed"]  # a dependency of cnnbuild: the case is never empty
    assert seen["command"]["loaded"] == [] and not seen["command"]["hook_left"]
    # no collections during the import, what it made frozen, the collector back on
    assert seen["command"]["frozen"] > 100_000 and seen["command"]["collecting"]
    assert seen["library"]["frozen"] == 0 and seen["library"]["collecting"]
    for name in ("library", "kept by the variable"):
        assert seen[name]["loaded"] == seen[name]["installed"], name  # TensorFlow 2.21 loads every one it finds
    if "jax" in seen["another backend"]["installed"]:
        assert "jax" in seen["another backend"]["loaded"]


def test_the_console_entry_point_and_sweep_workers_are_command_processes(monkeypatch):
    """The fast import is wired where cnnbuild's own processes start: ``cnnbuild``'s console entry
    point (seen at exit, in a real process) and a sweep worker's ``main``."""
    probe = textwrap.dedent("""
        import atexit, sys
        from cnnbuild.data import native
        atexit.register(lambda: print("command process:", native._command_process, flush=True))
        sys.argv = ["cnnbuild", "--version"]
        from cnnbuild.cli.main import console_main
        console_main()
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "command process: True" in done.stdout

    from cnnbuild.data import native
    from cnnbuild.sweep import worker

    monkeypatch.setattr(native, "_command_process", False)  # restored after the test: this process stays a library caller
    with pytest.raises(SystemExit):
        worker.main([])  # no folder given: argparse ends it, after the worker said what it is
    assert native._command_process is True


def test_keras_folder_is_the_one_keras_itself_uses(monkeypatch, tmp_path):
    """The hook reads keras.json (and backbones fall back) where Keras does, without importing Keras."""
    keras_config = pytest.importorskip("keras.src.backend.config")
    from cnnbuild.data.native import keras_folder

    assert keras_folder() == keras_config.keras_home()  # the environment Keras was imported in
    monkeypatch.setenv("KERAS_HOME", "~/elsewhere")
    assert keras_folder() == os.path.expanduser("~/elsewhere")
