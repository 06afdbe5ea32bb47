"""Keras model -> layer DAG, and the models it refuses with one clear ModelError."""

from __future__ import annotations

import keras
import pytest

from seifer_iac.model.errors import ModelError
from seifer_iac.model.graph import layer_graph

from .small_models import (
    custom_layer_model,
    sequential_model,
    shared_layer_model,
    small_model,
    two_input_model,
    two_output_model,
)


def test_small_model_graph() -> None:
    model = small_model()
    graph = layer_graph(model)
    assert set(graph) == {layer.name for layer in model.layers}
    assert graph.graph["input"] == "input" and graph.graph["output"] == "logits"
    assert graph.graph["order"][0] == "input" and graph.graph["order"][-1] == "logits"
    assert set(graph.successors("stem_relu")) == {"res_conv_a", "res_add"}
    stem = graph.nodes["stem_conv"]
    assert stem["output_shape"] == (1, 32, 32, 8) and stem["output_dtype"] == "float32"
    assert stem["output_bytes"] == 32 * 32 * 8 * 4
    assert stem["param_bytes"] == (3 * 3 * 3 * 8 + 8) * 4
    assert graph.nodes["stem_bn"]["param_bytes"] == 4 * 8 * 4  # gamma, beta and the non-trainable mean, var


def test_sequential_model_is_read_through_its_functional_twin() -> None:
    graph = layer_graph(sequential_model())
    assert graph.graph["order"][1:] == ("d1", "d2")


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (two_input_model, "2 inputs"),
        (two_output_model, "2 outputs"),
        (shared_layer_model, "called more than once"),
        (custom_layer_model, "custom layer"),
    ],
)
def test_unchainable_models_raise_model_error(factory, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        layer_graph(factory())


def test_lambda_layers_are_refused() -> None:
    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Lambda(lambda t: t * 2, name="lam")(x))
    with pytest.raises(ModelError, match="custom layer"):
        layer_graph(model)


def test_unknown_spatial_dimensions_are_refused() -> None:
    x = keras.Input((None, None, 3), name="x")
    model = keras.Model(x, keras.layers.Conv2D(2, 3, name="c")(x))
    with pytest.raises(ModelError, match="unknown dimension"):
        layer_graph(model)
