"""`seifer bench planner`: does the planner prove its plans optimal within its budget, at every size?

Two families of seeded random clusters, priced with the product's cost model (dispatcher links counted):

- `research`: the research's grid (uniform memory 64-512 MiB, 1 GFLOP/s, the research's Wi-Fi channel
  log2(1 + 283230 / d^2) Mbit/s, communication objective);
- `compute-bound`: mixed memory 32-512 MiB, speeds 0.5-8 GFLOP/s, links 10x and 100x that channel, the
  full objective with the measured per-hop and codec costs (what the product meets once stages are fast);
- `compute-bound-shared`: the same clusters with all links on one shared medium (the link term is the sum
  of the chain's transfers).

Per cluster size it reports the share proven optimal, the gap to the proven lower bound (mean, max), and
the plan time (process CPU seconds of `optimise`, instance building included). Self-contained (its own
cluster generator) so it does not depend on where the research grid's code lives.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seifer_iac.bench.grid import bandwidth_bits_per_s
from seifer_iac.planner.cost import CostModel
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.hop_costs import measured_hop_costs
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.problem import Problem
from seifer_iac.profile import Profile, load_profile
from seifer_iac.spec.model import Cluster, Link, Node, PlannerOptions

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
MODELS = ("ResNet50", "InceptionResNetV2", "EfficientNetB1", "MobileNetV2", "VGG16")
NODES = (5, 10, 15, 20, 30, 40, 50)
QUICK_NODES = (5, 20, 50)
TRIALS = 10
QUICK_TRIALS = 2
SIDE_M = 150.0
MIB = 2**20
DISPATCHER = "dispatcher"
MIXED_MEMORY_MIB = (32, 64, 128, 256, 512)
MIXED_SPEED = (0.5e9, 1e9, 2e9, 4e9, 8e9)
RESEARCH_MEMORY_MIB = (64, 128, 256, 512)
FAMILIES = {
    "research": "uniform memory 64-512 MiB, 1 GFLOP/s, research Wi-Fi channel, communication objective",
    "compute-bound": "memory 32-512 MiB, 0.5-8 GFLOP/s, links 10x and 100x the channel, full objective"
    " with per-hop and codec costs",
    "compute-bound-shared": "the same clusters on one shared medium (cluster.bandwidth.medium: shared)",
}


@dataclass(frozen=True)
class Case:
    """One seeded instance of a family."""

    family: str
    model: str
    nodes: int
    link_factor: float
    memory_mib: int | None  # None: mixed
    seed: int
    medium: str = "switched"


@dataclass(frozen=True)
class Outcome:
    case: Case
    feasible: bool
    proven: bool
    gap: float
    plan_s: float
    bottleneck_s: float
    lower_bound_s: float


def cluster_for(case: Case) -> Cluster:
    """Nodes uniform in a 150 m square (one more point for the dispatcher), complete graph."""
    rng = np.random.default_rng([case.seed, case.nodes, int(case.link_factor), case.memory_mib or 0])
    # (the medium is not in the seed: the shared family plans the very clusters of compute-bound)
    xy = rng.uniform(0.0, SIDE_M, size=(case.nodes + 1, 2))
    mixed = case.memory_mib is None
    memory = rng.choice(MIXED_MEMORY_MIB, size=case.nodes) if mixed else np.full(case.nodes, case.memory_mib)
    speed = rng.choice(MIXED_SPEED, size=case.nodes) if mixed else np.full(case.nodes, 1e9)
    width = len(str(case.nodes))
    names = [f"n{i:0{width}d}" for i in range(case.nodes)] + [DISPATCHER]
    nodes = [
        Node(name=names[i], memory_bytes=int(memory[i]) * MIB, flops_per_s=float(speed[i]))
        for i in range(case.nodes)
    ]
    nodes.append(Node(name=DISPATCHER, memory_bytes=4096 * MIB, flops_per_s=1e9, schedulable=False))
    links = [
        Link(names[a], names[b], case.link_factor * bandwidth_bits_per_s(float(np.hypot(*(xy[a] - xy[b])))))
        for a in range(case.nodes + 1)
        for b in range(case.nodes + 1)
        if a != b
    ]
    return Cluster(nodes=tuple(nodes), links=tuple(links))


def problem_for(case: Case, profile: Profile, budget_s: float | None = None) -> Problem:
    """The Problem of one case: raw float32 tensors (codec none), one queued tensor per direction."""
    options = PlannerOptions() if budget_s is None else PlannerOptions(time_budget_s=budget_s)
    if case.family == "research":
        cost = CostModel(queue_depth=1, objective="communication", medium=case.medium)
        options = PlannerOptions(objective="communication", time_budget_s=options.time_budget_s)
    else:
        cost = CostModel(queue_depth=1, objective="full", medium=case.medium, hops=measured_hop_costs())
    return Problem(
        profile=profile,
        cluster=cluster_for(case),
        dispatcher_node=DISPATCHER,
        cost=cost,
        options=options,
        pipeline=f"{case.model}-{case.nodes}",
    )


def cases(family: str, nodes: Iterable[int], trials: int, models: Iterable[str] = MODELS) -> list[Case]:
    """Every case of a family: research cycles the four memory sizes, compute-bound the two link factors."""
    out = []
    for n in nodes:
        for model in models:
            for seed in range(trials):
                if family == "research":
                    memory = RESEARCH_MEMORY_MIB[seed % len(RESEARCH_MEMORY_MIB)]
                    out.append(Case(family, model, n, 1.0, memory, seed))
                else:
                    factor = (10.0, 100.0)[seed % 2]
                    medium = "shared" if family == "compute-bound-shared" else "switched"
                    out.append(Case(family, model, n, factor, None, seed, medium))
    return out


def run_case(case: Case, profile: Profile, budget_s: float | None = None) -> Outcome:
    problem = problem_for(case, profile, budget_s)
    started = time.process_time()
    try:
        plan = optimise(problem, with_backups=False)
    except PlanningError:
        plan = None
    spent = time.process_time() - started
    if plan is None:
        return Outcome(case, False, False, math.nan, spent, math.inf, math.nan)
    return Outcome(case, True, plan.proven_optimal, plan.gap, spent, plan.bottleneck_s, plan.lower_bound_s)


@dataclass(frozen=True)
class SizeRow:
    family: str
    nodes: int
    cases: int
    feasible: int
    proven_share: float
    gap_mean: float
    gap_max: float
    plan_median_ms: float
    plan_p99_ms: float
    plan_worst_ms: float


def summarise(outcomes: list[Outcome]) -> SizeRow:
    first = outcomes[0].case
    feasible = [o for o in outcomes if o.feasible]
    gaps = [o.gap for o in feasible]
    times = sorted(o.plan_s * 1e3 for o in outcomes)
    return SizeRow(
        family=first.family,
        nodes=first.nodes,
        cases=len(outcomes),
        feasible=len(feasible),
        proven_share=sum(o.proven for o in feasible) / len(feasible) if feasible else math.nan,
        gap_mean=statistics.fmean(gaps) if gaps else math.nan,
        gap_max=max(gaps) if gaps else math.nan,
        plan_median_ms=statistics.median(times),
        plan_p99_ms=times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)],
        plan_worst_ms=times[-1],
    )


def run_family(
    family: str,
    profiles: Mapping[str, Profile],
    nodes: Iterable[int],
    trials: int,
    budget_s: float | None = None,
    progress: Callable[[SizeRow], None] | None = None,
) -> tuple[list[SizeRow], list[Outcome]]:
    rows, everything = [], []
    for n in nodes:
        done = [run_case(c, profiles[c.model], budget_s) for c in cases(family, (n,), trials, profiles)]
        row = summarise(done)
        rows.append(row)
        everything.extend(done)
        if progress:
            progress(row)
    return rows, everything


def load_profiles(models: Iterable[str] = MODELS, folder: Path = PROFILE_DIR) -> dict[str, Profile]:
    return {m: load_profile(folder / f"{m}.json") for m in models}


HEADER = (
    "| family | nodes | cases | with a plan | proven optimal | gap mean / max"
    " | plan CPU median / p99 / worst ms |"
)


def markdown_header() -> list[str]:
    return [HEADER, "|---|---:|---:|---:|---:|---:|---:|"]


def markdown_row(r: SizeRow) -> str:
    def pct(v: float, digits: int = 1) -> str:
        return "n/a" if math.isnan(v) else f"{v * 100:.{digits}f} %"

    cells = [
        r.family,
        str(r.nodes),
        str(r.cases),
        str(r.feasible),
        pct(r.proven_share),
        f"{pct(r.gap_mean, 2)} / {pct(r.gap_max, 2)}",
        f"{r.plan_median_ms:.0f} / {r.plan_p99_ms:.0f} / {r.plan_worst_ms:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def totals(outcomes: list[Outcome]) -> dict[str, float]:
    feasible = [o for o in outcomes if o.feasible]
    return {
        "cases": len(outcomes),
        "feasible": len(feasible),
        "proven_share": sum(o.proven for o in feasible) / len(feasible) if feasible else math.nan,
        "gap_max": max((o.gap for o in feasible), default=math.nan),
        "worst_s": max((o.plan_s for o in outcomes), default=math.nan),
    }
