"""Fail-over targets: unused nodes only, feasible, best first, at most two."""

from __future__ import annotations

import random

from seifer_iac.planner.backups import backups_for
from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.optimise import optimise
from tests.planner.helpers import make_problem, random_cluster, random_profile


def test_backups_are_unused_feasible_and_ordered():
    rng = random.Random(21)
    problem = make_problem(random_profile(rng, 8), random_cluster(rng, 7, memory=(150_000, 300_000)))
    plan = optimise(problem)
    used = {s.node for s in plan.stages}
    for i, stage in enumerate(plan.stages):
        assert len(stage.backups) <= 2
        values = []
        for backup in stage.backups:
            assert backup not in used
            moved = list(plan.placement)
            moved[i] = (stage.first_block, stage.last_block, backup)
            verdict = assess(problem, tuple(moved))
            assert verdict.feasible
            values.append((verdict.bottleneck_s, verdict.latency_s))
        assert values == sorted(values)
    assert tuple(s.backups for s in plan.stages) == backups_for(problem, plan.placement)


def test_no_spare_node_no_backup():
    rng = random.Random(22)
    problem = make_problem(random_profile(rng, 3), random_cluster(rng, 1, memory=(10**6, 10**6)))
    plan = optimise(problem)
    assert all(s.backups == () for s in plan.stages)
