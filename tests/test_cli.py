"""The command line: exit codes, messages, and no TensorFlow where none is needed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
BLOCK_TF = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\nfrom cnnbuild.cli import main\n"


def run_without_tensorflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_TF + f"main({list(args)!r})"], capture_output=True, text=True, timeout=60)


def test_validate_works_with_tensorflow_unavailable(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {type: digits}\nmodel:\n  layers:\n    - {type: Conv2D, filters: 4, kernel_size: 9}\n    - Flatten\n")
    result = run_without_tensorflow("validate", str(REPO / "examples" / "flowers.yaml"), str(bad))
    assert result.returncode == 1
    assert f"{REPO / 'examples' / 'flowers.yaml'}: ok" in result.stdout
    assert f"{bad}:4:7: model.layers[0]: Conv2D cannot take input shape (8, 8, 1)" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_and_validate_do_not_import_tensorflow():
    script = "import sys\nfrom cnnbuild.cli import main\ntry:\n    main(['validate', %r])\nexcept SystemExit:\n    pass\nprint('tensorflow' in sys.modules, 'keras' in sys.modules)\n" % str(REPO / "examples" / "digits.yaml")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_commands_that_build_no_model_never_import_tensorflow(tmp_path):
    from .export import no_tensorflow

    digits, flowers = str(REPO / "examples" / "digits.yaml"), str(REPO / "examples" / "flowers.yaml")
    for args, expected in [
        (["--help"], "Usage: cnnbuild"),
        (["schema", "--out", str(tmp_path / "schema.json")], ""),
        (["validate", digits], f"{digits}: ok"),
        (["diff", digits, flowers], "model.layers"),
    ]:
        result = no_tensorflow.run(*args)
        assert result.returncode == 0 and expected in result.stdout and "blocked" not in result.stderr, (args, result.stdout[-500:], result.stderr[-2000:])
    assert json.loads((tmp_path / "schema.json").read_text())["properties"]["model"]


def test_cheap_refusals_come_before_tensorflow_loads(tmp_path):
    from .export import no_tensorflow

    absent = tmp_path / "absent"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"data: {{type: image_directory, path: {json.dumps(str(absent))}, image_size: [8, 8]}}\nmodel:\n  layers: [Flatten, {{type: Dense, units: auto}}]\n")
    # in the command's own process (CNNBUILD_SUPERVISE=0): the supervised child would not have the blocker
    result = no_tensorflow.run("run", str(spec), "--output", str(tmp_path / "run"), env={"CNNBUILD_SUPERVISE": "0"})
    assert (result.returncode, result.stderr) == (1, f"{absent}: folder does not exist; set data.path to a folder of class sub-folders (or give data.url)\n")
    assert not (tmp_path / "run").exists()
    result = no_tensorflow.run("summary", str(REPO / "examples" / "flowers.yaml"), "--set", "data.path=/nowhere")
    assert result.returncode == 1 and "pass --num-classes N" in result.stderr and "blocked" not in result.stderr, result.stderr


def test_validate_exit_codes_and_all_errors_at_once(tmp_path):
    good = run_cli("validate", str(REPO / "examples" / "digits.yaml"), str(REPO / "examples" / "malaria.yaml"))
    assert good.returncode == 0 and good.stdout.count(": ok") == 2
    missing = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "nope.yaml: cannot read spec" in missing.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    result = run_cli("validate", str(empty))
    assert result.returncode == 1 and f"{empty}:1:1: the file is empty" in result.stderr


def test_summary_json_reports_the_tutorial_parameter_count():
    result = run_cli("summary", str(REPO / "examples" / "flowers.yaml"), "--json", "--num-classes", "5", "--set", "data.path=/nowhere")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["total_params"] == 3_989_285
    assert summary["layers"][-1] == {"name": summary["layers"][-1]["name"], "type": "Dense", "output_shape": [5], "params": 645}
    assert summary["input_shape"] == [180, 180, 3]
    # the output: the last Dense, 5 logits (no activation: the loss takes logits)
    assert summary["output"] == {"shape": [5], "layer": summary["layers"][-1]["name"], "type": "Dense", "activation": "linear", "probabilities": False}
    # the README's table of summary --json fields names every field
    table = (REPO / "README.md").read_text().split("`cnnbuild summary --json SPEC` prints", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    documented = {name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split(" | ")[0])}
    assert documented == set(summary)
    # 2 x parameters x output positions: convolutions of 448, 4,640 and 18,496 parameters at 180x180, 90x90 and 45x45,
    # then Dense layers of 3,965,056 and 645 parameters
    assert summary["forward_flops"] == 2 * (448 * 180 * 180 + 4_640 * 90 * 90 + 18_496 * 45 * 45 + 3_965_056 + 645) == 187_038_602


def test_summary_needs_a_class_count_when_the_data_is_absent():
    result = run_cli("summary", str(REPO / "examples" / "flowers.yaml"), "--set", "data.path=/nowhere")
    assert result.returncode == 1
    assert "--num-classes" in result.stderr and "Traceback" not in result.stderr


MALARIA = REPO / "examples" / "malaria.yaml"  # its data folder, examples/data/cell_images, is not in the repository


def test_summary_of_a_model_that_does_not_depend_on_the_data_needs_no_data():
    """The seed's habit: summary before the data is downloaded (binary, units: 1)."""
    assert not (REPO / "examples" / "data" / "cell_images").exists()
    result = run_cli("summary", str(MALARIA), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["total_params"] == 758_401
    assert summary["output"] == {"shape": [1], "layer": summary["layers"][-1]["name"], "type": "Dense", "activation": "sigmoid", "probabilities": True}
    assert result.stderr.startswith(f"{MALARIA}:9:9: data.path: warning: ") and "folder does not exist" in result.stderr  # as validate says it


def test_a_fixed_number_of_outputs_needs_no_data_either(tmp_path):
    from cnnbuild.builder.model.summary import model_summary
    from cnnbuild.spec import load_spec

    ten = ["model.layers[14].units=10", "model.layers[14].activation=softmax", "data.label_mode=int", "compile.loss=sparse_categorical_crossentropy"]
    assert model_summary(load_spec(MALARIA, ten)).total_params == 758_401 - 33 + 330
    other = tmp_path / "ten.yaml"
    other.write_text(MALARIA.read_text().replace("label_mode: binary ", "label_mode: int    ").replace("units: 1, activation: sigmoid", "units: 10, activation: softmax").replace("loss: binary_crossentropy", "loss: sparse_categorical_crossentropy"))
    result = run_without_tensorflow("diff", str(MALARIA), str(other))
    assert result.returncode == 0, result.stderr
    assert "parameters: 758,401 -> 758,698 (+297)" in result.stdout


def test_units_auto_without_data_says_to_pass_num_classes_before_tensorflow_loads(tmp_path):
    """summary and plot-model: the message names --num-classes and the folder, and TensorFlow was never imported;
    diff lists the layer whose size needs the count as unknown and says to pass --num-classes."""
    auto = tmp_path / "auto.yaml"
    auto.write_text(MALARIA.read_text().replace("label_mode: binary ", "label_mode: int    ").replace("units: 1, activation: sigmoid", "units: auto, activation: softmax").replace("loss: binary_crossentropy", "loss: sparse_categorical_crossentropy").replace("class_names: [Parasitized, Uninfected]", "color_mode: rgb"))
    expected = (
        f"{auto}:32:28: model.layers[14].units: 'auto' means the number of classes, and they cannot be counted: {tmp_path / 'data' / 'cell_images'}: folder does not exist; "
        "set data.path to a folder of class sub-folders (or give data.url); pass --num-classes N (num_classes=N in Python), or create the data folder"
    )
    for args in (("summary", str(auto)), ("plot-model", str(auto), "--out", str(tmp_path / "m.svg"))):
        result = run_without_tensorflow(*args)
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == expected, (args, result.stderr)
    result = run_without_tensorflow("diff", str(MALARIA), str(auto))
    assert result.returncode == 0 and "params 33 -> ?" in result.stdout, result.stderr
    assert "parameters: not known without the class count (units: auto): pass --num-classes N" in result.stdout
    result = run_without_tensorflow("diff", str(MALARIA), str(auto), "--num-classes", "2")
    assert result.returncode == 0 and "params 33 -> 66" in result.stdout, result.stderr


def test_schema_lists_every_registered_type():
    result = run_cli("schema")
    schema = json.loads(result.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    text = json.dumps(schema)
    for name in ("Conv2D", "RandomZoom", "image_directory", "digits", "EarlyStopping", "LearningRateScheduler"):
        assert f'"{name}"' in text
    layer_items = schema["$defs"]["Model"]["properties"]["layers"]["items"]
    shorthand = next(item for item in layer_items["anyOf"] if item.get("type") == "string")
    names = next(choice["enum"] for choice in shorthand["anyOf"] if "enum" in choice)  # the other choice: a use of one of the spec's blocks
    assert "Flatten" in names and "MaxPooling2D" in names


def test_schema_validates_the_examples():
    jsonschema = __import__("pytest").importorskip("jsonschema")
    import yaml

    schema = json.loads(run_cli("schema").stdout)
    for example in ("digits", "flowers", "malaria", "digits_sweep", "unet_digits", "convnext_digits"):
        jsonschema.validate(yaml.safe_load((REPO / "examples" / f"{example}.yaml").read_text()), schema)


def test_run_needs_a_spec_or_resume():
    result = run_cli("run")
    assert result.returncode == 2 and "give either SPEC or --resume RUN_DIR" in result.stderr


def test_user_errors_never_show_a_traceback(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("data: {type: image_directory, path: missing}\nmodel: {layers: [Flatten, {type: Dense, units: 2}]}\n")
    result = run_cli("run", str(spec))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{tmp_path / 'missing'}: folder does not exist; set data.path to a folder of class sub-folders (or give data.url)"


def test_new_plugin_writes_a_package_that_compiles_and_refuses_bad_names(tmp_path):
    import py_compile

    done = run_cli("new-plugin", "bird-scans", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    root = tmp_path / "cnnbuild-bird-scans"
    assert f"wrote {root}" in done.stdout
    for path in root.rglob("*.py"):
        py_compile.compile(str(path), doraise=True)
    plugin = (root / "src" / "cnnbuild_bird_scans" / "plugin.py").read_text()
    assert 'register("BirdScansChannelScale"' in plugin and 'register("bird_scans_files"' in plugin and 'register("BirdScansJsonLog"' in plugin
    assert 'bird_scans = "cnnbuild_bird_scans.plugin"' in (root / "pyproject.toml").read_text()
    again = run_cli("new-plugin", "bird-scans", "--out", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run_cli("new-plugin", "Bird_Scans", "--out", str(tmp_path))
    assert bad.returncode == 1 and "use lower-case letters and digits" in bad.stderr and "Traceback" not in bad.stderr


def test_an_unknown_command_suggests_the_one_meant_including_other_tools_words():
    for typed, meant in (("train", "run"), ("fit", "run"), ("test", "evaluate"), ("infer", "predict"), ("sumary", "summary")):
        result = run_without_tensorflow(typed, "spec.yaml")
        assert result.returncode == 2 and f"Error: No such command '{typed}'; did you mean '{meant}'?" in result.stderr, result.stderr
    unknown = run_without_tensorflow("frobnicate")
    assert "No such command 'frobnicate'. See cnnbuild --help for the commands." in unknown.stderr and "did you mean" not in unknown.stderr


QUICK_EXIT = """
import atexit, sys, threading, time, types
from pathlib import Path
sys.modules["tensorflow"] = types.ModuleType("tensorflow")  # as if a command had loaded it: the quick exit applies
out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit-ran").write_text("yes"))
if sys.argv[2] == "thread":  # a non-daemon thread still running: the process waits for it, as Python does
    threading.Thread(target=lambda: (time.sleep(0.5), (out / "thread-ran").write_text("yes"))).start()
sys.argv = ["cnnbuild", "validate", *sys.argv[3:]]
from cnnbuild.cli import console_main
console_main()
"""


def test_the_console_script_leaves_quickly_yet_runs_atexit_flushes_output_and_keeps_the_status(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {type: digits}\nmodel:\n  layers:\n    - {type: Flaten}\n", encoding="utf-8")
    many = [str(REPO / "examples" / "digits.yaml")] * 300  # more output than a pipe's buffer holds
    for mode in ("quick", "thread"):
        folder = tmp_path / mode
        folder.mkdir()
        result = subprocess.run([sys.executable, "-c", QUICK_EXIT, str(folder), mode, *many, str(bad)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stderr[-2000:]
        assert result.stdout.count(": ok\n") == 300 and "Flaten" in result.stderr and "Traceback" not in result.stderr
        assert (folder / "atexit-ran").read_text() == "yes"
    assert (tmp_path / "thread" / "thread-ran").read_text() == "yes"
    closed = tmp_path / "closed"  # standard output closed before the process started: still status 1, no traceback
    closed.mkdir()
    result = subprocess.run([sys.executable, "-c", QUICK_EXIT, str(closed), "quick", str(bad)], stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1 and "Traceback" not in result.stderr and (closed / "atexit-ran").exists(), result.stderr[-2000:]
