"""The plan lock: the accepted placement, committed next to the spec as JSON.

`stacks/dev.pipeline.yaml` -> `stacks/dev.pipeline.lock.json`. It records per stage the block range, its
first/last layer and the node, plus the plan hash and the model hash/version, so a later run can tell
whether the lock still describes what would be deployed (see `stability` and `diff`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seifer_iac.planner.plan import Plan
from seifer_iac.planner.problem import Placement

LOCK_FORMAT = "seifer.plan-lock/v1"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def lock_path(spec_path: str | Path) -> Path:
    """The lock file beside a spec: <spec without its .yaml/.yml/.json suffix>.lock.json."""
    path = Path(spec_path)
    stem = path.name
    for suffix in SPEC_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return path.with_name(stem + ".lock.json")


@dataclass(frozen=True)
class LockedStage:
    index: int
    first_block: int
    last_block: int
    first_layer: str
    last_layer: str
    node: str


@dataclass(frozen=True)
class PlanLock:
    pipeline: str
    model_hash: str
    model_version: str
    plan_hash: str
    objective: str
    bottleneck_s: float
    stages: tuple[LockedStage, ...]

    @property
    def placement(self) -> Placement:
        return tuple((s.first_block, s.last_block, s.node) for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LOCK_FORMAT,
            "pipeline": self.pipeline,
            "model_hash": self.model_hash,
            "model_version": self.model_version,
            "plan_hash": self.plan_hash,
            "objective": self.objective,
            "bottleneck_s": self.bottleneck_s,
            "stages": [
                {
                    "index": s.index,
                    "first_block": s.first_block,
                    "last_block": s.last_block,
                    "first_layer": s.first_layer,
                    "last_layer": s.last_layer,
                    "node": s.node,
                }
                for s in self.stages
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def lock_from_plan(plan: Plan) -> PlanLock:
    return PlanLock(
        pipeline=plan.pipeline,
        model_hash=plan.model_hash,
        model_version=plan.model_version,
        plan_hash=plan.plan_hash,
        objective=plan.objective,
        bottleneck_s=plan.bottleneck_s,
        stages=tuple(
            LockedStage(s.index, s.first_block, s.last_block, s.first_layer, s.last_layer, s.node)
            for s in plan.stages
        ),
    )


def lock_from_dict(data: dict[str, Any]) -> PlanLock:
    if data.get("format") != LOCK_FORMAT:
        raise ValueError(f"not a plan lock (format {data.get('format')!r}, expected {LOCK_FORMAT})")
    return PlanLock(
        pipeline=str(data["pipeline"]),
        model_hash=str(data["model_hash"]),
        model_version=str(data["model_version"]),
        plan_hash=str(data["plan_hash"]),
        objective=str(data["objective"]),
        bottleneck_s=float(data["bottleneck_s"]),
        stages=tuple(
            LockedStage(
                int(s["index"]),
                int(s["first_block"]),
                int(s["last_block"]),
                str(s["first_layer"]),
                str(s["last_layer"]),
                str(s["node"]),
            )
            for s in data["stages"]
        ),
    )


def read_lock(path: str | Path) -> PlanLock | None:
    """The lock at `path`, or None when there is none; ValueError when it is not a lock."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return lock_from_dict(json.loads(path.read_text()))
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a valid plan lock ({error})") from error


def write_lock(path: str | Path, plan: Plan) -> Path:
    path = Path(path)
    path.write_text(lock_from_plan(plan).to_json())
    return path
