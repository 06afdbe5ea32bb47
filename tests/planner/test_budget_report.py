"""The budget applies at every cluster size and the plan says when it ran out."""

from __future__ import annotations

import random

from seifer_iac.planner.budget import Budget, Timeout, steps_for
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.render import plan_table
from tests.planner.helpers import make_problem, random_cluster, random_profile


def test_budget_counts_steps_not_seconds():
    budget = Budget(steps_for(0.001))
    spent = 0
    try:
        while True:
            budget.spend()
            spent += 1
    except Timeout:
        pass
    assert spent == steps_for(0.001)


def test_small_clusters_have_a_budget_too_and_the_plan_says_it_ran_out():
    rng = random.Random(14)
    problem = make_problem(random_profile(rng, 40), random_cluster(rng, 10), time_budget_s=0.005)
    plan = optimise(problem, with_backups=False)
    assert plan.budget_exhausted and not plan.proven_optimal
    assert plan.to_dict()["budget_exhausted"] is True
    assert "time budget ran out" in plan_table(plan)
    assert plan.lower_bound_s <= plan.bottleneck_s
    assert optimise(problem, with_backups=False) == plan  # deterministic: counted steps
