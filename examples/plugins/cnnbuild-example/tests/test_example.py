"""The example plugin's own tests, written with cnnbuild's pytest plugin (``cnnbuild.testing``)."""

from __future__ import annotations

import json

from cnnbuild.testing import assert_shape_matches_keras


def test_squeeze_excitation_declares_what_keras_builds():
    for shape in ((8, 8, 16), (5, 7, 3)):
        assert_shape_matches_keras("SqueezeExcitation2D", {"ratio": 4}, shape)


def test_a_misspelt_parameter_is_located_with_a_suggestion(cnnbuild_spec_errors):
    errors = cnnbuild_spec_errors("data: {type: synthetic_shapes}\nmodel: {layers: [{type: SqueezeExcitation2D, rato: 2}, Flatten, {type: Dense, units: auto}]}\n")
    assert errors == ["<string>:2:46: model.layers[0].rato: unknown key; did you mean 'ratio'?"]


def test_a_manifest_source_trains_and_lists_what_it_does_not_use(tmp_path, cnnbuild_class_folder, cnnbuild_run_spec):
    folder = cnnbuild_class_folder({"cat": 6, "dog": 6})
    entries = [{"file": str(path.relative_to(folder)), "label": path.parent.name} for path in sorted(folder.rglob("*.png"))]
    entries.append({"file": "cat/missing.png", "label": "cat"})
    (folder / "manifest.json").write_text(json.dumps({"images": entries}))
    result = cnnbuild_run_spec(
        f"""
        seed: 3
        data: {{type: json_manifest, path: {json.dumps(str(folder / "manifest.json"))}, image_size: [16, 16], batch_size: 4}}
        model:
          layers:
            - {{type: Rescaling, scale: 1/255}}
            - {{type: Conv2D, filters: 8, kernel_size: 3, activation: relu}}
            - {{type: SqueezeExcitation2D, ratio: 4}}
            - GlobalAveragePooling2D
            - {{type: Dense, units: auto}}
        train: {{epochs: 1, callbacks: [{{type: TimeLimit, minutes: 5}}]}}
        """
    )
    assert result.completed and result.class_names == ["cat", "dog"]
    assert result.metrics["train_examples"] + result.metrics["validation_examples"] == 12
    assert any(item["path"].endswith("missing.png") and "cannot read" in item["reason"] for item in result.skipped)
