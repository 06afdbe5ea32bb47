"""The cost model: what a stage needs in memory and how long its compute and its links take.

Every figure the planner reports comes from these few pure functions, so the search (which evaluates them
vectorised with numpy, using the same IEEE operations) and the plan it reports always agree.

Memory of a stage comes from the measured memory model of its backend and precision (planner/memory.py):
the process's base, what the backend holds per weight byte and per activation byte, plus the send/receive
buffers, plus the spec's optional `runtime.memoryOverhead`. Buffers: the worker's receive queue holds up to
`queue_depth` input tensors plus the one being computed, its send queue up to `queue_depth` outputs plus the
one being produced, so we count (queue_depth + 1) * (input bytes + output bytes) at their raw (decoded)
size, an upper bound on the encoded frames (PipeEdge likewise counts send and receive buffers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from seifer_iac.planner.memory import RAW, MemoryModel, stage_model
from seifer_iac.spec.model import Codec, Spec

OBJECTIVES = ("full", "communication")


@dataclass(frozen=True)
class CostModel:
    """How to price a placement.

    `objective` "full" counts compute and links; "communication" ignores compute, as the research did.
    `dispatcher_links` False drops the dispatcher's input and output links from the objective (only the
    paper benchmark uses it, to resemble the research's figures). `memory` is the measured model of the
    stage process (a spec's backend and precision); the default, RAW, counts bytes as the research did.
    """

    codec: Codec = field(default_factory=Codec)
    queue_depth: int = 2
    memory_overhead_bytes: int = 0
    objective: str = "full"
    dispatcher_links: bool = True
    memory: MemoryModel = RAW

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        if self.queue_depth < 0:
            raise ValueError("queue_depth must be >= 0")

    @classmethod
    def from_spec(cls, spec: Spec) -> CostModel:
        return cls(
            codec=spec.runtime.codec,
            queue_depth=spec.runtime.queue_depth,
            memory_overhead_bytes=spec.runtime.memory_overhead_bytes,
            objective=spec.planner.objective,
            memory=stage_model(spec.runtime.backend, spec.runtime.precision),
        )

    @property
    def buffer_factor(self) -> int:
        """Tensors of each direction held at once by a worker (queued + in hand)."""
        return self.queue_depth + 1


def stage_memory_bytes(
    cost: CostModel, param_bytes: int, peak_activation_bytes: int, in_bytes: int, out_bytes: int
) -> int:
    """Bytes a stage needs on its node (see the module docstring for what is counted and why)."""
    buffers = cost.buffer_factor * (in_bytes + out_bytes)
    return cost.memory.stage_bytes(param_bytes, peak_activation_bytes, buffers, cost.memory_overhead_bytes)


def compute_seconds(flops: int, flops_per_s: float) -> float:
    """Predicted compute time of `flops` on a node (what the stage table shows, whatever the objective)."""
    if flops == 0:
        return 0.0
    if flops_per_s <= 0:
        return math.inf
    return flops / flops_per_s


def compute_cost_s(cost: CostModel, flops: int, flops_per_s: float) -> float:
    """The compute time the objective counts: zero for "communication"."""
    if cost.objective == "communication":
        return 0.0
    return compute_seconds(flops, flops_per_s)


def link_seconds(
    cost: CostModel, raw_bytes: int, bits_per_s: float, shape: tuple[int, ...] | None = None
) -> float:
    """Time to send a raw tensor of `raw_bytes` (and `shape`, which makes fixed-rate ZFP exact) over a
    link: 0 on the same node, inf with no link."""
    if math.isinf(bits_per_s):
        return 0.0
    if bits_per_s <= 0:
        return math.inf
    return (cost.codec.wire_bytes(raw_bytes, shape) * 8.0) / bits_per_s


def mib(n_bytes: float) -> str:
    """Human figure for messages: '40.2 MiB'."""
    return f"{n_bytes / 2**20:.1f} MiB"
