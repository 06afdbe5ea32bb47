"""Splitting: chained partitions reproduce the full model, for real architectures and several cut sets."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from seifer_iac.model.cuts import cut_points
from seifer_iac.model.split import block_ranges, partition_blobs, split_model, split_stages

from .conftest import random_input
from .small_models import sequential_model, small_model

ARCHITECTURES = ["ResNet50", "MobileNetV2", "VGG16", "InceptionV3", "DenseNet121", "EfficientNetB1"]


def cut_sets(n_blocks: int) -> list[list[int]]:
    """Every boundary, one in the middle, and three seeded random ones."""
    rng = np.random.default_rng(n_blocks)
    random = sorted(
        int(b) for b in rng.choice(np.arange(1, n_blocks), size=min(3, n_blocks - 1), replace=False)
    )
    return [list(range(1, n_blocks)), [n_blocks // 2], random]


def chain(parts: list, x: np.ndarray) -> np.ndarray:
    for part in parts:
        x = np.asarray(part(x, training=False))
    return x


def assert_chains_reproduce(model, graph) -> None:
    x = random_input(model)
    full = np.asarray(model(x, training=False))
    n_blocks = len(cut_points(graph))
    for boundaries in cut_sets(n_blocks):
        parts = split_model(model, boundaries)
        assert len(parts) == len(boundaries) + 1
        diff = float(np.max(np.abs(chain(parts, x) - full)))
        assert diff <= 1e-5, (boundaries, diff)


def test_small_model_chains(graph_of) -> None:
    model = small_model()
    assert_chains_reproduce(model, graph_of(model))


def test_sequential_model_chains(graph_of) -> None:
    model = sequential_model()
    assert_chains_reproduce(model, graph_of(model))


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_real_architecture_chains(name: str, application, graph_of) -> None:
    model = application(name)
    assert_chains_reproduce(model, graph_of(model))


def test_partitions_share_the_original_layers() -> None:
    model = small_model()
    parts = split_model(model, [3, 6])
    names = [layer.name for part in parts for layer in part.layers if type(layer).__name__ != "InputLayer"]
    assert names == [layer.name for layer in model.layers[1:]]
    assert parts[1].layers[0].name == "stem_relu"  # the input is named after the cut tensor's layer
    assert parts[1].get_layer("res_conv_a") is model.get_layer("res_conv_a")


def test_block_ranges() -> None:
    assert block_ranges(5, []) == [(0, 4)]
    assert block_ranges(5, [3, 1]) == [(0, 0), (1, 2), (3, 4)]
    with pytest.raises(ValueError):
        block_ranges(5, [5])
    with pytest.raises(ValueError):
        block_ranges(5, [0])


def test_stages_must_cover_the_blocks_in_order() -> None:
    model = small_model()
    with pytest.raises(ValueError):
        split_stages(model, [(0, 3), (5, 8)])
    with pytest.raises(ValueError):
        split_stages(model, [(0, 3)])


def test_partition_blobs_are_deterministic_and_content_addressed() -> None:
    model = small_model()
    stages = [(0, 2), (3, 5), (6, 8)]
    first, second = partition_blobs(model, stages), partition_blobs(model, stages)
    assert [b.blob for b in first] == [b.blob for b in second]
    for blob, (start, end) in zip(first, stages, strict=True):
        assert (blob.first_block, blob.last_block) == (start, end)
        assert blob.sha256 == hashlib.sha256(blob.blob).hexdigest()
        assert blob.size == len(blob.blob)
    assert len({b.sha256 for b in first}) == 3
