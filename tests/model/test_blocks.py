"""Blocks of a layer DAG: contiguous layer runs, byte figures and the peak-activation simulation."""

from __future__ import annotations

import networkx as nx
import pytest

from seifer_iac.model.blocks import block_layers, blocks_of, peak_activation_bytes
from seifer_iac.model.cuts import cut_points
from seifer_iac.model.errors import ModelError
from seifer_iac.model.graph import layer_graph

from .small_models import no_cut_model, small_model


def residual_dag() -> nx.DiGraph:
    """in -> s -> (b1 -> b2) + s -> add; sizes in bytes."""
    graph = nx.DiGraph([("in", "s"), ("s", "b1"), ("b1", "b2"), ("s", "add"), ("b2", "add")])
    sizes = {"in": 10, "s": 100, "b1": 400, "b2": 100, "add": 100}
    for name, size in sizes.items():
        graph.nodes[name].update(
            outputs=1,
            output_bytes=size,
            output_shape=(1, size // 4),
            output_dtype="float32",
            param_bytes=size,
            flops=size,
        )
    graph.graph.update(input="in", output="add", order=("in", "s", "b1", "b2", "add"))
    return graph


def test_peak_counts_the_block_input_and_open_branches() -> None:
    graph = residual_dag()
    # while b2 runs: block input s (100) + b1 (400, its input) + b2 (100) = 600
    assert peak_activation_bytes(graph, ("b1", "b2", "add"), "s") == 600
    assert peak_activation_bytes(graph, ("s",), "in") == 110


def test_blocks_of_hand_dag() -> None:
    graph = residual_dag()
    assert block_layers(graph, cut_points(graph)) == (("s",), ("b1", "b2", "add"))
    blocks = blocks_of(graph)
    assert [b.name for b in blocks] == ["s", "add"]
    assert blocks[1].param_bytes == 600 and blocks[1].flops == 600 and blocks[1].output_bytes == 100


def test_small_model_blocks_cover_every_layer_once() -> None:
    model = small_model()
    blocks = blocks_of(layer_graph(model))
    layers = [name for block in blocks for name in block.layers]
    assert layers == [layer.name for layer in model.layers[1:]]
    assert blocks[3].layers == ("res_conv_a", "res_conv_b", "res_add")
    assert blocks[3].peak_activation_bytes == 3 * 32 * 32 * 8 * 4


def test_no_cut_point_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="no single-tensor cut point"):
        blocks_of(layer_graph(no_cut_model()))
