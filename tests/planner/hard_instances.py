"""Small compute-bound instances, and the committed set of hard ones with their brute-force optima.

Regenerate with `python -m tests.planner.hard_instances` (brute force, a minute): it keeps seeds whose
relaxation bound is below the optimum and whose greedy plan is not optimal, and writes hard.json.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from seifer_iac.planner.cost import CostModel, HopCosts
from seifer_iac.planner.problem import Problem
from seifer_iac.planner.relax import relaxed_optimum, to_go
from seifer_iac.profile import Block, Profile
from seifer_iac.spec.model import Cluster, Link, Node, PlannerOptions

HARD_FILE = Path(__file__).with_name("hard.json")


def compute_bound_problem(rng: random.Random, n_blocks: int, n_hosts: int, cost: CostModel) -> Problem:
    """Mixed speeds (0.5-8 GFLOP/s) and memory, fast links (the research channel x 10-100), full objective."""
    blocks = [
        {
            "param_bytes": rng.randint(1, 40) * 1000,
            "output_bytes": rng.randint(1, 30) * 4000,
            "peak_activation_bytes": rng.randint(1, 20) * 1000,
            "flops": rng.randint(1, 60) * 10**7,
        }
        for _ in range(n_blocks)
    ]
    nodes = [
        {
            "name": f"h{i}",
            "memory_bytes": rng.choice([60_000, 120_000, 250_000, 500_000]),
            "flops_per_s": rng.choice([0.5e9, 1e9, 2e9, 4e9, 8e9]),
        }
        for i in range(n_hosts)
    ]
    names = [n["name"] for n in nodes] + ["disp"]
    links = [[a, b, rng.choice([30, 60, 120, 300, 600]) * 1e6] for a in names for b in names if a != b]
    record = {
        "input_bytes": rng.randint(1, 30) * 4000,
        "blocks": blocks,
        "nodes": nodes,
        "links": links,
        "medium": cost.medium,
        "hops": [cost.hops.fixed_s, cost.hops.decode_s_per_byte, cost.hops.encode_s_per_byte],
    }
    return problem_from_record(record)


def problem_from_record(record: dict[str, Any]) -> Problem:
    blocks = tuple(
        Block(
            name=f"b{i}",
            layers=(f"b{i}",),
            param_bytes=b["param_bytes"],
            output_bytes=b["output_bytes"],
            output_shape=(1, b["output_bytes"] // 4),
            output_dtype="float32",
            peak_activation_bytes=b["peak_activation_bytes"],
            flops=b["flops"],
        )
        for i, b in enumerate(record["blocks"])
    )
    profile = Profile(
        model_name="hard",
        model_hash="0" * 63 + "2",
        input_name="input",
        input_shape=(1, record["input_bytes"] // 4),
        input_dtype="float32",
        input_bytes=record["input_bytes"],
        blocks=blocks,
    )
    nodes = [
        Node(name=n["name"], memory_bytes=n["memory_bytes"], flops_per_s=n["flops_per_s"])
        for n in record["nodes"]
    ]
    nodes.append(Node(name="disp", memory_bytes=10**9, flops_per_s=1e9, schedulable=False))
    cluster = Cluster(nodes=tuple(nodes), links=tuple(Link(a, b, bw) for a, b, bw in record["links"]))
    cost = CostModel(queue_depth=1, medium=record["medium"], hops=HopCosts(*record["hops"]))
    return Problem(profile, cluster, "disp", cost, PlannerOptions(time_budget_s=30.0), pipeline="hard")


def _record(problem: Problem) -> dict[str, Any]:
    return {
        "input_bytes": problem.profile.input_bytes,
        "blocks": [
            {
                "param_bytes": b.param_bytes,
                "output_bytes": b.output_bytes,
                "peak_activation_bytes": b.peak_activation_bytes,
                "flops": b.flops,
            }
            for b in problem.profile.blocks
        ],
        "nodes": [
            {"name": n.name, "memory_bytes": n.memory_bytes, "flops_per_s": n.flops_per_s}
            for n in problem.cluster.nodes
            if n.schedulable
        ],
        "links": [[lk.source, lk.target, lk.bits_per_s] for lk in problem.cluster.links],
        "medium": problem.cost.medium,
        "hops": [
            problem.cost.hops.fixed_s,
            problem.cost.hops.decode_s_per_byte,
            problem.cost.hops.encode_s_per_byte,
        ],
    }


def generate(count: int = 16) -> list[dict[str, Any]]:
    from seifer_iac.planner.baselines import greedy
    from seifer_iac.planner.evaluate import assess
    from seifer_iac.planner.instance import build_instance
    from tests.planner.oracle import brute_force

    out: list[dict[str, Any]] = []
    seed = 0
    while len(out) < count:
        seed += 1
        rng = random.Random(seed)
        medium = ("switched", "shared")[seed % 2]
        cost = CostModel(queue_depth=1, medium=medium, hops=HopCosts(2e-4, 3e-9, 5e-9))
        problem = compute_bound_problem(rng, rng.randint(5, 7), rng.randint(4, 6), cost)
        best, _, _ = brute_force(problem)
        if math.isinf(best):
            continue
        inst = build_instance(problem)
        bound = relaxed_optimum(inst, to_go(inst, False), False)
        found = greedy(problem, inst)
        greedy_value = assess(problem, found).bottleneck_s if found else math.inf
        if bound < best * (1 - 1e-9) and greedy_value > best * (1 + 1e-9):
            out.append({"name": f"seed{seed}-{medium}", **_record(problem), "optimum_s": best})
    return out


def _load() -> list[dict[str, Any]]:
    return json.loads(HARD_FILE.read_text()) if HARD_FILE.exists() else []


HARD = _load()

if __name__ == "__main__":
    HARD_FILE.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {HARD_FILE}")
