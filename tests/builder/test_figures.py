"""The matplotlib figures: what each draws (titles, panels) and that the PNG is real and not blank."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from cnnbuild.builder.reports import figures

from ..image_checks import assert_png

HISTORY = {
    "accuracy": [0.5, 0.7, 0.8],
    "auc": [0.6, 0.8, 0.9],
    "loss": [1.2, 0.8, 0.5],
    "val_accuracy": [0.55, 0.65, 0.7],
    "val_auc": [0.62, 0.75, 0.8],
    "val_loss": [1.1, 0.9, 0.8],
    "learning_rate": [0.001, 0.001, 0.0005],
}


def test_metric_panels_pair_training_with_validation_and_put_loss_after_the_others():
    assert figures.metric_panels(HISTORY) == ["accuracy", "auc", "loss", "learning_rate"]
    assert figures.metric_panels({"val_loss": [1.0], "loss": [1.2], "val_top_3_accuracy": [0.9]}) == ["top_3_accuracy", "loss"]


def test_curves_draw_one_panel_per_metric_in_the_history(tmp_path):
    path = tmp_path / "curves.png"
    titles = figures.draw_curves(HISTORY, path, title="tiny: training curves")
    assert titles == ["tiny: training curves", "accuracy", "auc", "loss", "learning rate"]
    width, height = assert_png(path)
    assert width > height  # the panels sit side by side


def test_curves_of_a_single_epoch_still_show_points(tmp_path):
    path = tmp_path / "curves.png"
    figures.draw_curves({"loss": [0.9], "val_loss": [1.0]}, path)
    assert_png(path, min_width=150)


def test_confusion_matrix_png(tmp_path):
    path = tmp_path / "confusion.png"
    titles = figures.draw_confusion_matrix([[5, 1, 0], [0, 4, 2], [0, 0, 6]], ["cats", "dogs", "birds"], path, title="Confusion matrix")
    assert titles == ["Confusion matrix"]
    assert_png(path, min_width=300, min_height=300)


def test_confusion_matrix_with_an_empty_row_and_many_classes(tmp_path):
    names = [f"class_{i:02d}" for i in range(40)]
    matrix = np.diag(np.arange(40)).tolist()  # class_00 has no examples: its row must not divide by zero
    path = tmp_path / "big.png"
    figures.draw_confusion_matrix(matrix, names, path)
    assert_png(path, min_width=800, min_height=800)


def test_image_grid_titles_each_image(tmp_path):
    rng = np.random.default_rng(0)
    grey = [rng.uniform(0, 255, (12, 12, 1)).astype("float32") for _ in range(5)]
    path = tmp_path / "grid.png"
    titles = figures.draw_image_grid(grey, [f"true: a\npredicted: b ({i}0%)" for i in range(5)], path, title="Mistakes", columns=4)
    assert titles == ["Mistakes", *(f"true: a\npredicted: b ({i}0%)" for i in range(5))]
    assert_png(path)


def test_image_grid_shows_colour_images_and_an_empty_grid_says_so(tmp_path):
    colour = np.zeros((20, 30, 3), dtype="float32")
    colour[:, :15] = (250.0, 10.0, 10.0)
    path = tmp_path / "colour.png"
    figures.draw_image_grid([colour], ["red half"], path, title="one")
    assert_png(path, min_width=150)
    empty = tmp_path / "empty.png"
    assert figures.draw_image_grid([], [], empty, title="Misclassified", empty_message="none: all correct") == ["Misclassified"]
    assert_png(empty, min_width=300, min_height=100)


def test_compare_overlays_every_validation_metric(tmp_path):
    path = tmp_path / "compare.png"
    other = {"val_accuracy": [0.6, 0.8], "val_loss": [0.9, 0.6], "accuracy": [0.5, 0.9], "loss": [1.0, 0.4]}
    titles = figures.draw_compare({"run a": HISTORY, "run b": other}, path, title="Validation curves")
    assert titles == ["Validation curves", "val accuracy", "val auc", "val loss"]
    assert_png(path)


def test_drawing_never_imports_pyplot(tmp_path):
    # figures use the Agg canvas directly, so a notebook's backend and figure list are untouched
    code = (
        "import sys; from pathlib import Path; from cnnbuild.builder.reports import figures; "
        f"figures.draw_curves({{'loss': [1.0, 0.5]}}, Path({str(tmp_path / 'c.png')!r})); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.png").exists()


def test_image_grid_titles_in_a_script_the_font_lacks_go_through_matplotlib(tmp_path, monkeypatch):
    import warnings

    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *args, **kwargs: saved.append(args[0]) or original(self, *args, **kwargs))
    colour = np.full((20, 20, 3), 120.0, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib says which glyphs its fonts lack
        figures.draw_image_grid([colour], ["花.jpg"], tmp_path / "cjk.png", title="one")
    figures.draw_image_grid([colour], ["flower.jpg"], tmp_path / "latin.png", title="one")
    assert saved == [tmp_path / "cjk.png"]  # the Latin one was written by Pillow
    assert_png(tmp_path / "cjk.png")
    assert_png(tmp_path / "latin.png")
