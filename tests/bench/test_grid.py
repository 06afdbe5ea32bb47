"""The research's random clusters: seeded, complete, the channel model."""

from __future__ import annotations

import math

import pytest

from seifer_iac.bench.grid import DISPATCHER, GridPoint, bandwidth_bits_per_s, random_cluster


def test_channel_model():
    assert bandwidth_bits_per_s(math.sqrt(283230.0)) == pytest.approx(1e6)  # log2(1 + 1) Mbit/s


def test_seeded_complete_clusters():
    point = GridPoint("M", 10, 64)
    a, b = random_cluster(point, 3), random_cluster(point, 3)
    assert a == b and a != random_cluster(point, 4)
    assert len(a.links) == 11 * 10
    assert not a.node(DISPATCHER).schedulable
    assert all(n.memory_bytes == 64 * 2**20 for n in a.nodes if n.schedulable)
    mixed = random_cluster(GridPoint("M", 20, None, objective="full", mixed_speed=True), 1)
    assert len({n.memory_bytes for n in mixed.nodes if n.schedulable}) > 1
    assert len({n.flops_per_s for n in mixed.nodes if n.schedulable}) > 1
