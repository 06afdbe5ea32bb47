"""The memory model: measured per backend and precision, and the planner's table agrees with it exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest

from seifer_iac.planner.cost import CostModel, stage_memory_bytes
from seifer_iac.planner.instance import stage_memory_table
from seifer_iac.planner.memory import DISPATCHER, MEASURED, RAW, MemoryModel, dispatcher_bytes, stage_model
from seifer_iac.planner.problem import Problem

from .helpers import random_cluster, random_profile

MIB = 2**20


def test_raw_counts_bytes_as_the_research_did():
    assert RAW.stage_bytes(10_000, 500, 450, 1000) == 10_000 + 500 + 450 + 1000


def test_headroom_scales_the_fitted_peak_and_the_extra_is_added_after():
    model = MemoryModel(base_bytes=1000, per_weight_byte=2.0, per_activation_byte=1.0, headroom=0.1)
    assert model.stage_bytes(100, 50, 10) == 1386  # ceil((1000 + 200 + 50 + 10) * 1.1)
    assert model.stage_bytes(100, 50, 10, extra_bytes=7) == 1393


def test_every_backend_and_precision_has_a_model_and_litert_is_far_smaller_than_tensorflow():
    for backend, precision in (("litert", "fp32"), ("litert", "fp16"), ("litert", "int8")):
        assert stage_model(backend, precision).base_bytes * 4 < stage_model("tensorflow", "fp32").base_bytes
    with pytest.raises(ValueError, match="tensorflow/fp32"):
        stage_model("tensorflow", "int8")


def test_lower_precision_holds_fewer_bytes_per_weight():
    fp32, fp16, int8 = (MEASURED[("litert", p)].per_weight_byte for p in ("fp32", "fp16", "int8"))
    assert int8 < fp16 < fp32


def test_spec_cost_model_uses_the_backends_measured_model():
    cost = CostModel(memory=stage_model("litert", "int8"), memory_overhead_bytes=5 * MIB)
    expected = stage_model("litert", "int8").stage_bytes(40 * MIB, 2 * MIB, 3 * (MIB + MIB), 5 * MIB)
    assert stage_memory_bytes(cost, 40 * MIB, 2 * MIB, MIB, MIB) == expected


@pytest.mark.parametrize("case", sorted(MEASURED))
def test_vectorised_table_equals_the_scalar_formula_for_every_stage(case):
    rng = random.Random(hash(case) & 0xFFFF)
    profile = random_profile(rng, 9)
    cost = CostModel(queue_depth=2, memory=MEASURED[case], memory_overhead_bytes=rng.randint(0, 10**6))
    problem = Problem(profile=profile, cluster=random_cluster(rng, 3), dispatcher_node="disp", cost=cost)
    table = stage_memory_table(problem)
    raw = [profile.input_bytes] + [b.output_bytes for b in profile.blocks]
    for i in range(len(profile.blocks)):
        for j in range(i, len(profile.blocks)):
            blocks = profile.blocks[i : j + 1]
            expected = stage_memory_bytes(
                cost,
                sum(b.param_bytes for b in blocks),
                max(b.peak_activation_bytes for b in blocks),
                raw[i],
                raw[j + 1],
            )
            assert int(table[i, j]) == expected
    assert table.dtype == np.int64


def test_dispatcher_holds_two_copies_of_every_request_in_flight():
    small = dispatcher_bytes(1, 1000, 10)
    large = dispatcher_bytes(65, 1000, 10)
    assert large - small == pytest.approx(2 * 64 * 1010 * (1 + DISPATCHER.headroom), abs=2)
