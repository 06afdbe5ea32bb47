"""The research's baselines, faithfully, to measure our optimiser against.

- random: a random cut inside each memory window, then random distinct nodes (seeded).
- greedy: partition first (least SUM of transferred bytes within the memory of the smallest node and at
  most one stage per node, as the research did), then from every start node walk to the unvisited
  neighbour with the highest bandwidth; keep the best start.
- two-phase: the same partition, then the best possible placement of it (our exact search restricted to
  that partition): isolates what partitioning and placing jointly gains.
Where the research assumed equal memory (it took the minimum), mixed-memory clusters use the smallest node
memory that still admits a partition into at most one stage per node; placements then skip nodes a stage
does not fit. Each returns a Placement, or None when it finds none.
"""

from __future__ import annotations

import random

import numpy as np

from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.instance import INF, Instance
from seifer_iac.planner.problem import Placement, Problem
from seifer_iac.planner.search import solve

Cuts = tuple[tuple[int, int], ...]  # (first_block, last_block) per stage


def _capacities(problem: Problem) -> list[int]:
    return sorted({h.usable_memory_bytes for h in problem.hosts})


def min_sum_partition(inst: Instance, capacity: int) -> Cuts | None:
    """Stages within `capacity` bytes, at most max_stages of them, with the least total cut bytes
    (fewest stages among equals)."""
    p, k_max = inst.n_blocks, inst.max_stages
    if p == 0 or k_max == 0:
        return None
    penalty = np.where(np.triu(inst.memory <= capacity), 0.0, INF)  # [i, j]: blocks i..j as one stage
    cut = np.zeros(p + 1)
    cut[1:p] = inst.hop_bytes[1:p]  # bytes crossing boundary b (the input and output are always sent)
    best = np.full((k_max + 1, p + 1), INF)
    came = np.zeros((k_max + 1, p + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for k in range(1, k_max + 1):
        options = best[k - 1, :p, None] + penalty  # from boundary i, stage i..j
        came[k, 1:] = options.argmin(axis=0)
        best[k, 1:] = options.min(axis=0) + cut[1:]
    finals = best[1:, p]
    if not np.isfinite(finals).any():
        return None
    k = int(np.argmin(finals)) + 1  # argmin: the first (fewest stages) of equals
    stages, b = [], p
    while k > 0:
        i = int(came[k, b])
        stages.append((i, b - 1))
        b, k = i, k - 1
    return tuple(reversed(stages))


def research_partition(problem: Problem, inst: Instance) -> Cuts | None:
    """The greedy/two-phase partition under the smallest node memory that admits one."""
    for capacity in _capacities(problem):
        cuts = min_sum_partition(inst, capacity)
        if cuts is not None:
            return cuts
    return None


def _rank(problem: Problem, placement: Placement) -> tuple[float, float, tuple[str, ...]]:
    verdict = assess(problem, placement)
    if not verdict.feasible:
        return (INF, INF, ())
    return (verdict.bottleneck_s, verdict.latency_s, tuple(node for _, _, node in placement))


def greedy(problem: Problem, inst: Instance) -> Placement | None:
    """Partition, then the best of the highest-bandwidth walks from every start node."""
    cuts = research_partition(problem, inst)
    if cuts is None:
        return None
    names = inst.names
    fits = [[inst.memory[i, j] <= h.usable_memory_bytes for h in problem.hosts] for i, j in cuts]
    best: Placement | None = None
    best_rank = (INF, INF, ())
    for start in range(len(names)):
        if not fits[0][start]:
            continue
        chain = [start]
        for stage in range(1, len(cuts)):
            here = names[chain[-1]]
            options = [
                (-problem.cluster.bandwidth(here, names[w]), names[w], w)
                for w in range(len(names))
                if w not in chain and fits[stage][w]
            ]
            if not options:
                break
            chain.append(min(options)[2])
        if len(chain) < len(cuts):
            continue
        placement = tuple((i, j, names[w]) for (i, j), w in zip(cuts, chain, strict=True))
        rank = _rank(problem, placement)
        if rank < best_rank:
            best, best_rank = placement, rank
    return best


def two_phase(
    problem: Problem, inst: Instance, budget_s: float = 2.0, exact: bool | None = None
) -> Placement | None:
    """The research's partition, placed optimally (exact search over that partition only; by default
    exact on up to 12 nodes, like our optimiser, else within the budget)."""
    cuts = research_partition(problem, inst)
    if cuts is None:
        return None
    exact = inst.n_hosts <= 12 if exact is None else exact
    result = solve(inst.restricted_to(cuts), budget_s, exact=exact)
    if result.path is None:
        return None
    return tuple((i, j, inst.names[w]) for i, j, w in result.path)


def random_placement(problem: Problem, inst: Instance, seed: int, attempts: int = 100) -> Placement | None:
    """A random cut inside each memory window, then random distinct nodes that fit (seeded)."""
    rng = random.Random(seed)
    capacities = _capacities(problem)
    if not capacities:
        return None
    p = inst.n_blocks
    hosts = problem.hosts
    for capacity in capacities:
        for _ in range(attempts):
            cuts, b = [], 0
            while b < p:
                window = [j for j in range(b, p) if inst.memory[b, j] <= capacity]
                if not window:
                    break
                end = rng.choice(window)
                cuts.append((b, end))
                b = end + 1
            if b < p or len(cuts) > inst.max_stages:
                continue
            free = list(range(len(hosts)))
            chain = []
            for i, j in cuts:
                fitting = [w for w in free if inst.memory[i, j] <= hosts[w].usable_memory_bytes]
                if not fitting:
                    break
                w = rng.choice(fitting)
                free.remove(w)
                chain.append(w)
            if len(chain) == len(cuts):
                return tuple((i, j, inst.names[w]) for (i, j), w in zip(cuts, chain, strict=True))
    return None
