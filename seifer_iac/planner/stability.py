"""The stability rule: which placement to deploy, given the new optimum and the plan lock.

Keep the locked placement (and its backups) while it is still deployable and its bottleneck is within
`stability_margin` of the new optimum, so bandwidth jitter never moves pods. When a locked node is gone (or
a stage no longer fits), `planner.onNodeLoss` decides: `repair` (the default) moves only the affected
stages to spare nodes while that plan is within `repairMargin` of the optimum, and re-plans otherwise;
`replan` always takes the new optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from seifer_iac.planner.backups import stable_backups
from seifer_iac.planner.evaluate import assess, build_plan, stage_memory, stage_weight_bytes
from seifer_iac.planner.lock import PlanLock
from seifer_iac.planner.plan import Plan
from seifer_iac.planner.problem import Placement, Problem

MAX_REPAIRED_STAGES = 3


@dataclass(frozen=True)
class Decision:
    """The plan to deploy, whether it is the locked placement, and why."""

    plan: Plan
    kept: bool  # the locked placement is kept unchanged
    reason: str


def _matches_model(problem: Problem, lock: PlanLock) -> str | None:
    blocks = problem.profile.blocks
    for s in lock.stages:
        if s.last_block >= len(blocks) or s.first_block > s.last_block:
            return f"the model's blocks changed (stage {s.index}: blocks {s.first_block}..{s.last_block})"
        first, last = blocks[s.first_block].layers[0], blocks[s.last_block].layers[-1]
        if (first, last) != (s.first_layer, s.last_layer):
            return f"the model's blocks changed (stage {s.index}: {s.first_layer}..{s.last_layer})"
    return None


def repair(problem: Problem, placement: Placement) -> Placement | None:
    """Move only the stages that are no longer allowed (node gone, unschedulable, too small) to spare
    hosts, keeping every block range and every other stage; the best such move, or None."""
    hosts = {h.name: h for h in problem.hosts}
    budget = problem.weight_budget_bytes
    broken = [
        i
        for i, (first, last, node) in enumerate(placement)
        if node not in hosts
        or stage_memory(problem, first, last) > problem.capacity(hosts[node])
        or (budget is not None and stage_weight_bytes(problem, first, last) > budget)
    ]
    if not broken or len(broken) > MAX_REPAIRED_STAGES:
        return None
    kept = {node for i, (_, _, node) in enumerate(placement) if i not in broken}
    spare = [name for name in sorted(hosts) if name not in kept]
    best, best_rank = None, None
    for targets in itertools.permutations(spare, len(broken)):
        moved = list(placement)
        for i, node in zip(broken, targets, strict=True):
            moved[i] = (placement[i][0], placement[i][1], node)
        verdict = assess(problem, tuple(moved))
        if verdict.feasible:
            rank = (verdict.bottleneck_s, verdict.latency_s, targets)
            if best_rank is None or rank < best_rank:
                best, best_rank = tuple(moved), rank
    return best


def _as_plan(problem: Problem, placement: Placement, optimum: Plan, algorithm: str, lock: PlanLock) -> Plan:
    verdict = assess(problem, placement)
    return build_plan(
        problem,
        placement,
        lower_bound_s=optimum.lower_bound_s,
        algorithm=algorithm,
        proven_optimal=optimum.proven_optimal and verdict.bottleneck_s <= optimum.bottleneck_s,
        backups=stable_backups(problem, placement, lock.backups),
    )


def _slower(bottleneck_s: float, optimum: Plan) -> float:
    """How much slower than the optimum (0.07 = 7 % longer bottleneck)."""
    return bottleneck_s / optimum.bottleneck_s - 1.0 if optimum.bottleneck_s > 0 else float("inf")


def _on_loss(problem: Problem, optimum: Plan, lock: PlanLock, trouble: str) -> Decision:
    """The locked placement is no longer deployable: planner.onNodeLoss says repair or re-plan."""
    options = problem.options
    if options.on_node_loss == "replan":
        return Decision(optimum, False, f"{trouble}: re-planned (planner.onNodeLoss: replan)")
    fixed = repair(problem, lock.placement)
    if fixed is None:
        why = f"{trouble}: no deployable plan moves only the affected stages, so re-planned"
        return Decision(optimum, False, why + " (planner.onNodeLoss: repair)")
    moved = [str(i) for i, (a, b) in enumerate(zip(lock.placement, fixed, strict=True), 1) if a != b]
    slower = _slower(assess(problem, fixed).bottleneck_s, optimum)
    margin = options.repair_margin
    if slower <= margin:
        why = (
            f"{trouble}: moved only stage {', '.join(moved)} (planner.onNodeLoss: repair; {slower:.1%} slower"
            f" than the optimum, within repairMargin {margin:.0%})"
        )
        return Decision(_as_plan(problem, fixed, optimum, "locked, repaired", lock), False, why)
    why = (
        f"{trouble}: moving only stage {', '.join(moved)} would be {slower:.1%} slower than the optimum"
        f" (repairMargin {margin:.0%}), so re-planned"
    )
    return Decision(optimum, False, why)


def decide(problem: Problem, optimum: Plan, lock: PlanLock | None) -> Decision:
    """Apply the stability rule: the plan to deploy given the new optimum and the lock (if any).

    Only deployable plans are compared: `assess` counts every limit (memory beside the dispatcher, the
    weight budget, the image's architectures), so a locked placement that breaks one is repaired or
    replaced, never kept."""
    if lock is None:
        return Decision(optimum, False, "no plan lock yet")
    margin = problem.options.stability_margin
    limit = optimum.bottleneck_s * (1.0 + margin)
    changed = _matches_model(problem, lock)
    if changed:
        return Decision(optimum, False, changed)
    verdict = assess(problem, lock.placement)
    if verdict.feasible:
        if verdict.bottleneck_s <= limit:
            why = f"locked placement within {margin:.0%} of the optimum"
            return Decision(_as_plan(problem, lock.placement, optimum, "locked", lock), True, why)
        gain = _slower(verdict.bottleneck_s, optimum)
        why = f"the new optimum is {gain:.1%} faster than the locked placement (margin {margin:.0%})"
        return Decision(optimum, False, why)
    return _on_loss(problem, optimum, lock, "; ".join(verdict.problems))
