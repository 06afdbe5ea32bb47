"""A keras model -> its Profile (the plain value the planner reads)."""

from __future__ import annotations

from typing import Any

from seifer_iac.model.blocks import blocks_of
from seifer_iac.model.graph import layer_graph
from seifer_iac.model.hashing import model_hash
from seifer_iac.profile import Profile


def profile_model(model: Any, name: str | None = None, digest: str | None = None) -> Profile:
    """Cut `model` at every single-tensor cut point and describe each block (batch size 1)."""
    graph = layer_graph(model)
    source = graph.nodes[graph.graph["input"]]
    return Profile(
        model_name=name or model.name,
        model_hash=digest or model_hash(model),
        input_name=graph.graph["input"],
        input_shape=source["output_shape"],
        input_dtype=source["output_dtype"],
        input_bytes=source["output_bytes"],
        blocks=blocks_of(graph),
    )
