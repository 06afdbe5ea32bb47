"""Cut a layer DAG into consecutive blocks and compute each block's figures (pure: no TensorFlow)."""

from __future__ import annotations

import networkx as nx

from seifer_iac.model.cuts import cut_points
from seifer_iac.model.errors import ModelError
from seifer_iac.profile import Block


def block_layers(graph: nx.DiGraph, cuts: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Layers of each block in topological order; block i ends with cut i. The input layer is in none.

    Blocks are contiguous in ANY topological order because a cut point sits after all its ancestors and
    before all its descendants (see `cuts`)."""
    order = [name for name in graph.graph["order"] if name != graph.graph["input"]]
    ends = {name for name in cuts}
    blocks, current = [], []
    for name in order:
        current.append(name)
        if name in ends:
            blocks.append(tuple(current))
            current = []
    return tuple(blocks)


def peak_activation_bytes(graph: nx.DiGraph, layers: tuple[str, ...], block_input: str) -> int:
    """Most activation bytes live at once while the block runs layer by layer in this order.

    While a layer runs, live = the block input (held until the block ends, as the runtime holds its
    received tensor) + every tensor produced earlier in the block that this or a later layer still needs
    + this layer's output. A tensor is freed after its last consumer inside the block has run."""
    position = {name: i for i, name in enumerate(layers)}
    last_use = {
        name: max((position[c] for c in graph.successors(name) if c in position), default=position[name])
        for name in layers
    }
    base = graph.nodes[block_input]["output_bytes"]
    live: dict[str, int] = {}
    peak = base
    for i, name in enumerate(layers):
        size = graph.nodes[name]["output_bytes"]
        peak = max(peak, base + sum(live.values()) + size)
        live[name] = size
        for done in [n for n in live if last_use[n] <= i and n != name]:
            del live[done]
    return peak


def blocks_of(graph: nx.DiGraph) -> tuple[Block, ...]:
    """The profile blocks of a layer DAG: one per cut point."""
    cuts = cut_points(graph)
    if len(cuts) < 2:
        raise ModelError(
            f"model {graph.graph.get('name', '?')!r} has no single-tensor cut point before its output: "
            "it cannot be split into a chain"
        )
    blocks = []
    previous = graph.graph["input"]
    for layers in block_layers(graph, cuts):
        last = graph.nodes[layers[-1]]
        blocks.append(
            Block(
                name=layers[-1],
                layers=layers,
                param_bytes=sum(graph.nodes[n]["param_bytes"] for n in layers),
                output_bytes=last["output_bytes"],
                output_shape=last["output_shape"],
                output_dtype=last["output_dtype"],
                peak_activation_bytes=peak_activation_bytes(graph, layers, previous),
                flops=sum(graph.nodes[n]["flops"] for n in layers),
            )
        )
        previous = layers[-1]
    return tuple(blocks)
