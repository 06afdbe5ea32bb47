"""Small pure helpers for the deploy tests: hand-made plans, blobs back from artifacts, object indexes."""

from __future__ import annotations

import dataclasses
from typing import Any

from seifer_iac.artifacts import PartitionArtifact
from seifer_iac.planner.plan import Plan, Stage


def blobs_of(artifacts: tuple[PartitionArtifact, ...]) -> list[bytes]:
    """The partition blobs an artifact list was cut from (chunks joined back in order)."""
    return [b"".join(chunk.data for chunk in artifact.chunks) for artifact in artifacts]


def by_key(manifests: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def hand_plan(plan: Plan, ranges: list[tuple[int, int, str, tuple[str, ...]]], **changes: Any) -> Plan:
    """A plan with the given (first_block, last_block, node, backups) stages, other figures copied."""
    template = plan.stages[0]
    stages = tuple(
        dataclasses.replace(
            template,
            index=i,
            first_block=first,
            last_block=last,
            node=node,
            backups=backups,
            param_bytes=1000 * i,
        )
        for i, (first, last, node, backups) in enumerate(ranges, 1)
    )
    return dataclasses.replace(plan, stages=stages, **changes)


def stage(plan: Plan, index: int) -> Stage:
    return plan.stages[index - 1]
