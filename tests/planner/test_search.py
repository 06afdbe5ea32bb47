"""The search itself: deadline behaviour and agreement with the relaxation when that is tight."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.relax import relaxed_optimum, to_go, to_go_no_return
from seifer_iac.planner.search import path_value, solve
from tests.planner.helpers import make_problem, random_cluster, random_profile
from tests.planner.oracle import brute_force


def test_exact_search_is_proven_and_consistent():
    rng = random.Random(11)
    inst = build_instance(make_problem(random_profile(rng, 12), random_cluster(rng, 6)))
    result = solve(inst, budget_s=5.0, exact=True)
    assert result.proven and result.path is not None
    assert result.bottleneck == path_value(inst, result.path, False)
    assert result.lower_bound == result.bottleneck
    assert relaxed_optimum(inst, to_go(inst, False), False) <= result.bottleneck
    hosts = [w for _, _, w in result.path]
    assert len(set(hosts)) == len(hosts)


def test_zero_budget_returns_incumbent_or_nothing_with_the_bound():
    rng = random.Random(12)
    inst = build_instance(make_problem(random_profile(rng, 30), random_cluster(rng, 16)))
    result = solve(inst, budget_s=0.0, exact=False)
    assert result.timed_out
    assert not result.proven
    assert result.lower_bound <= result.bottleneck


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["full", "communication"]))
def test_no_return_bound_search_is_exact(seed, objective):
    """Force the stronger bound from the first state: still the brute-force optimum."""
    rng = random.Random(seed)
    problem = make_problem(
        random_profile(rng, rng.randint(1, 6)),
        random_cluster(rng, rng.randint(1, 5), sparse=rng.choice([0.0, 0.3])),
        objective,
    )
    best, latency, _ = brute_force(problem)
    inst = build_instance(problem)
    result = solve(inst, budget_s=10.0, exact=True, plain_visits=0)
    if math.isinf(best):
        assert result.path is None
    else:
        assert result.bottleneck == pytest.approx(best, rel=1e-9)
        assert result.latency == pytest.approx(latency, rel=1e-9)


def test_no_return_table_is_at_least_the_plain_bound():
    rng = random.Random(13)
    inst = build_instance(make_problem(random_profile(rng, 10), random_cluster(rng, 5)))
    plain = to_go(inst, False)
    stronger = to_go_no_return(inst, False)
    n = inst.n_hosts
    assert np.all(stronger[1:, :n, :] >= plain[1:, None, :] - 1e-15)
    assert np.array_equal(stronger[-1, n, :], plain[-1])
