"""The plan lock: the accepted plan, committed next to the spec as JSON (schemas/plan-lock.schema.json).

`stacks/dev.pipeline.yaml` -> `stacks/dev.pipeline.lock.json`. It records everything whose change would
roll a pod: per stage the block range (and its first/last layer), the node, the backups (the pod's
required node affinity) and the memory (the pod's limit); the image; the dispatcher's node and memory;
the model hash and version. `seifer plan --check` compares this content, not a hash, so a moved backup
or a new image is as visible as a moved stage (see `stability` and `diff`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.plan import Plan
from seifer_iac.planner.problem import Placement
from seifer_iac.spec.errors import field_path

LOCK_FORMAT = "seifer.plan-lock/v2"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "plan-lock.schema.json"
REGENERATE = "fix it or regenerate it with seifer plan SPEC --write-lock"
# Recorded for people, not compared: they jitter with bandwidth or follow from the rest.
INFORMATIONAL = ("bottleneck_s", "objective", "plan_hash")


class LockError(PlanningError, ValueError):
    """A lock file that is not a valid lock: one line naming the file and the field. A PlanningError, so
    `seifer render`, `seifer up` and the Pulumi program report it as one line too."""


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
    backups: tuple[str, ...] = ()
    memory_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "first_block": self.first_block,
            "last_block": self.last_block,
            "first_layer": self.first_layer,
            "last_layer": self.last_layer,
            "node": self.node,
            "backups": list(self.backups),
            "memory_bytes": self.memory_bytes,
        }


@dataclass(frozen=True)
class PlanLock:
    pipeline: str
    model_hash: str
    model_version: str
    plan_hash: str
    objective: str
    bottleneck_s: float
    stages: tuple[LockedStage, ...]
    image: str = ""
    dispatcher_node: str = ""
    dispatcher_memory_bytes: int = 0

    @property
    def placement(self) -> Placement:
        return tuple((s.first_block, s.last_block, s.node) for s in self.stages)

    @property
    def backups(self) -> tuple[tuple[str, ...], ...]:
        return tuple(s.backups for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LOCK_FORMAT,
            "pipeline": self.pipeline,
            "model_hash": self.model_hash,
            "model_version": self.model_version,
            "image": self.image,
            "plan_hash": self.plan_hash,
            "objective": self.objective,
            "bottleneck_s": self.bottleneck_s,
            "dispatcher": {"node": self.dispatcher_node, "memory_bytes": self.dispatcher_memory_bytes},
            "stages": [s.to_dict() for s in self.stages],
        }

    def rolling_content(self) -> dict[str, Any]:
        """What the pods are made of: equal content, nothing rolls (the figures in INFORMATIONAL aside)."""
        return {k: v for k, v in self.to_dict().items() if k not in INFORMATIONAL}

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
            LockedStage(
                s.index,
                s.first_block,
                s.last_block,
                s.first_layer,
                s.last_layer,
                s.node,
                s.backups,
                s.memory_bytes,
            )
            for s in plan.stages
        ),
        image=plan.image,
        dispatcher_node=plan.dispatcher_node,
        dispatcher_memory_bytes=plan.dispatcher_memory_bytes,
    )


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def lock_problem(data: Any) -> str | None:
    """The first schema violation as 'field <path>: <what>', or None for a valid lock."""
    if isinstance(data, dict) and data.get("format") != LOCK_FORMAT:
        found = data.get("format")
        return f"field format: {json.dumps(found)[:40]} is not {LOCK_FORMAT}"
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return None
    error = errors[0]
    return f"field {field_path(error.absolute_path)}: {error.message[:120]}"


def lock_from_dict(data: Any) -> PlanLock:
    """The lock of a parsed JSON document; LockError naming the field when it is not a valid lock."""
    problem = lock_problem(data)
    if problem:
        raise LockError(f"not a valid plan lock: {problem}; {REGENERATE}")
    for i, s in enumerate(data["stages"]):
        if s["index"] != i + 1 or s["first_block"] > s["last_block"]:
            raise LockError(
                f"not a valid plan lock: field stages[{i}]: numbered 1.. in chain order; {REGENERATE}"
            )
    dispatcher = data["dispatcher"]
    return PlanLock(
        pipeline=data["pipeline"],
        model_hash=data["model_hash"],
        model_version=data["model_version"],
        plan_hash=data["plan_hash"],
        objective=data["objective"],
        bottleneck_s=float(data["bottleneck_s"]),
        stages=tuple(
            LockedStage(
                s["index"],
                s["first_block"],
                s["last_block"],
                s["first_layer"],
                s["last_layer"],
                s["node"],
                tuple(s["backups"]),
                s["memory_bytes"],
            )
            for s in data["stages"]
        ),
        image=data["image"],
        dispatcher_node=dispatcher["node"],
        dispatcher_memory_bytes=dispatcher["memory_bytes"],
    )


def read_lock(path: str | Path) -> PlanLock | None:
    """The lock at `path`, or None when there is none; LockError (one line naming the file and the field)
    when it is not a valid lock."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise LockError(
            f"{path}: not a valid plan lock: not JSON ({str(error)[:80]}); {REGENERATE}"
        ) from None
    try:
        return lock_from_dict(data)
    except LockError as error:
        raise LockError(f"{path}: {error}") from None


def write_lock(path: str | Path, plan: Plan) -> Path:
    path = Path(path)
    path.write_text(lock_from_plan(plan).to_json())
    return path
