"""The cost model's pure functions: memory (with buffers), compute and link times, codec bytes."""

from __future__ import annotations

import math

import pytest

from seifer_iac.planner.cost import (
    CostModel,
    compute_cost_s,
    compute_seconds,
    link_seconds,
    mib,
    stage_memory_bytes,
)
from seifer_iac.spec.model import Codec


def test_memory_counts_params_peak_buffers_and_overhead():
    cost = CostModel(queue_depth=2, memory_overhead_bytes=1000)
    # (2 + 1) * (100 + 50) buffers
    assert stage_memory_bytes(cost, 10_000, 500, 100, 50) == 10_000 + 500 + 450 + 1000


def test_queue_depth_zero_still_holds_one_tensor_each_way():
    assert stage_memory_bytes(CostModel(queue_depth=0), 0, 0, 100, 50) == 150


def test_link_time_uses_codec_wire_bytes():
    cost = CostModel(codec=Codec(name="zfp", mode="rate", rate=16, ratio=2.0))
    assert link_seconds(cost, 1000, 8000.0) == pytest.approx(0.5)
    assert link_seconds(CostModel(), 1000, 8000.0) == pytest.approx(1.0)


def test_same_node_is_free_and_no_link_is_infinite():
    assert link_seconds(CostModel(), 10**6, math.inf) == 0.0
    assert link_seconds(CostModel(), 10**6, 0.0) == math.inf


def test_compute_time_and_objective():
    assert compute_seconds(2 * 10**9, 1e9) == 2.0
    assert compute_seconds(0, 0.0) == 0.0
    assert compute_seconds(5, 0.0) == math.inf
    assert compute_cost_s(CostModel(objective="communication"), 10**9, 1.0) == 0.0
    assert compute_cost_s(CostModel(objective="full"), 10**9, 1e9) == 1.0


def test_invalid_objective_is_rejected():
    with pytest.raises(ValueError, match="objective"):
        CostModel(objective="fastest")


def test_cost_model_is_a_hashable_value():
    assert hash(CostModel()) == hash(CostModel())
    assert mib(40.2 * 2**20) == "40.2 MiB"
