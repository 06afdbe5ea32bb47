"""Seeded benchmark clusters as pipeline specs: a gateway (dispatcher, no stages) plus N worker nodes.

Why this shape. The research's emulator placed nodes uniformly in a 150 m square with Wi-Fi-like links of
log2(1 + 283230 / d^2) Mbit/s; links in the 3-18 Mbit/s range keep the chain communication-bound (a
224x224x3 float input takes 0.3-1.5 s to cross, far above the ~20-50 ms of TF compute and the JSON cost
of the HTTP API), which is what the plan's link-only prediction describes. The gateway stands at the
square's centre, as an access point would. Clusters are NESTED: the cluster of size n is the first n
workers of one seeded sequence, so a bigger cluster only ever adds options and a size sweep compares like
with like. Memory is tight on purpose: worker 1 is "big" (holds the whole model: the one-device baseline)
and every other worker is "small" (holds about half of it), so more nodes make other chains possible and
the planner can put the first hop on a better-connected node.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seifer_iac.spec import Spec, spec_from_data

MAX_WORKERS = 20
GATEWAY = "gateway"
WIFI_CONSTANT = 283230.0  # the research's log2(1 + c / d^2) Mbit/s model
MIN_DISTANCE_M = 1.0


@dataclass(frozen=True)
class BenchModel:
    """The model to serve: a keras.applications name or a .keras file (for tests), with its input shape."""

    application: str | None = "MobileNetV2"
    file: str | None = None
    input_shape: tuple[int, ...] = (224, 224, 3)
    seed: int = 7  # MobileNetV2 seed 7 is the dev stack's: its profile is usually cached already
    version: str = "1"

    @property
    def label(self) -> str:
        return self.application or Path(self.file or "?").stem


@dataclass(frozen=True)
class ClusterShape:
    """What to generate. Memory strings are Kubernetes quantities; `fixed_bandwidth` (e.g. "8Mbps")
    replaces the distance model with one rate for every pair (tests, or a controlled setting)."""

    workers: int
    seed: int = 1
    side_m: float = 150.0
    big_memory: str = "512Mi"
    small_memory: str = "352Mi"
    reserved: str = "16Mi"
    memory_overhead: str = "0"
    fixed_bandwidth: str | None = None
    worker_speed: str | None = None  # e.g. "4GFLOPS" (Raspberry-Pi class); None: planner.referenceSpeed
    gateway_speed: str | None = None
    uniform_memory: bool = False  # every worker gets big_memory (a compute-bound sweep: memory never binds)
    objective: str = "communication"
    medium: str = "switched"  # cluster.bandwidth.medium: switched | shared (one Wi-Fi channel's airtime)

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers must be within 1..{MAX_WORKERS}, got {self.workers}")


@dataclass(frozen=True)
class RunChoices:
    """Runtime choices of one benchmark run (codec object as in the spec, dispatcher deadline)."""

    codec: Any = "none"
    deadline: str = "30s"
    port: int = 8080
    queue_depth: int = 2


def worker_names(count: int) -> tuple[str, ...]:
    return tuple(f"n{i:02d}" for i in range(1, count + 1))


def positions(shape: ClusterShape) -> dict[str, tuple[float, float]]:
    """Gateway at the centre; workers uniform in the square, drawn in order (so clusters nest)."""
    rng = random.Random(shape.seed)
    drawn = [(rng.uniform(0, shape.side_m), rng.uniform(0, shape.side_m)) for _ in range(MAX_WORKERS)]
    found = {GATEWAY: (shape.side_m / 2, shape.side_m / 2)}
    found.update(zip(worker_names(shape.workers), drawn, strict=False))
    return found


def wifi_bits_per_s(distance_m: float) -> float:
    """The research's bandwidth model: log2(1 + 283230 / d^2) Mbit/s (d clamped to 1 m)."""
    d = max(MIN_DISTANCE_M, distance_m)
    return math.log2(1.0 + WIFI_CONSTANT / (d * d)) * 1e6


def pair_rates(shape: ClusterShape) -> dict[tuple[str, str], float]:
    """Bits per second per unordered pair (a < b by name order of the generated list); symmetric links."""
    where = positions(shape)
    names = list(where)
    rates = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rates[(a, b)] = wifi_bits_per_s(math.dist(where[a], where[b]))
    return rates


def _mbps(bits_per_s: float) -> str:
    return f"{bits_per_s / 1e6:.4f}Mbps"


def spec_data(name: str, shape: ClusterShape, model: BenchModel, run: RunChoices) -> dict[str, Any]:
    """The pipeline spec document (what a user would write in YAML) for this cluster."""
    gateway: dict[str, Any] = {"name": GATEWAY, "memory": "4Gi", "schedulable": False}
    if shape.gateway_speed:
        gateway["speed"] = shape.gateway_speed
    nodes: list[dict[str, Any]] = [gateway]
    for i, worker in enumerate(worker_names(shape.workers)):
        memory = shape.big_memory if i == 0 or shape.uniform_memory else shape.small_memory
        node: dict[str, Any] = {"name": worker, "memory": memory, "reserved": shape.reserved}
        if shape.worker_speed:
            node["speed"] = shape.worker_speed
        nodes.append(node)
    if shape.fixed_bandwidth:
        bandwidth: dict[str, Any] = {"default": shape.fixed_bandwidth}
    else:
        links = [{"from": a, "to": b, "bandwidth": _mbps(r)} for (a, b), r in pair_rates(shape).items()]
        bandwidth = {"links": links}
    if shape.medium != "switched":
        bandwidth["medium"] = shape.medium
    source: dict[str, Any] = {"version": model.version, "inputShape": list(model.input_shape)}
    if model.application:
        source.update(application=model.application, seed=model.seed)
    else:
        source["file"] = model.file
    return {
        "apiVersion": "seifer.dev/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": name, "namespace": "bench"},
        "model": source,
        "cluster": {"nodes": nodes, "bandwidth": bandwidth},
        "dispatcher": {"node": GATEWAY, "port": run.port, "deadline": run.deadline},
        "runtime": {
            "image": "seifer-runtime:bench",
            "codec": run.codec,
            "queueDepth": run.queue_depth,
            "memoryOverhead": shape.memory_overhead,
        },
        "planner": {"objective": shape.objective, "maxStages": max(8, shape.workers)},
        "weights": {"maxTotal": "128Mi"},
    }


def build_spec(
    name: str, shape: ClusterShape, model: BenchModel, run: RunChoices, base_dir: Path | None = None
) -> Spec:
    """A validated Spec (`base_dir` resolves a model file; `source_path` stays unset: no plan lock)."""
    return spec_from_data(spec_data(name, shape, model, run), source=f"<bench {name}>", base_dir=base_dir)


def codec_label(codec: Any) -> str:
    """'none', 'lz4', 'zfp16' (fixed rate 16) for tables."""
    if isinstance(codec, str):
        return codec
    if codec.get("name") == "zfp" and codec.get("mode", "rate") == "rate":
        return f"zfp{codec.get('rate', 16):g}"
    return str(codec.get("name"))
