"""The Lagrangian bound for chains of distinct hosts (lagrange.py) against brute force on tiny instances."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.budget import Budget
from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.instance import INF, Instance, build_instance
from seifer_iac.planner.lagrange import penalise
from seifer_iac.planner.problem import Problem
from seifer_iac.planner.relax import min_stages_to_go, relaxed_optimum, to_go
from seifer_iac.planner.search import path_value
from seifer_iac.planner.threshold import minimise_bottleneck
from tests.planner.hard_instances import compute_bound_problem, problem_from_record
from tests.planner.oracle import all_placements, brute_force


def _shared(seed: int, hosts: tuple[int, int] = (1, 5)) -> Problem:
    rng = random.Random(seed)
    return compute_bound_problem(rng, rng.randint(1, 6), rng.randint(*hosts), CostModel(medium="shared"))


def _airtime_only(inst: Instance) -> Instance:
    """Stages cost nothing where they fit: what the shared search's probes minimise."""
    return replace(inst, stage_s=np.where(np.isfinite(inst.stage_s), 0.0, INF), shared=False)


def _least_airtime(problem: Problem, inst: Instance) -> float:
    """The least sum of transfers over every chain of distinct hosts whose stages fit (brute force)."""
    index = {name: i for i, name in enumerate(inst.names)}
    zeroed = _airtime_only(inst)
    least = math.inf
    for placement in all_placements(problem):
        path = tuple((first, last, index[node]) for first, last, node in placement)
        least = min(least, path_value(zeroed, path, additive=True))
    return least


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6))
def test_the_penalised_root_is_a_bound_on_chains_of_distinct_hosts(seed: int) -> None:
    problem = _shared(seed)
    inst = build_instance(problem)
    zeroed = _airtime_only(inst)
    least = _least_airtime(problem, inst)
    plain = relaxed_optimum(zeroed, to_go(zeroed, True), True)
    penalised = penalise(zeroed, Budget(), target=least * 2 if math.isfinite(least) else 1.0)
    assert penalised.root <= least
    assert penalised.root >= plain * (1 - 1e-6) or not math.isfinite(
        plain
    )  # never weaker than the relaxation
    assert (penalised.lam >= 0).all() and penalised.total == pytest.approx(float(penalised.lam.sum()))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6))
def test_the_shared_search_with_the_lagrangian_bound_from_the_start_is_exact(seed: int) -> None:
    problem = _shared(seed)
    best, _, _ = brute_force(problem)
    found = minimise_bottleneck(build_instance(problem), Budget(), [], plain_visits=0)  # no plain phase
    if math.isinf(best):
        assert found.path is None and not found.timed_out
        return
    assert found.path is not None and not found.timed_out
    assert found.value == pytest.approx(best, rel=1e-12)
    assert found.lower == found.value


def test_penalties_raise_the_bound_where_the_relaxation_comes_back_to_a_fast_host() -> None:
    """Four blocks that each need a host of their own; only a and b (and the dispatcher's links to them)
    are fast. The relaxation sends every transfer between a and b (disp -> a -> b -> a -> b -> disp); a chain
    of distinct hosts must use c and d and their slow links. The penalties close most of that distance."""
    fast, slow = 1e10, 1e7
    pairs = {frozenset(p) for p in (("a", "b"), ("disp", "a"), ("disp", "b"))}
    names = ["a", "b", "c", "d", "disp"]
    links = [[x, y, fast if frozenset((x, y)) in pairs else slow] for x in names for y in names if x != y]
    block = {"param_bytes": 100_000, "output_bytes": 40_000, "peak_activation_bytes": 1_000, "flops": 10**7}
    record = {
        "input_bytes": 40_000,
        "blocks": [block] * 4,
        "nodes": [{"name": n, "memory_bytes": 300_000, "flops_per_s": 1e9} for n in names[:4]],
        "links": links,
        "medium": "shared",
        "hops": [0.0, 0.0, 0.0],
    }
    problem = problem_from_record(record)
    inst = build_instance(problem)
    zeroed = _airtime_only(inst)
    assert min_stages_to_go(zeroed)[0] == 4  # one block per host
    least = _least_airtime(problem, inst)
    plain = relaxed_optimum(zeroed, to_go(zeroed, True), True)
    root = penalise(zeroed, Budget(), target=least).root
    print(f"relaxation {plain * 1e3:.3f} ms, penalised {root * 1e3:.3f} ms, least {least * 1e3:.3f} ms")
    assert plain < 0.1 * least  # the relaxation never pays a slow link
    assert 0.5 * least < root <= least
