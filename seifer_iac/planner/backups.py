"""Fail-over targets: for each stage, the unused nodes it could move to if its node is lost, best first.

The manifests use them (Stage.backups) to re-pin a stage without re-planning the whole chain.
"""

from __future__ import annotations

from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.problem import Placement, Problem


def backups_for(problem: Problem, placement: Placement, limit: int = 2) -> tuple[tuple[str, ...], ...]:
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
