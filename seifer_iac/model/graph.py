"""Keras functional model -> layer DAG (networkx), the one place that reads keras' graph internals.

Keras 3 records every layer call as a `Node` (`model._nodes_by_depth`); each node knows its operation, its
input tensors (whose `_keras_history.operation` is the producing layer) and its output tensors. We turn that
into a DiGraph of layer names with plain attributes, so cut points and block figures are pure functions of
the graph (`cuts`, `blocks`) that need no TensorFlow to test.

Node attributes: `index` (position in the topological order), `kind` (class name), `outputs` (number of
output tensors), `output_shape` / `output_dtype` / `output_bytes` (batch axis set to 1; bytes summed over all
outputs), `param_bytes` (every weight, trainable or not, with its real dtype) and `flops` (see `flops`).
Graph attributes: `name` (the model's), `input`, `output` (layer names) and `order` (a topological order:
keras' own operation order, already topological, is the tie-break, so the order is deterministic).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from seifer_iac.model.errors import ModelError
from seifer_iac.model.flops import layer_flops


def concrete_shape(shape: tuple[Any, ...], where: str) -> tuple[int, ...]:
    """A tensor shape at batch size 1; every other axis must be known."""
    if not shape:
        return ()
    rest = tuple(shape[1:])
    if any(dim is None for dim in rest):
        raise ModelError(
            f"{where} has an unknown dimension {tuple(shape)}: give the model a fixed input shape"
        )
    return (1, *(int(dim) for dim in rest))


def tensor_bytes(shape: tuple[int, ...], dtype: str) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _check_supported(operation: Any) -> None:
    module = type(operation).__module__
    kind = type(operation).__name__
    if not module.startswith("keras.") or kind == "Lambda":
        raise ModelError(
            f"layer {operation.name!r} is a custom layer ({module}.{kind}): the runtime can only rebuild "
            "built-in keras layers; replace it with built-in layers"
        )


def weight_bytes(operation: Any) -> int:
    """Bytes of all of a layer's weights (trainable and not), each with its own dtype."""
    return sum(
        tensor_bytes(tuple(int(d) for d in w.shape), str(w.dtype)) for w in getattr(operation, "weights", [])
    )


def functional_view(model: Any) -> Any:
    """A Sequential model's functional twin (same layers), so both kinds are read the same way."""
    inner = getattr(model, "_functional", None)
    return inner if inner is not None and not hasattr(model, "_nodes_by_depth") else model


def layer_graph(model: Any) -> nx.DiGraph:
    """The DAG of a single-input, single-output keras functional model; raises ModelError otherwise."""
    model = functional_view(model)
    inputs, outputs = list(getattr(model, "inputs", None) or []), list(getattr(model, "outputs", None) or [])
    if not hasattr(model, "_nodes_by_depth"):
        raise ModelError(f"model {model.name!r} is not a functional keras model (build it with keras.Model)")
    if len(inputs) != 1:
        raise ModelError(f"model {model.name!r} has {len(inputs)} inputs: SEIFER chains single-input models")
    if len(outputs) != 1:
        raise ModelError(
            f"model {model.name!r} has {len(outputs)} outputs: SEIFER chains single-output models"
        )

    nodes = [
        node for depth in sorted(model._nodes_by_depth, reverse=True) for node in model._nodes_by_depth[depth]
    ]
    rank = {id(op): i for i, op in enumerate(model.operations)}
    graph = nx.DiGraph()
    for node in nodes:
        operation = node.operation
        name = operation.name
        if name in graph:
            raise ModelError(
                f"layer {name!r} is called more than once (shared layer): SEIFER cannot split shared weights"
            )
        if not node.is_input:
            _check_supported(operation)
        shapes = [concrete_shape(tuple(t.shape), f"output of layer {name!r}") for t in node.outputs]
        dtypes = [str(t.dtype) for t in node.outputs]
        in_shapes = [concrete_shape(tuple(t.shape), f"input of layer {name!r}") for t in node.input_tensors]
        graph.add_node(
            name,
            rank=rank.get(id(operation), len(rank)),
            kind=type(operation).__name__,
            outputs=len(shapes),
            output_shape=shapes[0],
            output_dtype=dtypes[0],
            output_bytes=sum(tensor_bytes(s, d) for s, d in zip(shapes, dtypes, strict=True)),
            param_bytes=weight_bytes(operation),
            flops=0 if node.is_input else layer_flops(operation, in_shapes, shapes),
        )
        for tensor in node.input_tensors:
            graph.add_edge(tensor._keras_history.operation.name, name)

    order = tuple(nx.lexicographical_topological_sort(graph, key=lambda n: graph.nodes[n]["rank"]))
    for index, name in enumerate(order):
        graph.nodes[name]["index"] = index
    graph.graph.update(
        name=model.name,
        input=inputs[0]._keras_history.operation.name,
        output=outputs[0]._keras_history.operation.name,
        order=order,
    )
    return graph
