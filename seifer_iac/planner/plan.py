"""The Plan value: which blocks run where, and what the cost model predicts for it.

Everything downstream (manifests, Pulumi exports, the local runner, `seifer plan --format json`) reads this
one value, so its JSON form is stable and its hash identifies the placement.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    """Blocks first_block..last_block (inclusive, 0-based) of the profile, placed on `node`."""

    index: int  # 1-based position in the chain
    first_block: int
    last_block: int
    first_layer: str
    last_layer: str
    node: str
    backups: tuple[str, ...]
    memory_bytes: int
    memory_available_bytes: int
    param_bytes: int
    flops: int
    compute_s: float
    bytes_in: int  # wire bytes received from the previous hop
    bytes_out: int  # wire bytes sent to the next hop
    link_out_s: float  # time of the outgoing link (to the next stage or back to the dispatcher)
    overhead_s: float = 0.0  # relay and codec work per request (decode input, encode output, fixed)


@dataclass(frozen=True)
class Plan:
    pipeline: str
    model_hash: str
    model_version: str
    dispatcher_node: str
    objective: str
    stages: tuple[Stage, ...]
    input_link_s: float  # dispatcher -> stage 1
    bottleneck_s: float
    bottleneck: str  # what sets it, e.g. "link pi-1 -> pi-2" or "stage 2 compute on pi-2"
    latency_s: float
    lower_bound_s: float
    algorithm: str
    proven_optimal: bool
    budget_exhausted: bool = False  # the search stopped at planner.timeBudget (see gap, algorithm)
    image: str = ""  # the runtime image every pod runs (a change rolls every pod)
    dispatcher_memory_bytes: int = 0  # counted on the dispatcher's node beside any stage there

    @property
    def throughput_per_s(self) -> float:
        return 1.0 / self.bottleneck_s if self.bottleneck_s > 0 else float("inf")

    @property
    def gap(self) -> float:
        """Relative distance to the proven lower bound (0.0 when proven optimal)."""
        if self.proven_optimal or self.lower_bound_s <= 0:
            return 0.0
        return max(0.0, self.bottleneck_s / self.lower_bound_s - 1.0)

    @property
    def placement(self) -> tuple[tuple[int, int, str], ...]:
        """(first_block, last_block, node) per stage: what the plan hash and the lock identify."""
        return tuple((s.first_block, s.last_block, s.node) for s in self.stages)

    @property
    def plan_hash(self) -> str:
        """Identifies the placement of this model version (not the predicted figures, which jitter)."""
        key = json.dumps(
            {"model": self.model_hash, "version": self.model_version, "placement": self.placement},
            sort_keys=True,
        )
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form of `seifer plan --format json` (documented in the README)."""
        return {
            "pipeline": self.pipeline,
            "model_hash": self.model_hash,
            "model_version": self.model_version,
            "dispatcher_node": self.dispatcher_node,
            "dispatcher_memory_bytes": self.dispatcher_memory_bytes,
            "image": self.image,
            "objective": self.objective,
            "algorithm": self.algorithm,
            "proven_optimal": self.proven_optimal,
            "budget_exhausted": self.budget_exhausted,
            "bottleneck_s": self.bottleneck_s,
            "bottleneck": self.bottleneck,
            "throughput_per_s": self.throughput_per_s,
            "latency_s": self.latency_s,
            "lower_bound_s": self.lower_bound_s,
            "gap": self.gap,
            "input_link_s": self.input_link_s,
            "plan_hash": self.plan_hash,
            "stages": [
                {
                    "index": s.index,
                    "node": s.node,
                    "backups": list(s.backups),
                    "first_block": s.first_block,
                    "last_block": s.last_block,
                    "first_layer": s.first_layer,
                    "last_layer": s.last_layer,
                    "memory_bytes": s.memory_bytes,
                    "memory_available_bytes": s.memory_available_bytes,
                    "param_bytes": s.param_bytes,
                    "flops": s.flops,
                    "compute_s": s.compute_s,
                    "overhead_s": s.overhead_s,
                    "bytes_in": s.bytes_in,
                    "bytes_out": s.bytes_out,
                    "link_out_s": s.link_out_s,
                }
                for s in self.stages
            ],
        }
