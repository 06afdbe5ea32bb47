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
MEDIA = ("switched", "shared")


@dataclass(frozen=True)
class HopCosts:
    """What a stage's process spends per request besides its layers: a fixed cost per hop (receive, relay,
    send) plus receiving and decoding its input and encoding and sending its output, per raw (decoded)
    byte. Measured on a real stage process by `seifer bench hops` (see seifer_iac/planner/hop_costs.py) on a
    host whose cores compute `host_flops_per_s`; all of it is CPU work, so a node of speed s pays these
    seconds x host_flops_per_s / s (0: the seconds as they are, unscaled)."""

    fixed_s: float = 0.0
    decode_s_per_byte: float = 0.0
    encode_s_per_byte: float = 0.0
    host_flops_per_s: float = 0.0

    def __post_init__(self) -> None:
        if min(self.fixed_s, self.decode_s_per_byte, self.encode_s_per_byte, self.host_flops_per_s) < 0:
            raise ValueError("hop costs must be >= 0")

    def scale(self, flops_per_s: float) -> float:
        """How much longer than on the measuring host this work takes on a node of `flops_per_s`."""
        if self.host_flops_per_s <= 0 or flops_per_s <= 0:
            return 1.0
        return self.host_flops_per_s / flops_per_s


@dataclass(frozen=True)
class CostModel:
    """How to price a placement.

    `objective` "full" counts compute and links; "communication" ignores compute, as the research did.
    `dispatcher_links` False drops the dispatcher's input and output links from the objective (only the
    paper benchmark uses it, to resemble the research's figures). `memory` is the measured model of the
    stage process (a spec's backend and precision); the default, RAW, counts bytes as the research did.
    `hops` prices each stage's per-request relay and codec work (zero: the research's model). `medium`
    "switched": every link carries its own traffic, the link term is the slowest transfer; "shared" (one
    Wi-Fi channel): all transfers share the airtime, the link term is the SUM of the chain's transfer times.
    """

    codec: Codec = field(default_factory=Codec)
    queue_depth: int = 2
    memory_overhead_bytes: int = 0
    objective: str = "full"
    dispatcher_links: bool = True
    hops: HopCosts = field(default_factory=HopCosts)
    medium: str = "switched"
    memory: MemoryModel = RAW

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        if self.medium not in MEDIA:
            raise ValueError(f"medium must be one of {MEDIA}, not {self.medium!r}")
        if self.queue_depth < 0:
            raise ValueError("queue_depth must be >= 0")

    @classmethod
    def from_spec(cls, spec: Spec) -> CostModel:
        from seifer_iac.planner.hop_costs import measured_hop_costs

        return cls(
            codec=spec.runtime.codec,
            queue_depth=spec.runtime.queue_depth,
            memory_overhead_bytes=spec.runtime.memory_overhead_bytes,
            objective=spec.planner.objective,
            hops=measured_hop_costs(spec.runtime.codec, spec.runtime.encryption),
            medium=spec.cluster.medium,
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


def hop_work_s(cost: CostModel, in_raw_bytes: int, out_raw_bytes: int, flops_per_s: float) -> float:
    """A stage's relay and codec time per request on a node of `flops_per_s` (receive and decode its input,
    encode and send its output, at the measuring host's speed, scaled to the node's): zero for the
    "communication" objective. The search computes it in this same order (bit-identical)."""
    if cost.objective == "communication":
        return 0.0
    hops = cost.hops
    work = (hops.fixed_s + hops.decode_s_per_byte * in_raw_bytes) + hops.encode_s_per_byte * out_raw_bytes
    return work * hops.scale(flops_per_s)


def stage_cost_s(
    cost: CostModel, flops: int, flops_per_s: float, in_raw_bytes: int, out_raw_bytes: int
) -> float:
    """Everything the objective counts for one stage: compute plus relay and codec work."""
    return compute_cost_s(cost, flops, flops_per_s) + hop_work_s(
        cost, in_raw_bytes, out_raw_bytes, flops_per_s
    )


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
