"""Random clusters of the research's evaluation (and our harder variant), as Problems.

Nodes uniform in a 150 m square, one more random point for the dispatcher, complete graph, bandwidth
log2(1 + 283230 / d^2) Mbit/s (about 6 Mbit/s on average). Seeded: the same seed gives the same cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.problem import Problem
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Cluster, Link, Node, PlannerOptions

SIDE_M = 150.0
MIB = 2**20
DISPATCHER = "dispatcher"


def bandwidth_bits_per_s(distance_m: float) -> float:
    """The research's channel model: log2(1 + 283230 / d^2) Mbit/s."""
    return math.log2(1.0 + 283230.0 / max(distance_m, 1e-3) ** 2) * 1e6


@dataclass(frozen=True)
class GridPoint:
    """One configuration: `memory_mib` None means mixed memory; `speeds` empty means uniform speed."""

    model: str
    nodes: int
    memory_mib: int | None
    objective: str = "communication"
    dispatcher_links: bool = True
    mixed_speed: bool = False


MIXED_MEMORY_MIB = (32, 64, 128, 256, 512)
MIXED_SPEED = (0.5e9, 1e9, 2e9, 4e9, 8e9)  # FLOP/s: Raspberry Pi class to a small Jetson


def random_cluster(point: GridPoint, seed: int) -> Cluster:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, SIDE_M, size=(point.nodes + 1, 2))
    if point.memory_mib is None:
        memory = rng.choice(MIXED_MEMORY_MIB, size=point.nodes)
    else:
        memory = np.full(point.nodes, point.memory_mib)
    speed = rng.choice(MIXED_SPEED, size=point.nodes) if point.mixed_speed else np.full(point.nodes, 1e9)
    width = len(str(point.nodes))
    names = [f"n{i:0{width}d}" for i in range(point.nodes)] + [DISPATCHER]
    nodes = [
        Node(name=names[i], memory_bytes=int(memory[i]) * MIB, flops_per_s=float(speed[i]))
        for i in range(point.nodes)
    ]
    nodes.append(Node(name=DISPATCHER, memory_bytes=4096 * MIB, flops_per_s=1e9, schedulable=False))
    links = []
    for a in range(point.nodes + 1):
        for b in range(point.nodes + 1):
            if a != b:
                d = float(np.hypot(*(xy[a] - xy[b])))
                links.append(Link(names[a], names[b], bandwidth_bits_per_s(d)))
    return Cluster(nodes=tuple(nodes), links=tuple(links))


def grid_problem(point: GridPoint, profile: Profile, seed: int, time_budget_s: float = 2.0) -> Problem:
    """The Problem of one trial: raw float32 bytes, no compression, one queued tensor per direction."""
    cost = CostModel(queue_depth=1, objective=point.objective, dispatcher_links=point.dispatcher_links)
    return Problem(
        profile=profile,
        cluster=random_cluster(point, seed),
        dispatcher_node=DISPATCHER,
        cost=cost,
        options=PlannerOptions(objective=point.objective, time_budget_s=time_budget_s),
        pipeline=f"{point.model}-{point.nodes}",
    )
