"""The pipeline spec as frozen values: what every later step (planner, manifests, runners) reads.

Units are parsed once here (bytes, bits per second, FLOP/s, seconds) so no other module ever sees a string
like "512Mi" and every consumer agrees on what it means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    """One machine of the cluster."""

    name: str
    memory_bytes: int
    flops_per_s: float
    reserved_bytes: int = 0
    schedulable: bool = True
    arch: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    cpus: float = 1.0
    speed_absolute: bool = False  # the spec writes this node's speed in FLOPS, not relative: measured
    #                               speeds of it are written the same way (seifer_iac/probe/measured.py)

    @property
    def usable_memory_bytes(self) -> int:
        """Memory a stage may use: the node's memory less what the spec reserves for the OS and kubelet."""
        return self.memory_bytes - self.reserved_bytes


@dataclass(frozen=True)
class Link:
    """A directed link's bandwidth in bits per second."""

    source: str
    target: str
    bits_per_s: float


@dataclass(frozen=True)
class Cluster:
    """Nodes plus a complete directed bandwidth table (explicit links override the default).

    `bandwidth(a, b)` is 0.0 where there is no link (no default and no explicit value) and +inf from a node to
    itself, so a stage on the dispatcher's node costs nothing to reach.
    """

    nodes: tuple[Node, ...]
    links: tuple[Link, ...] = ()
    default_bits_per_s: float | None = None
    medium: str = "switched"  # or "shared": all transfers share one channel (cluster.bandwidth.medium)
    _table: dict[tuple[str, str], float] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    _by_name: dict[str, Node] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        table = {(link.source, link.target): link.bits_per_s for link in self.links}
        object.__setattr__(self, "_table", table)
        by_name: dict[str, Node] = {}
        for node in self.nodes:
            by_name.setdefault(node.name, node)  # the first of a repeated name, as a scan would find
        object.__setattr__(self, "_by_name", by_name)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def node(self, name: str) -> Node:
        """The node of that name, in constant time (thousands of nodes are looked up per plan)."""
        return self._by_name[name]

    def bandwidth(self, source: str, target: str) -> float:
        """Bits per second from source to target."""
        if source == target:
            return math.inf
        found = self._table.get((source, target))
        if found is not None:
            return found
        return self.default_bits_per_s or 0.0

    def without(self, names: frozenset[str] | set[str]) -> Cluster:
        """The cluster less some nodes (lost or cordoned), for re-planning."""
        return Cluster(
            nodes=tuple(n for n in self.nodes if n.name not in names),
            links=tuple(lk for lk in self.links if lk.source not in names and lk.target not in names),
            default_bits_per_s=self.default_bits_per_s,
            medium=self.medium,
        )


ZFP_SHORT_HEADER_BITS = 96  # magic 32 + field 52 + short mode 12
ZFP_LONG_HEADER_BITS = 148  # magic 32 + field 52 + long mode 64 (blocks of more than 2048 bits)
ZFP_SHORT_MODE_MAX_BITS = 2048
# zfp codes a float32 block in at least 1 + 8 bits (a flag and the common exponent) and raises a smaller
# fixed rate to that, but zfpy sizes its output buffer from the rate as given: below 9 bits per block it
# writes past the buffer and the process dies (SIGSEGV or a malloc abort; measured with zfpy 1.0.1 on
# 1-D..4-D float32 arrays: rate 2.124 crashes a 1-D array and 2.125 works, 0.53/0.55 for 2-D, 0.13/0.1406
# for 3-D, 0.0332/0.035 for 4-D).
ZFP_MIN_BLOCK_BITS = 9


def zfp_dims(shape: tuple[int, ...]) -> list[int]:
    """The axes zfp sees for a tensor, as the runtime codes it (runtime/codecs.py): size-1 axes dropped,
    leading axes folded so at most 4 remain."""
    dims = [n for n in shape if n != 1] or [1]
    if len(dims) > 4:
        dims = [math.prod(dims[:-3]), *dims[-3:]]
    return dims


def zfp_block_bits(rate: float, ndims: int) -> int:
    """Bits zfp gives each block of 4^ndims values at a fixed rate (zfp_stream_set_rate rounds)."""
    return math.floor(rate * 4**ndims + 0.5)


def zfp_min_rate(ndims: int) -> float:
    """The lowest fixed rate zfpy codes an ndims-dimensional float32 array at without crashing."""
    return (ZFP_MIN_BLOCK_BITS - 0.5) / 4**ndims


ZFP_MIN_RATE = zfp_min_rate(4)  # no tensor of any shape codes below this


def zfp_fixed_rate_bytes(shape: tuple[int, ...], rate: float) -> int:
    """Exact size of zfpy's fixed-rate stream for a tensor, as the runtime codes it (runtime/codecs.py):
    zfp's axes (zfp_dims) each padded to a multiple of 4, every block of 4^d values coded in
    round(rate * 4^d) bits, header first, padded to 64-bit words."""
    dims = zfp_dims(shape)
    blocks = math.prod(-(-n // 4) for n in dims)
    block_bits = zfp_block_bits(rate, len(dims))
    header = ZFP_SHORT_HEADER_BITS if block_bits <= ZFP_SHORT_MODE_MAX_BITS else ZFP_LONG_HEADER_BITS
    return math.ceil((header + blocks * block_bits) / 64) * 8


@dataclass(frozen=True)
class Codec:
    """How activations are encoded on the wire.

    `ratio` is the compression ratio the planner assumes (original / encoded bytes). It is exact for `none`
    (1.0); for lz4 and the non-fixed ZFP modes it is an estimate the spec may set. Fixed-rate ZFP is exact
    when the tensor's shape is known: zfp codes blocks of 4 values per axis, so a 224x224x3 image is coded
    as 224x224x4 (a third more than 32 / rate suggests), plus a 16-byte stream header.
    """

    name: str = "none"
    mode: str | None = None
    rate: float | None = None
    precision: int | None = None
    tolerance: float | None = None
    ratio: float = 1.0

    def wire_bytes(self, raw_bytes: int, shape: tuple[int, ...] | None = None) -> int:
        """Bytes that cross the network for a raw float32 tensor of raw_bytes (of `shape`, if known)."""
        if self.name == "zfp" and self.mode == "rate" and self.rate and shape:
            return zfp_fixed_rate_bytes(shape, self.rate)
        return math.ceil(raw_bytes / self.ratio)

    def as_config(self) -> dict[str, object]:
        """The codec object of the stage config contract (docs/CONTRACTS.md)."""
        config: dict[str, object] = {"name": self.name}
        if self.name == "zfp":
            config["mode"] = self.mode
            if self.mode in ("rate", "precision", "tolerance"):
                config[self.mode] = getattr(self, self.mode)
        return config


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: exactly one of application, file, profile."""

    application: str | None = None
    file: str | None = None
    profile: str | None = None
    input_shape: tuple[int, ...] | None = None
    version: str = "1"
    seed: int = 0

    @property
    def label(self) -> str:
        return self.application or self.file or self.profile or "?"


@dataclass(frozen=True)
class Dispatcher:
    node: str
    port: int = 8080
    allow_from: tuple[str, ...] = ()
    deadline_s: float = 10.0
    max_in_flight: int = 64


BACKENDS = ("litert", "tensorflow")
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class Runtime:
    """How the stages run. `backend` litert runs a converted .tflite flatbuffer at `precision`;
    tensorflow runs the Keras partition (fp32 only). `memory_overhead_bytes` is an optional extra on top of
    the backend's measured memory model (seifer_iac/planner/memory.py)."""

    image: str
    codec: Codec
    queue_depth: int = 2
    memory_overhead_bytes: int = 0
    image_pull_policy: str = "IfNotPresent"  # the loader's default: IfNotPresent with a digest, else Always
    backend: str = "litert"
    precision: str = "fp32"
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    encryption: str = "curve"  # curve | none: ZeroMQ CURVE on every hop, keys from a Secret

    @property
    def architectures(self) -> tuple[str, ...]:
        """The kubernetes.io/arch values the image runs on ("linux/arm64" -> "arm64")."""
        return tuple(platform.split("/")[1] for platform in self.platforms)


@dataclass(frozen=True)
class PlannerOptions:
    objective: str = "full"
    time_budget_s: float = 2.0
    stability_margin: float = 0.05
    max_stages: int | None = None
    seed: int = 0
    on_node_loss: str = "repair"  # repair: move only the lost stages (within repair_margin); replan
    repair_margin: float = 0.10
    reference_flops_per_s: float = 1e10  # planner.referenceSpeed: what a relative speed of 1.0 means


@dataclass(frozen=True)
class WeightsOptions:
    delivery: str = "configmap"
    chunk_bytes: int = 768 * 1024
    max_configmap_total_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Monitoring:
    """Who may reach the pods' HTTP ports (health, /metrics) besides the kubelet."""

    namespaces: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    """A validated pipeline spec. `source_path` is where it was read from (plan lock lives beside it)."""

    name: str
    namespace: str
    create_namespace: bool
    model: ModelSource
    cluster: Cluster
    dispatcher: Dispatcher
    runtime: Runtime
    planner: PlannerOptions
    weights: WeightsOptions
    source_path: str | None = None
    monitoring: Monitoring = field(default_factory=Monitoring)
