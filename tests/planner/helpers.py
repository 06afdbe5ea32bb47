"""Synthetic profiles and clusters for planner tests (no TensorFlow, no committed model files)."""

from __future__ import annotations

import random

from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.problem import Problem
from seifer_iac.profile import Block, Profile
from seifer_iac.spec.model import Cluster, Link, Node, PlannerOptions

MIB = 2**20


def make_profile(
    sizes: list[tuple[int, int, int, int]], name: str = "toy", input_bytes: int = 4000
) -> Profile:
    """sizes: (param_bytes, output_bytes, peak_activation_bytes, flops) per block."""
    blocks = tuple(
        Block(
            name=f"{name}_b{i}",
            layers=(f"{name}_l{i}a", f"{name}_b{i}"),
            param_bytes=pb,
            output_bytes=ob,
            output_shape=(1, ob // 4),
            output_dtype="float32",
            peak_activation_bytes=pk,
            flops=fl,
        )
        for i, (pb, ob, pk, fl) in enumerate(sizes)
    )
    return Profile(
        model_name=name,
        model_hash="0" * 63 + "1",
        input_name="input",
        input_shape=(1, input_bytes // 4),
        input_dtype="float32",
        input_bytes=input_bytes,
        blocks=blocks,
    )


def random_profile(rng: random.Random, n_blocks: int) -> Profile:
    sizes = [
        (
            rng.randint(0, 40) * 1000,
            rng.randint(1, 30) * 400,
            rng.randint(1, 20) * 500,
            rng.randint(0, 50) * 10**6,
        )
        for _ in range(n_blocks)
    ]
    return make_profile(sizes, input_bytes=rng.randint(1, 30) * 400)


def random_cluster(
    rng: random.Random, n_nodes: int, memory: tuple[int, int] = (40_000, 200_000), sparse: float = 0.0
) -> Cluster:
    """Hosts h0..h{n-1} plus an unschedulable dispatcher 'disp'; random directed bandwidths."""
    nodes = [
        Node(name=f"h{i}", memory_bytes=rng.randint(*memory), flops_per_s=rng.choice([1e8, 2e8, 5e8, 1e9]))
        for i in range(n_nodes)
    ]
    nodes.append(Node(name="disp", memory_bytes=10**9, flops_per_s=1e9, schedulable=False))
    links = []
    for a in nodes:
        for b in nodes:
            if a.name != b.name:
                bw = 0.0 if rng.random() < sparse else rng.choice([1, 2, 3, 5, 8, 13]) * 1e6
                links.append(Link(a.name, b.name, bw))
    return Cluster(nodes=tuple(nodes), links=tuple(links))


def make_problem(profile: Profile, cluster: Cluster, objective: str = "full", **options: object) -> Problem:
    return Problem(
        profile=profile,
        cluster=cluster,
        dispatcher_node="disp",
        cost=CostModel(objective=objective, queue_depth=1),
        options=PlannerOptions(objective=objective, **options),  # type: ignore[arg-type]
        pipeline="toy",
    )
