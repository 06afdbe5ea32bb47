"""The relaxation is a lower bound; capacities and stage counts are what they claim."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.relax import capacities, min_stages_to_go, relaxed_optimum, to_go
from tests.planner.helpers import make_problem, random_cluster, random_profile
from tests.planner.oracle import brute_force


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6))
def test_relaxation_never_exceeds_the_optimum(seed):
    rng = random.Random(seed)
    problem = make_problem(random_profile(rng, rng.randint(1, 5)), random_cluster(rng, rng.randint(1, 4)))
    inst = build_instance(problem)
    bound = relaxed_optimum(inst, to_go(inst, False), False)
    best, _, _ = brute_force(problem)
    assert bound <= best * (1 + 1e-12) or (np.isinf(bound) and np.isinf(best))


def test_min_stages_and_capacities():
    rng = random.Random(1)
    inst = build_instance(make_problem(random_profile(rng, 6), random_cluster(rng, 3)))
    need = min_stages_to_go(inst)
    assert need[-1] == 0 and all(need[b] >= need[b + 1] - 1 for b in range(6))
    params, _flops = capacities(inst, np.isfinite(inst.stage_s))
    assert params.shape == (3, 7) and np.all(params[:, -1] == 0)
    assert np.all(np.diff(params, axis=1) <= 0)  # fewer blocks left, never more room needed
