"""What deploying a plan would change against the lock: everything that would roll a pod, and why.

A pod rolls when its node, block range, backups (its required node affinity), memory (its limit) or image
change, or when the model changes; the lock records all of these, so the diff compares content, not a
hash. The bottleneck is shown, not compared: it jitters with bandwidth and rolls nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seifer_iac.planner.lock import LockedStage, PlanLock, lock_from_plan
from seifer_iac.planner.stability import Decision

MIB = 2**20


def _blocks(s: LockedStage) -> str:
    return f"{s.first_block}..{s.last_block}"


def _names(nodes: tuple[str, ...]) -> str:
    return "[" + ", ".join(nodes) + "]"


@dataclass(frozen=True)
class StageChange:
    index: int
    old: LockedStage | None  # None when the stage is new
    new: LockedStage | None  # None when the stage is gone

    @property
    def moves(self) -> bool:
        """The stage changes node or block range (not only its backups or memory)."""
        if self.old is None or self.new is None:
            return True
        return (self.old.node, self.old.first_block, self.old.last_block) != (
            self.new.node,
            self.new.first_block,
            self.new.last_block,
        )

    def what(self) -> list[str]:
        """Each change that rolls this stage's pod, as a phrase."""
        old, new = self.old, self.new
        if old is None and new is not None:
            return [f"new on {new.node} (blocks {_blocks(new)})"]
        if new is None and old is not None:
            return [f"removed from {old.node} (blocks {_blocks(old)})"]
        assert old is not None and new is not None
        parts = []
        if old.node != new.node:
            parts.append(f"node {old.node} -> {new.node}")
        if _blocks(old) != _blocks(new):
            parts.append(f"blocks {_blocks(old)} -> {_blocks(new)}")
        if old.backups != new.backups:
            parts.append(f"backups {_names(old.backups)} -> {_names(new.backups)}")
        if old.memory_bytes != new.memory_bytes:
            parts.append(f"memory {old.memory_bytes / MIB:.1f} -> {new.memory_bytes / MIB:.1f} MiB")
        return parts

    def describe(self) -> str:
        return f"stage {self.index}: " + ", ".join(self.what())


def _release_changes(old: PlanLock, new: PlanLock) -> list[str]:
    """Changes that roll every pod (or the dispatcher's), outside any one stage."""
    out = []
    if old.model_version != new.model_version:
        out.append(f"model version {old.model_version} -> {new.model_version}: every pod rolls")
    elif old.model_hash != new.model_hash:
        out.append(f"model {old.model_hash[:12]} -> {new.model_hash[:12]}: every pod rolls")
    if old.image != new.image:
        out.append(f"image {old.image or '(none)'} -> {new.image}: every pod rolls")
    if old.dispatcher_node != new.dispatcher_node:
        out.append(f"dispatcher: node {old.dispatcher_node} -> {new.dispatcher_node}")
    if old.dispatcher_memory_bytes != new.dispatcher_memory_bytes:
        out.append(
            f"dispatcher: memory {old.dispatcher_memory_bytes / MIB:.1f} ->"
            f" {new.dispatcher_memory_bytes / MIB:.1f} MiB"
        )
    return out


@dataclass(frozen=True)
class PlanDiff:
    changes: tuple[StageChange, ...]
    release: tuple[str, ...]  # changes outside the stages (model, image, dispatcher)
    bottleneck_old_s: float | None
    bottleneck_new_s: float
    plan_hash_old: str | None
    plan_hash_new: str
    reason: str
    stale: bool  # the lock does not describe what would be deployed: some pod would roll

    @property
    def moves(self) -> bool:
        """Some stage changes node or block range."""
        return any(change.moves for change in self.changes)

    def lines(self) -> list[str]:
        out = [*self.release, *(change.describe() for change in self.changes)] or ["nothing rolls"]
        old = "none" if self.bottleneck_old_s is None else f"{self.bottleneck_old_s * 1e3:.2f} ms"
        out.append(f"bottleneck {old} -> {self.bottleneck_new_s * 1e3:.2f} ms")
        out.append(f"why: {self.reason}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": [
                {
                    "index": c.index,
                    "old": c.old.to_dict() if c.old else None,
                    "new": c.new.to_dict() if c.new else None,
                    "changes": c.what(),
                }
                for c in self.changes
            ],
            "release": list(self.release),
            "moves": self.moves,
            "bottleneck_old_s": self.bottleneck_old_s,
            "bottleneck_new_s": self.bottleneck_new_s,
            "plan_hash_old": self.plan_hash_old,
            "plan_hash_new": self.plan_hash_new,
            "stale": self.stale,
            "reason": self.reason,
        }


def diff(lock: PlanLock | None, decision: Decision) -> PlanDiff:
    """What deploying `decision.plan` would change against the lock, stage by stage, and why."""
    new = lock_from_plan(decision.plan)
    old_stages = lock.stages if lock else ()
    count = max(len(old_stages), len(new.stages))
    changes = []
    for i in range(count):
        before = old_stages[i] if i < len(old_stages) else None
        after = new.stages[i] if i < len(new.stages) else None
        if before != after:
            changes.append(StageChange(i + 1, before, after))
    return PlanDiff(
        changes=tuple(changes),
        release=tuple(_release_changes(lock, new)) if lock else (),
        bottleneck_old_s=lock.bottleneck_s if lock else None,
        bottleneck_new_s=decision.plan.bottleneck_s,
        plan_hash_old=lock.plan_hash if lock else None,
        plan_hash_new=decision.plan.plan_hash,
        reason=decision.reason,
        stale=lock is None or lock.rolling_content() != new.rolling_content(),
    )
