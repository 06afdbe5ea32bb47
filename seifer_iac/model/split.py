"""Split a model at chosen cut points into chained sub-models, and serialise them as partition blobs.

Keras 3 cannot cut a functional model at an intermediate tensor and serialise the piece as it is (the
piece's config would name layers outside it), so each partition is REBUILT: a fresh `keras.Input` with the
cut tensor's shape and dtype, then every layer of the partition called again, in topological order, on the
rebuilt tensors (`node.arguments.fill_in`, the way keras' own functional runner replays its graph). The
layer objects (and so the weights) are the originals, so outputs are bit-for-bit those of the full model.
Every name is explicit (the input is named after the cut layer that feeds it, the model
`<model>__<first>__<last>`): keras' default names carry per-process counters, which would make the
blobs differ between runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from runtime.partition import dump_partition
from seifer_iac.model.blocks import block_layers
from seifer_iac.model.convert import cached_convert
from seifer_iac.model.cuts import cut_points
from seifer_iac.model.errors import ModelError
from seifer_iac.model.graph import functional_view, layer_graph


@dataclass(frozen=True)
class PartitionBlob:
    """One stage's sub-model as deterministic bytes (`runtime.partition` format) and their sha256."""

    first_block: int
    last_block: int
    blob: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.blob)


def _rebuild(model: Any, layers: tuple[str, ...], start: str, name: str) -> Any:
    """The sub-model computing `layers` (topological order) from the output of layer `start`."""
    import keras

    keep = set(layers)
    source = model.get_layer(start).output
    new_input = keras.Input(shape=tuple(source.shape[1:]), dtype=source.dtype, name=start)
    tensors = {id(source): new_input}
    nodes = {
        node.operation.name: node
        for depth in model._nodes_by_depth.values()
        for node in depth
        if node.operation.name in keep
    }
    for layer_name in layers:
        node = nodes[layer_name]
        missing = [t for t in node.input_tensors if id(t) not in tensors]
        if missing:
            raise ModelError(
                f"layer {layer_name!r} needs a tensor from outside its partition: not a cut point"
            )
        args, kwargs = node.arguments.fill_in(tensors)
        outputs = node.operation(*args, **kwargs)
        flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for old, new in zip(node.outputs, flat, strict=True):
            tensors[id(old)] = new
    return keras.Model(new_input, tensors[id(nodes[layers[-1]].outputs[0])], name=name)


def block_ranges(n_blocks: int, boundaries: list[int]) -> list[tuple[int, int]]:
    """Boundaries are the block indices where a new partition starts (0 < b < n_blocks, increasing)."""
    starts = [0, *sorted(set(boundaries))]
    if any(b <= 0 or b >= n_blocks for b in starts[1:]):
        raise ValueError(f"boundaries must lie in 1..{n_blocks - 1}, got {boundaries}")
    ends = [b - 1 for b in starts[1:]] + [n_blocks - 1]
    return list(zip(starts, ends, strict=True))


def split_stages(model: Any, stages: list[tuple[int, int]]) -> list[Any]:
    """Sub-models for consecutive block ranges (first_block, last_block), 0-based inclusive, covering all."""
    return _split(functional_view(model), layer_graph(model), stages)


def _split(model: Any, graph: Any, stages: list[tuple[int, int]]) -> list[Any]:
    blocks = block_layers(graph, cut_points(graph))
    expected = 0
    for first, last in stages:
        if first != expected or last < first:
            raise ValueError(f"stages must be consecutive block ranges starting at 0, got {stages}")
        expected = last + 1
    if expected != len(blocks):
        raise ValueError(f"stages cover blocks 0..{expected - 1} of 0..{len(blocks) - 1}")
    models = []
    for first, last in stages:
        layers = tuple(name for block in blocks[first : last + 1] for name in block)
        start = graph.graph["input"] if first == 0 else blocks[first - 1][-1]
        models.append(_rebuild(model, layers, start, f"{model.name}__{layers[0]}__{layers[-1]}"))
    return models


def split_model(model: Any, boundaries: list[int]) -> list[Any]:
    """Sub-models split before each block index in `boundaries` (empty list: one partition)."""
    graph = layer_graph(model)
    return _split(functional_view(model), graph, block_ranges(len(cut_points(graph)), boundaries))


def partition_blobs(
    model: Any, stages: list[tuple[int, int]], backend: str = "tensorflow", precision: str = "fp32"
) -> list[PartitionBlob]:
    """Serialised partitions for a plan's stages (Stage.first_block, Stage.last_block): Keras partition
    blobs for the tensorflow backend, .tflite flatbuffers (at `precision`) for litert."""
    blobs = []
    parts = split_stages(model, stages)
    for index, ((first, last), part) in enumerate(zip(stages, parts, strict=True), start=1):
        blob = dump_partition(part)
        if backend == "litert":
            blob = cached_convert(part, hashlib.sha256(blob).hexdigest(), precision, stage=index)
        blobs.append(PartitionBlob(first, last, blob, hashlib.sha256(blob).hexdigest()))
    return blobs
