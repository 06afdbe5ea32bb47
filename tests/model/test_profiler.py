"""Profiles of real architectures: schema-valid, parameter bytes add up to the model's, blocks cover it."""

from __future__ import annotations

import numpy as np
import pytest

from seifer_iac.model.profiler import profile_model
from seifer_iac.profile import profile_from_dict, validate_profile_data

from .small_models import small_model


def weight_nbytes(model) -> int:
    return sum(np.asarray(w).nbytes for w in model.get_weights())


def test_small_model_profile() -> None:
    model = small_model()
    profile = profile_model(model, "small")
    assert profile.model_name == "small" and len(profile.model_hash) == 64
    assert profile.input_name == "input" and profile.input_shape == (1, 32, 32, 3)
    assert profile.input_bytes == 32 * 32 * 3 * 4 and profile.input_dtype == "float32"
    assert profile.param_bytes == model.count_params() * 4 == weight_nbytes(model)
    assert profile.blocks[-1].output_shape == (1, 10) and profile.blocks[-1].output_bytes == 40
    assert validate_profile_data(profile.to_dict()) == []
    assert profile_from_dict(profile.to_dict()) == profile


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["ResNet50", "MobileNetV2", "VGG16", "InceptionV3", "DenseNet121", "EfficientNetB1"]
)
def test_parameter_bytes_add_up(name: str, application) -> None:
    model = application(name)
    profile = profile_model(model, name)
    assert profile.param_bytes == weight_nbytes(model)
    # All float32 except EfficientNetB1's Normalization `count`, an int64 scalar: 8 bytes, not 4.
    extra = 4 if name == "EfficientNetB1" else 0
    assert profile.param_bytes == model.count_params() * 4 + extra
    layers = [n for block in profile.blocks for n in block.layers]
    assert sorted(layers) == sorted(layer.name for layer in model.layers[1:])
    assert all(b.peak_activation_bytes >= b.output_bytes for b in profile.blocks)
    assert validate_profile_data(profile.to_dict()) == []
