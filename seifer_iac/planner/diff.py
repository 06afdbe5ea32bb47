"""What deploying a plan would change against the lock: stage by stage, the bottleneck, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seifer_iac.planner.lock import PlanLock
from seifer_iac.planner.stability import Decision


@dataclass(frozen=True)
class StageChange:
    index: int
    old: tuple[int, int, str] | None  # (first_block, last_block, node), None when the stage is new
    new: tuple[int, int, str] | None  # None when the stage is gone

    def describe(self) -> str:
        if self.old is None and self.new is not None:
            return f"stage {self.index}: new on {self.new[2]} (blocks {self.new[0]}..{self.new[1]})"
        if self.new is None and self.old is not None:
            return f"stage {self.index}: removed from {self.old[2]} (blocks {self.old[0]}..{self.old[1]})"
        assert self.old is not None and self.new is not None
        parts = []
        if self.old[2] != self.new[2]:
            parts.append(f"node {self.old[2]} -> {self.new[2]}")
        if self.old[:2] != self.new[:2]:
            parts.append(f"blocks {self.old[0]}..{self.old[1]} -> {self.new[0]}..{self.new[1]}")
        return f"stage {self.index}: " + ", ".join(parts)


@dataclass(frozen=True)
class PlanDiff:
    changes: tuple[StageChange, ...]
    bottleneck_old_s: float | None
    bottleneck_new_s: float
    plan_hash_old: str | None
    plan_hash_new: str
    reason: str

    @property
    def moves(self) -> bool:
        return bool(self.changes)

    @property
    def stale(self) -> bool:
        """The lock does not describe what would be deployed (placement or model changed)."""
        return self.plan_hash_old != self.plan_hash_new

    def lines(self) -> list[str]:
        out = [change.describe() for change in self.changes] or ["no stage moves"]
        old = "none" if self.bottleneck_old_s is None else f"{self.bottleneck_old_s * 1e3:.2f} ms"
        out.append(f"bottleneck {old} -> {self.bottleneck_new_s * 1e3:.2f} ms")
        out.append(f"why: {self.reason}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "moves": [
                {
                    "index": c.index,
                    "old": list(c.old) if c.old else None,
                    "new": list(c.new) if c.new else None,
                }
                for c in self.changes
            ],
            "bottleneck_old_s": self.bottleneck_old_s,
            "bottleneck_new_s": self.bottleneck_new_s,
            "plan_hash_old": self.plan_hash_old,
            "plan_hash_new": self.plan_hash_new,
            "stale": self.stale,
            "reason": self.reason,
        }


def diff(lock: PlanLock | None, decision: Decision) -> PlanDiff:
    """What deploying `decision.plan` would change against the lock, stage by stage, and why."""
    old = lock.placement if lock else ()
    new = decision.plan.placement
    changes = [
        StageChange(i + 1, old[i] if i < len(old) else None, new[i] if i < len(new) else None)
        for i in range(max(len(old), len(new)))
        if (old[i] if i < len(old) else None) != (new[i] if i < len(new) else None)
    ]
    return PlanDiff(
        changes=tuple(changes),
        bottleneck_old_s=lock.bottleneck_s if lock else None,
        bottleneck_new_s=decision.plan.bottleneck_s,
        plan_hash_old=lock.plan_hash if lock else None,
        plan_hash_new=decision.plan.plan_hash,
        reason=decision.reason,
    )
