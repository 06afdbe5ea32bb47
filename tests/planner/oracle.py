"""Brute force: every cut of the blocks and every injective assignment of hosts (tiny instances only)."""

from __future__ import annotations

import itertools
import math

from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.problem import Placement, Problem


def all_placements(problem: Problem):
    p = len(problem.profile.blocks)
    names = [h.name for h in problem.hosts]
    for k in range(1, min(p, problem.max_stages) + 1):
        for cuts in itertools.combinations(range(1, p), k - 1):
            bounds = (0, *cuts, p)
            ranges = [(bounds[i], bounds[i + 1] - 1) for i in range(k)]
            for nodes in itertools.permutations(names, k):
                yield tuple((a, b, n) for (a, b), n in zip(ranges, nodes, strict=True))


def brute_force(problem: Problem) -> tuple[float, float, Placement | None]:
    """(least bottleneck, least latency among those, one such placement); inf when none is feasible."""
    best = (math.inf, math.inf, None)
    for placement in all_placements(problem):
        verdict = assess(problem, placement)
        if not verdict.feasible:
            continue
        b, lat = verdict.bottleneck_s, verdict.latency_s
        if b < best[0] * (1 - 1e-12) or (math.isclose(b, best[0], rel_tol=1e-12) and lat < best[1]):
            best = (b, lat, placement)
    return best
