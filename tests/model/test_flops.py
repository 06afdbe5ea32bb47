"""Analytic FLOPs per layer (2 per multiply-add) against hand counts."""

from __future__ import annotations

import keras
import pytest
from keras import layers

from seifer_iac.model.graph import layer_graph


def flops_of(layer: keras.layers.Layer, shape: tuple[int, ...]) -> int:
    x = keras.Input(shape, name="x")
    graph = layer_graph(keras.Model(x, layer(x)))
    return graph.nodes[layer.name]["flops"]


@pytest.mark.parametrize(
    ("layer", "shape", "expected"),
    [
        (layers.Conv2D(16, 3, padding="same", name="c"), (8, 8, 4), 2 * 64 * 3 * 3 * 4 * 16 + 64 * 16),
        (
            layers.Conv2D(16, 3, use_bias=False, activation="relu", name="c"),
            (8, 8, 4),
            2 * 36 * 9 * 4 * 16 + 36 * 16,
        ),
        (layers.Conv2D(8, 1, groups=2, use_bias=False, name="c"), (4, 4, 4), 2 * 16 * 2 * 8),
        (layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="c"), (8, 8, 4), 2 * 64 * 9 * 4),
        (
            layers.SeparableConv2D(8, 3, padding="same", use_bias=False, name="c"),
            (8, 8, 4),
            2 * 64 * (9 * 4 + 4 * 8),
        ),
        (layers.Dense(10, name="c"), (20,), 2 * 200 + 10),
        (layers.BatchNormalization(name="c"), (4, 4, 2), 2 * 32),
        (layers.MaxPooling2D(2, name="c"), (8, 8, 2), 4 * 4 * 2 * 4),
        (layers.GlobalAveragePooling2D(name="c"), (8, 8, 2), 128),
        (layers.ReLU(name="c"), (8, 8, 2), 128),
        (layers.ZeroPadding2D(1, name="c"), (8, 8, 2), 10 * 10 * 2),
        (layers.Flatten(name="c"), (8, 8, 2), 0),
        (
            layers.Conv2DTranspose(4, 2, strides=2, use_bias=False, name="c"),
            (4, 4, 2),
            2 * 16 * 2 * 2 * 4 * 2,
        ),
    ],
)
def test_layer_flops(layer: keras.layers.Layer, shape: tuple[int, ...], expected: int) -> None:
    assert flops_of(layer, shape) == expected


def test_merges() -> None:
    x = keras.Input((4, 4, 2), name="x")
    a, b = layers.ReLU(name="a")(x), layers.ReLU(name="b")(x)
    out = layers.Add(name="add")([a, b, x])
    graph = layer_graph(keras.Model(x, layers.Concatenate(name="cat")([out, x])))
    assert graph.nodes["add"]["flops"] == 2 * 32
    assert graph.nodes["cat"]["flops"] == 64


@pytest.mark.slow
def test_resnet50_total_matches_the_published_figure(application, graph_of) -> None:
    """ResNet50 is ~3.9 G multiply-adds at 224x224: ~7.7-7.8 GFLOPs with our conventions."""
    graph = graph_of(application("ResNet50"))
    total = sum(graph.nodes[n]["flops"] for n in graph)
    assert 7.6e9 < total < 7.9e9
