"""The threshold search against brute force on small compute-bound instances (switched and shared medium,
per-hop and codec costs), and on a committed set of hard instances with known optima."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.budget import Budget
from seifer_iac.planner.cost import CostModel, HopCosts
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.problem import Problem
from seifer_iac.planner.relax import relaxed_optimum, to_go
from seifer_iac.planner.threshold import candidates_between, minimise_bottleneck
from seifer_iac.spec.model import PlannerOptions
from tests.planner.hard_instances import HARD, compute_bound_problem, problem_from_record
from tests.planner.oracle import brute_force


def _problem(seed: int, medium: str, hops: bool) -> Problem:
    rng = random.Random(seed)
    cost = CostModel(
        queue_depth=1,
        medium=medium,
        hops=HopCosts(rng.choice([0.0, 1e-4, 2e-3]), rng.choice([0.0, 3e-9]), rng.choice([0.0, 5e-9]))
        if hops
        else HopCosts(),
    )
    return compute_bound_problem(rng, rng.randint(1, 6), rng.randint(1, 5), cost)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["switched", "shared"]), st.booleans())
def test_threshold_search_finds_the_brute_force_optimum(seed, medium, hops):
    problem = _problem(seed, medium, hops)
    best, latency, _ = brute_force(problem)
    inst = build_instance(problem)
    found = minimise_bottleneck(inst, Budget(), [])
    if math.isinf(best):
        assert found.path is None and not found.timed_out
        return
    assert found.path is not None and not found.timed_out
    assert found.value == pytest.approx(best, rel=1e-12)
    assert found.lower == found.value
    plan = optimise(replace(problem, options=PlannerOptions(time_budget_s=30.0)), with_backups=False)
    assert plan.proven_optimal and not plan.budget_exhausted
    assert plan.bottleneck_s == pytest.approx(best, rel=1e-12)
    if medium == "switched":  # the latency tie-break (a shared medium keeps the least-airtime chain)
        assert plan.latency_s == pytest.approx(latency, rel=1e-9)


def test_shared_medium_counts_the_sum_of_transfers():
    """A shared plan's bottleneck is its slowest stage or the sum of its transfers, never below the
    switched optimum of the same cluster."""
    checked = 0
    for seed in range(40):
        problem = _problem(seed, "shared", True)
        switched = replace(problem, cost=replace(problem.cost, medium="switched"))
        try:
            shared_plan = optimise(problem, with_backups=False)
        except PlanningError:
            continue
        switched_plan = optimise(switched, with_backups=False)
        links = [shared_plan.input_link_s] + [s.link_out_s for s in shared_plan.stages]
        stages = [s.compute_s + s.overhead_s for s in shared_plan.stages]
        assert shared_plan.bottleneck_s == pytest.approx(max(sum(links), max(stages)), rel=1e-12)
        assert shared_plan.bottleneck_s >= switched_plan.bottleneck_s * (1 - 1e-12)
        checked += 1
    assert checked >= 10


def test_candidates_are_the_instance_values_between_the_bounds():
    problem = _problem(3, "switched", True)
    inst = build_instance(problem)
    lower = relaxed_optimum(inst, to_go(inst, False), False)
    values = candidates_between(inst, lower, math.inf, False)
    assert values is not None and list(values) == sorted(set(values.tolist()))
    assert all(v > lower for v in values)


@pytest.mark.parametrize("record", HARD, ids=lambda r: r["name"])
def test_hard_instances_reach_their_known_optimum(record):
    """Instances where the relaxation is not tight and greedy is not optimal (tests/planner/hard.json)."""
    problem = problem_from_record(record)
    plan = optimise(problem, with_backups=False)
    assert plan.proven_optimal
    assert plan.bottleneck_s == pytest.approx(record["optimum_s"], rel=1e-12)
    assert plan.lower_bound_s == plan.bottleneck_s


def test_hard_set_is_what_the_generator_says():
    assert len(HARD) >= 10
    assert Path(__file__).with_name("hard.json").read_text() == json.dumps(HARD, indent=1) + "\n"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_value_midpoint_probes_are_exact_too(seed):
    """Beyond GATHER_MAX candidates (thousands of nodes) probes snap value midpoints to real candidates."""
    import seifer_iac.planner.threshold as threshold

    problem = _problem(seed, "switched", True)
    best, _, _ = brute_force(problem)
    inst = build_instance(problem)
    saved = threshold.GATHER_MAX
    threshold.GATHER_MAX = 0
    try:
        found = minimise_bottleneck(inst, Budget(), [])
    finally:
        threshold.GATHER_MAX = saved
    if math.isinf(best):
        assert found.path is None
    else:
        assert found.value == pytest.approx(best, rel=1e-12) and found.lower == found.value
