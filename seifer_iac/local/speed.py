"""Node speeds as CPU quotas, and time dilation when the host has too few cores for the cluster.

A node of the spec computes `flops_per_s`; one core of this host computes `host_flops_per_s` on the same
blocks (measured by `calibrate`). A node therefore needs `flops_per_s / host_flops_per_s` host cores, shared
by every process on it (a CFS quota on the node's cgroup). When the nodes together need more than the host
can give (keeping headroom for the dispatcher's HTTP, the load generator and the kernel), or one node needs
more cores than it has (`Node.cpus`), the whole emulation runs k times slower: every quota and every link
rate divided by k, every deadline and timeout multiplied by k; measured rates are then multiplied by k (and
latencies divided by k) and labelled as dilated. Pure functions; the runner applies them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from seifer_iac.spec.model import Node

TIME_KEYS = {"deadlineSeconds": float, "attemptTimeoutSeconds": float, "heartbeatMs": int}


@dataclass(frozen=True)
class Dilation:
    """How much slower the emulation runs than the spec's cluster would (1.0: real time)."""

    factor: float
    automatic: bool
    demand_cores: float  # host cores the nodes need at their real speed
    usable_cores: float  # host cores left for the nodes after headroom

    @property
    def label(self) -> str:
        if self.factor == 1.0:
            return "real time (no dilation)"
        return f"dilated x{self.factor:g} (figures scaled back)"

    def describe(self) -> str:
        how = "chosen automatically" if self.automatic else "as asked"
        return (
            f"time dilation k={self.factor:g} ({how}): the nodes need {self.demand_cores:.2f} host cores "
            f"at their speed, {self.usable_cores:.2f} are usable here; quotas and link rates / k, "
            "deadlines x k, reported throughput x k and latency / k"
        )


def host_cores() -> float:
    """Cores this process may run on (affinity), the count a quota plan can rely on."""
    try:
        return float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return float(os.cpu_count() or 1)


def headroom_cores(cores: float) -> float:
    """Kept free for what runs outside the nodes' quotas: the load generator, the kernel, this process."""
    return max(0.5, 0.25 * cores)


def node_cores(node: Node, host_flops_per_s: float) -> float:
    """Host cores that make `node` as fast as the spec says (before dilation)."""
    if host_flops_per_s <= 0:
        raise ValueError("host speed must be positive")
    return node.flops_per_s / host_flops_per_s


def choose_dilation(
    nodes: Iterable[Node], host_flops_per_s: float, cores: float, requested: float | None = None
) -> Dilation:
    """k from the host's cores with headroom (rounded up to a tenth), or the user's k."""
    chosen = list(nodes)
    demand = sum(node_cores(n, host_flops_per_s) for n in chosen)
    usable = max(0.25, cores - headroom_cores(cores))
    if requested is not None:
        if requested < 1:
            raise ValueError(f"dilation must be at least 1, got {requested:g}")
        return Dilation(float(requested), False, demand, usable)
    per_node = max((node_cores(n, host_flops_per_s) / n.cpus for n in chosen), default=0.0)
    need = max(1.0, demand / usable, per_node)
    return Dilation(math.ceil(need * 10 - 1e-9) / 10, True, demand, usable)


def node_quotas(nodes: Iterable[Node], host_flops_per_s: float, dilation: float) -> dict[str, float]:
    """Host cores per node's cgroup: its speed over one core's, / k, never more than the node's `cpus`."""
    return {n.name: min(n.cpus, node_cores(n, host_flops_per_s) / dilation) for n in nodes}


def slower_than_spec(nodes: Iterable[Node], host_flops_per_s: float, dilation: float) -> list[str]:
    """Nodes the quota cannot make fast enough (their `cpus` caps them): named in a warning."""
    return [n.name for n in nodes if node_cores(n, host_flops_per_s) / dilation > n.cpus * (1 + 1e-9)]


def dilate_config(document: Mapping[str, object], factor: float) -> dict[str, object]:
    """A runtime config with its deadlines, attempt timeouts and heartbeats stretched by k."""
    out = dict(document)
    for key, kind in TIME_KEYS.items():
        value = out.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = kind(round(value * factor)) if kind is int else float(value) * factor
    return out
