"""Building applications and reading .keras files, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from seifer_iac.model.errors import ModelError
from seifer_iac.model.load import build_application, default_input_shape, read_model_file

from .small_models import small_model


def test_default_shapes() -> None:
    assert default_input_shape("ResNet50") == (224, 224, 3)
    assert default_input_shape("EfficientNetB1") == (240, 240, 3)
    assert default_input_shape("InceptionResNetV2") == (299, 299, 3)


def test_unknown_application_suggests_the_right_case() -> None:
    with pytest.raises(ModelError, match="did you mean MobileNetV2"):
        build_application("mobilenetv2")
    with pytest.raises(ModelError, match=r"unknown keras\.applications model 'NoSuchNet'"):
        build_application("NoSuchNet")


def test_bad_input_shape_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="cannot build MobileNetV2"):
        build_application("MobileNetV2", (224, 224))


def test_application_has_a_named_single_input() -> None:
    model = build_application("MobileNetV2", (96, 96, 3))
    assert model.inputs[0].name == "input" and len(model.inputs) == 1
    assert model.layers[-1].activation.__name__ == "linear"  # logits


def test_keras_file_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "small.keras"
    small_model().save(path)
    assert [layer.name for layer in read_model_file(path).layers] == [
        layer.name for layer in small_model().layers
    ]


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        read_model_file(tmp_path / "missing.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"nonsense")
    with pytest.raises(ModelError, match="cannot load model file"):
        read_model_file(broken)


def test_automatic_layer_names_do_not_depend_on_earlier_models() -> None:
    """InceptionV3 leaves names to keras (`conv2d_17`); a second build in the same process must match."""
    import keras

    keras.layers.Conv2D(1, 1)  # bump the process's counter
    first = [layer.name for layer in build_application("InceptionV3", (75, 75, 3)).layers]
    second = [layer.name for layer in build_application("InceptionV3", (75, 75, 3)).layers]
    assert first == second and "conv2d" in first
