"""Baselines: valid placements, never better than the proven optimum, partition is least-sum."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.baselines import greedy, min_sum_partition, random_placement, two_phase
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.optimise import optimise
from tests.planner.helpers import make_problem, random_cluster, random_profile


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["full", "communication"]))
def test_baselines_never_beat_the_proven_optimum(seed, objective):
    rng = random.Random(seed)
    problem = make_problem(
        random_profile(rng, rng.randint(2, 9)), random_cluster(rng, rng.randint(2, 6)), objective
    )
    inst = build_instance(problem)
    try:
        best = optimise(problem, with_backups=False)
    except PlanningError:
        for placement in (
            greedy(problem, inst),
            two_phase(problem, inst),
            random_placement(problem, inst, seed),
        ):
            assert placement is None or not assess(problem, placement).feasible
        return
    assert best.proven_optimal
    values = {}
    for name, placement in (
        ("greedy", greedy(problem, inst)),
        ("two_phase", two_phase(problem, inst)),
        ("random", random_placement(problem, inst, seed)),
    ):
        if placement is None:
            continue
        verdict = assess(problem, placement)
        assert verdict.feasible, (name, verdict.problems)
        assert verdict.bottleneck_s >= best.bottleneck_s * (1 - 1e-12)
        values[name] = verdict.bottleneck_s
    if "greedy" in values and "two_phase" in values:
        assert values["two_phase"] <= values["greedy"] * (1 + 1e-12)  # same partition, best placement


def test_min_sum_partition_is_least_total_cut_bytes():
    rng = random.Random(4)
    problem = make_problem(random_profile(rng, 8), random_cluster(rng, 4))
    inst = build_instance(problem)
    capacity = min(h.usable_memory_bytes for h in problem.hosts)
    cuts = min_sum_partition(inst, capacity)
    best = None
    for k in range(1, 5):
        for inner in itertools.combinations(range(1, 8), k - 1):
            bounds = (0, *inner, 8)
            stages = [(bounds[i], bounds[i + 1] - 1) for i in range(k)]
            if all(inst.memory[i, j] <= capacity for i, j in stages):
                total = sum(inst.hop_bytes[b] for b in inner)
                best = total if best is None else min(best, total)
    if best is None:
        assert cuts is None
    else:
        assert cuts is not None and sum(inst.hop_bytes[i] for i, _ in cuts[1:]) == pytest.approx(best)
        assert cuts[0][0] == 0 and cuts[-1][1] == 7


def test_random_is_seeded():
    rng = random.Random(9)
    problem = make_problem(random_profile(rng, 10), random_cluster(rng, 6, memory=(200_000, 400_000)))
    inst = build_instance(problem)
    assert random_placement(problem, inst, 3) == random_placement(problem, inst, 3)
