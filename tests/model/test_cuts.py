"""Cut points: the linear sweep, checked against dominators, on hand-made DAGs and real architectures.

Counts (keras 3.15 graphs; the input layer is not counted, the output layer is), research figures in brackets:
- ResNet50: 40 [~40]. 6 stem layers (conv1_pad .. pool1_pool), then 2 per residual block x 16: the `_add`
  (once shortcut and branch meet nothing else is open) and the `_out` ReLU after it; then avg_pool and
  predictions. Nothing inside a residual branch.
- VGG16: 22 [~22]: a plain chain, every layer but the input (13 conv, 5 pool, flatten, fc1, fc2, predictions).
- MobileNetV2: 75 [~75]: every layer of the stem, the head and the 7 inverted-residual blocks without a
  shortcut (block 0 and the first block of each stage), but only the `_add` of the 10 blocks with one.
- InceptionResNetV2: 104 [~105]: 17 stem layers, mixed_5b, 10 block35 x 2 (the scaled residual sum and its
  activation), mixed_6a, 20 block17 x 2, mixed_7a, 9 block8 x 2, block8_10 (no activation), conv_7b,
  its BN and activation, avg_pool, predictions. The structure is the same as in keras 2 (a Lambda there, a
  `CustomScaleLayer` here), so the research's 105 most likely also counts the input layer. Asserted from the
  committed profile (building the model is the slowest thing here; the CLI test checks profiles are
  reproducible).
- InceptionV3: 30: 17 stem layers, mixed0..mixed10, avg_pool, predictions (never inside a mixed block).
- DenseNet121: 80: 6 stem layers, every `_concat` of the 58 dense blocks (each concatenation closes all the
  features opened before it), the 4 x 4 transition layers (bn, relu, conv, pool: pool4 included), then bn,
  relu, avg_pool, predictions.
- EfficientNetB1: 92: the squeeze-excite branch keeps the block's activation open until `_se_excite`, and
  blocks with a shortcut are cut only at `_add`; rescaling, normalization and top_dropout are cuts too.
"""

from __future__ import annotations

import networkx as nx
import pytest

from seifer_iac.model.cuts import cut_points, dominator_cut_points

from .small_models import SMALL_CUTS, small_model

EXPECTED = {
    "ResNet50": 40,
    "VGG16": 22,
    "MobileNetV2": 75,
    "InceptionV3": 30,
    "DenseNet121": 80,
    "EfficientNetB1": 92,
}


def dag(edges: list[tuple[str, str]], source: str, sink: str) -> nx.DiGraph:
    graph = nx.DiGraph(edges)
    order = tuple(nx.lexicographical_topological_sort(graph))
    for name in graph:
        graph.nodes[name]["outputs"] = 1
    graph.graph.update(input=source, output=sink, order=order)
    return graph


def test_chain_cuts_every_layer_but_the_input() -> None:
    graph = dag([("in", "a"), ("a", "b"), ("b", "out")], "in", "out")
    assert cut_points(graph) == ("a", "b", "out")


def test_residual_branch_is_never_cut_inside() -> None:
    graph = dag(
        [("in", "s"), ("s", "b1"), ("b1", "b2"), ("s", "add"), ("b2", "add"), ("add", "out")], "in", "out"
    )
    assert cut_points(graph) == ("s", "add", "out")


def test_multi_output_layer_is_not_a_cut() -> None:
    graph = dag([("in", "a"), ("a", "b"), ("b", "out")], "in", "out")
    graph.nodes["a"]["outputs"] = 2
    assert cut_points(graph) == ("b", "out")


def test_cut_set_does_not_depend_on_the_topological_order() -> None:
    """Two orders of the same inception-like DAG give the same cuts."""
    edges = [("in", "s"), ("s", "p"), ("s", "q"), ("p", "cat"), ("q", "cat"), ("cat", "out")]
    first = dag(edges, "in", "out")
    second = dag(edges, "in", "out")
    second.graph["order"] = ("in", "s", "q", "p", "cat", "out")
    assert cut_points(first) == cut_points(second) == ("s", "cat", "out")


def test_small_model_cuts(graph_of) -> None:
    graph = graph_of(small_model())
    assert cut_points(graph) == SMALL_CUTS == dominator_cut_points(graph)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_architecture_counts(name: str, application, graph_of) -> None:
    graph = graph_of(application(name))
    cuts = cut_points(graph)
    assert cuts == dominator_cut_points(graph)
    assert cuts[-1] == graph.graph["output"]
    assert len(cuts) == EXPECTED[name], cuts


def test_inception_resnet_v2_count_from_the_committed_profile() -> None:
    import json
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[2] / "seifer_iac" / "bench" / "profiles" / "InceptionResNetV2.json"
    )
    blocks = json.loads(path.read_text())["blocks"]
    assert len(blocks) == 104
    assert sum(1 for b in blocks if b["name"].startswith("custom_scale_layer")) == 40
