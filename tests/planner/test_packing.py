"""The packing bound never rules out a plan that exists (it is a relaxation), and it is monotone."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.cost import CostModel, HopCosts
from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.packing import build_packing
from tests.planner.hard_instances import compute_bound_problem
from tests.planner.oracle import brute_force


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6))
def test_packing_admits_the_optimum(seed):
    rng = random.Random(seed)
    cost = CostModel(queue_depth=1, hops=HopCosts(1e-4, 3e-9, 5e-9))
    problem = compute_bound_problem(rng, rng.randint(1, 7), rng.randint(1, 6), cost)
    best, _, _ = brute_force(problem)
    inst = build_instance(problem)
    if math.isinf(best):
        return
    packing = build_packing(inst.capped(best))
    assert packing is not None
    assert packing.earliest(packing.counts) == 0
    # fewer hosts can only start later; more hosts never hurt
    full = packing.earliest(packing.counts)
    for c in range(len(packing.counts)):
        if packing.counts[c]:
            fewer = packing.counts.copy()
            fewer[c] -= 1
            assert packing.earliest(fewer) >= full


def test_packing_is_tighter_than_the_path_relaxation_on_a_hard_instance():
    from seifer_iac.planner.relax import relaxed_optimum, to_go
    from tests.planner.hard_instances import HARD, problem_from_record

    tighter = 0
    for record in HARD:
        inst = build_instance(problem_from_record(record))
        relaxed = relaxed_optimum(inst, to_go(inst, False), False)
        packing = build_packing(inst.capped(relaxed))
        if packing is not None and packing.earliest(packing.counts) > 0:
            tighter += 1
    assert tighter >= 1
