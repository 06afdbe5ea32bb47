"""The numeric instance agrees with the scalar cost functions (so reported figures equal searched ones)."""

from __future__ import annotations

import math
import random

import numpy as np

from seifer_iac.planner.cost import link_seconds
from seifer_iac.planner.evaluate import stage_memory
from seifer_iac.planner.instance import build_instance
from tests.planner.helpers import make_problem, random_cluster, random_profile


def test_arrays_match_scalar_functions():
    rng = random.Random(5)
    problem = make_problem(random_profile(rng, 7), random_cluster(rng, 4, sparse=0.2))
    inst = build_instance(problem)
    assert inst.names == tuple(sorted(inst.names))
    for i in range(7):
        for j in range(i, 7):
            assert inst.memory[i, j] == stage_memory(problem, i, j)
    p = 7
    for b in range(1, p):
        raw = problem.profile.blocks[b - 1].output_bytes
        shape = problem.profile.blocks[b - 1].output_shape
        for u, a in enumerate(inst.names):
            for w, c in enumerate(inst.names):
                bandwidth = problem.cluster.bandwidth(a, c)
                expected = math.inf if a == c else link_seconds(problem.cost, raw, bandwidth, shape)
                assert inst.hop_s[b, u, w] == expected
    assert np.all(np.isinf(inst.stage_s[:, 3, :3]))  # j < i is never a stage


def test_restricted_and_capped_views():
    rng = random.Random(6)
    inst = build_instance(make_problem(random_profile(rng, 5), random_cluster(rng, 3)))
    only = inst.restricted_to(((0, 1), (2, 4)))
    finite = np.argwhere(np.isfinite(only.stage_s))
    assert {(int(i), int(j)) for _, i, j in finite} <= {(0, 1), (2, 4)}
    capped = inst.capped(0.0)
    for array in (capped.stage_s, capped.hop_s.dense(), capped.in_s, capped.out_s):
        assert np.all(array[np.isfinite(array)] <= 0.0)
