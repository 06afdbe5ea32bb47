"""Fail-over targets: for each stage, the unused nodes it could move to if its node is lost, best first.

The manifests use them (Stage.backups) in each pod's required node affinity, so a change of backups rolls
the pod: the lock records them, and a kept placement keeps its locked backups while they are all still
usable (a new, unused node is no reason to restart a stage).
"""

from __future__ import annotations

from collections.abc import Sequence

from seifer_iac.planner.evaluate import assess, stage_memory
from seifer_iac.planner.problem import Placement, Problem

Backups = tuple[tuple[str, ...], ...]


def backups_for(problem: Problem, placement: Placement, limit: int = 2) -> Backups:
    """Per stage, up to `limit` unused hosts ordered by the moved plan's (bottleneck, latency, name)."""
    used = {node for _, _, node in placement}
    spare = [h.name for h in problem.hosts if h.name not in used]
    result = []
    for i, (first, last, _node) in enumerate(placement):
        ranked = []
        for candidate in spare:
            moved = (*placement[:i], (first, last, candidate), *placement[i + 1 :])
            verdict = assess(problem, moved)
            if verdict.feasible:
                ranked.append((verdict.bottleneck_s, verdict.latency_s, candidate))
        result.append(tuple(name for _, _, name in sorted(ranked)[:limit]))
    return tuple(result)


def stable_backups(
    problem: Problem, placement: Placement, locked: Sequence[tuple[str, ...]] | None, limit: int = 2
) -> Backups:
    """The locked backups of each stage while every one of them is still usable (a host of the cluster the
    stage fits on); a stage whose locked backups are not all usable, or that has none locked, gets fresh
    ones. A kept backup may have come to run another stage (a repair moved one there): the stage's pod is
    left alone rather than rolled, and Kubernetes's memory requests (equal to the limits) still keep two
    stages off a node that cannot hold both."""
    fresh = backups_for(problem, placement, limit)
    if locked is None or len(locked) != len(placement):
        return fresh
    hosts = {h.name: h for h in problem.hosts}
    result = []
    for (first, last, node), old, new in zip(placement, locked, fresh, strict=True):
        need = stage_memory(problem, first, last)
        usable = all(b in hosts and b != node and need <= problem.capacity(hosts[b]) for b in old)
        result.append(tuple(old) if old and usable else new)
    return tuple(result)
