"""The evaluator: figures of a placement, labels, and refusals with reasons."""

from __future__ import annotations

import math

import pytest

from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.evaluate import assess, build_plan, structure_problems
from seifer_iac.planner.problem import Problem
from seifer_iac.spec.model import Cluster, Link, Node
from tests.planner.helpers import make_profile

PROFILE = make_profile([(1000, 1000, 100, 10**9), (1000, 2000, 100, 2 * 10**9)], input_bytes=500)
CLUSTER = Cluster(
    nodes=(Node("a", 10**6, 1e9), Node("b", 10**6, 2e9), Node("d", 10**6, 1e9, schedulable=False)),
    links=(Link("d", "a", 8000.0), Link("a", "b", 8000.0), Link("b", "d", 16000.0)),
)
PROBLEM = Problem(PROFILE, CLUSTER, "d", CostModel(queue_depth=0))


def test_figures_of_a_two_stage_chain():
    verdict = assess(PROBLEM, ((0, 0, "a"), (1, 1, "b")))
    # input 500 B at 8 kbit/s = 0.5 s; a computes 1 s; a->b 1000 B = 1 s; b computes 1 s; b->d 2000 B = 1 s
    assert verdict.feasible
    assert verdict.bottleneck_s == 1.0 and verdict.bottleneck == "stage 1 compute on a"
    assert verdict.latency_s == pytest.approx(4.5)


def test_plan_fields():
    plan = build_plan(
        PROBLEM, ((0, 0, "a"), (1, 1, "b")), lower_bound_s=0.5, algorithm="x", proven_optimal=False
    )
    first, second = plan.stages
    assert (first.first_layer, first.last_layer) == ("toy_l0a", "toy_b0")
    assert first.bytes_in == 500 and first.bytes_out == 1000 and second.bytes_out == 2000
    assert first.memory_bytes == 1000 + 100 + 500 + 1000
    assert second.link_out_s == 1.0 and plan.input_link_s == 0.5
    assert plan.gap == pytest.approx(1.0) and plan.throughput_per_s == 1.0


def test_refusals_name_the_reason():
    assert "node zz is not in the cluster" in structure_problems(PROBLEM, ((0, 1, "zz"),))
    assert "node d is not schedulable" in structure_problems(PROBLEM, ((0, 1, "d"),))
    assert any("runs 2 stages" in p for p in structure_problems(PROBLEM, ((0, 0, "a"), (1, 1, "a"))))
    assert any("expected to start" in p for p in structure_problems(PROBLEM, ((0, 0, "a"), (0, 1, "b"))))
    assert structure_problems(PROBLEM, ()) == ["no stages"]
    verdict = assess(PROBLEM, ((0, 0, "b"), (1, 1, "a")))  # no d->b link, no b->a link
    assert not verdict.feasible and math.isinf(verdict.bottleneck_s)
    assert any("no link d -> b" in p for p in verdict.problems)
    with pytest.raises(ValueError, match="not allowed"):
        build_plan(PROBLEM, ((0, 1, "zz"),), lower_bound_s=0, algorithm="x", proven_optimal=False)


def test_stage_too_big_is_refused():
    tiny = Cluster(
        nodes=(Node("a", 100, 1e9), Node("d", 10**6, 1e9, schedulable=False)), default_bits_per_s=1e6
    )
    verdict = assess(Problem(PROFILE, tiny, "d"), ((0, 1, "a"),))
    assert any("needs" in p and "node a has 100 usable" in p for p in verdict.problems)
