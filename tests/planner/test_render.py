"""The people's table: every stage, memory bars, the bottleneck marked, the figures."""

from __future__ import annotations

import random

from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.render import plan_table
from tests.planner.helpers import make_problem, random_cluster, random_profile


def test_table_marks_the_bottleneck_once():
    rng = random.Random(2)
    plan = optimise(make_problem(random_profile(rng, 8), random_cluster(rng, 4)))
    text = plan_table(plan, "toy")
    lines = text.splitlines()
    assert lines[0].startswith("pipeline toy  model toy")
    assert sum(line.count("<<") for line in lines) == 1
    assert len([line for line in lines if line[:1].isdigit()]) == len(plan.stages)
    assert "throughput" in text and "latency" in text and plan.plan_hash in text
    assert "#" in text or "." in text
