"""Single-tensor cut points of a layer DAG, in linear time.

A layer L is a cut point iff splitting the model right after L sends exactly one tensor, L's output, from
everything before it to everything after it. Equivalently L dominates the output (every input->output path
passes through L) and L has a single output tensor. Proof sketch of the sweep below: in a functional model
every layer lies on an input->output path, so if L dominates the output every other layer is either an
ancestor or a descendant of L, and an edge from an ancestor to a descendant would be a path that bypasses L.
So in ANY topological order L sits exactly after all its ancestors, and the only edges crossing its position
are L's own. Conversely if only L's edges cross its position, every path must leave the prefix through L.
The sweep keeps the number of "open" edges (from layers already seen to layers not yet seen); L is a cut
point when, after removing the edges that end at L, none is open. This is O(V + E), agrees with
`networkx.immediate_dominators` (checked in the tests), and never enumerates paths. Branches of residual or
inception blocks are never cut inside because the shortcut edge stays open across them.

The model input is not a cut point (it is where the first block starts); the output layer always is (it ends
the last block).
"""

from __future__ import annotations

import networkx as nx


def cut_points(graph: nx.DiGraph) -> tuple[str, ...]:
    """Names of the cut layers in topological order; the last one is the model's output layer."""
    open_edges = 0
    cuts = []
    for name in graph.graph["order"]:
        open_edges -= graph.in_degree(name)
        if open_edges == 0 and name != graph.graph["input"] and graph.nodes[name]["outputs"] == 1:
            cuts.append(name)
        open_edges += graph.out_degree(name)
    return tuple(cuts)


def dominator_cut_points(graph: nx.DiGraph) -> tuple[str, ...]:
    """The same set by the textbook criterion (dominators of the output), for cross-checking in tests."""
    source, sink = graph.graph["input"], graph.graph["output"]
    idom = nx.immediate_dominators(graph.reverse(copy=False), sink)
    post = set()
    node = source
    while node != sink:
        node = idom[node]
        post.add(node)
    dominators = nx.immediate_dominators(graph, source)
    dom = set()
    node = sink
    while node != source:
        dom.add(node)
        node = dominators[node]
    both = (post & dom) | {sink}
    return tuple(n for n in graph.graph["order"] if n in both and graph.nodes[n]["outputs"] == 1)
