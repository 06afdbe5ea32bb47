"""The memory model: what a stage process (and the dispatcher) really holds at its peak, per backend.

Why measured and not derived: a kubelet kills a container above its memory limit, and the limit is the
plan's figure, so the figure must be what the process holds, not what its parameters add up to. A
TensorFlow stage holds about 700 MiB before it loads one weight; LiteRT's XNNPACK delegate repacks every
weight into its own layout (so fp32 weights are resident twice: the flatbuffer and the packed copy) and
sizes an activation arena once. None of that is in a parameter count.

The figures are the peak resident size (VmHWM) of real stage processes streaming real requests, fitted
per backend and precision by `seifer bench memory` (seifer_iac/bench/memory.py) on partitions of
MobileNetV2, ResNet50, EfficientNetB0 and DenseNet121, on linux/amd64 with CPython 3.11:

    peak = base + per_weight_byte * W + per_activation_byte * A + (queue_depth + 1) * (in + out)

where W is the partition's fp32 parameter bytes (the profile's), A its largest block's peak activation
bytes, and in/out the raw bytes of its input and output tensors (frames queued and in hand; an upper
bound on encoded frames). `headroom` then covers what varies from run to run (allocator arenas, thread
stacks, page-cache pages of the shared libraries): the limit is the fitted peak times (1 + headroom).
The test tests/e2e/test_memory_limits.py runs real stages of three models under every backend and
precision and checks that each process's peak lies between 60 % of its limit and the limit.

`RAW` prices memory the way the research did (parameters + activations + buffers, no process): the
placement benchmark uses it so its figures stay comparable with the papers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class MemoryModel:
    """Resident bytes of one process kind; see the module docstring for the formula and its source."""

    base_bytes: int
    per_weight_byte: float
    per_activation_byte: float
    headroom: float = 0.0

    def stage_bytes(
        self, param_bytes: int, peak_activation_bytes: int, buffer_bytes: int, extra_bytes: int = 0
    ) -> int:
        """The limit for a stage: the fitted peak, with headroom, plus the spec's optional extra."""
        fitted = (
            self.base_bytes
            + self.per_weight_byte * param_bytes
            + self.per_activation_byte * peak_activation_bytes
            + buffer_bytes
        )
        return math.ceil(fitted * (1.0 + self.headroom)) + extra_bytes


RAW = MemoryModel(base_bytes=0, per_weight_byte=1.0, per_activation_byte=1.0)

# (backend, precision) -> measured model: fitted by `seifer bench backends --fit` on 2026-11-30 (linux/amd64,
# CPython 3.11, ai-edge-litert 2.3.0; 14 partitions of 4 models per LiteRT row, 10 for TensorFlow; the worst
# measured peak was 0.95-1.09x the fitted one, and headroom is that plus 5 %).
MEASURED: dict[tuple[str, str], MemoryModel] = {
    ("litert", "fp32"): MemoryModel(
        77_175_000, per_weight_byte=2.086, per_activation_byte=1.671, headroom=0.09
    ),
    ("litert", "fp16"): MemoryModel(
        80_007_000, per_weight_byte=1.558, per_activation_byte=1.707, headroom=0.14
    ),
    ("litert", "int8"): MemoryModel(
        77_700_000, per_weight_byte=0.558, per_activation_byte=1.831, headroom=0.07
    ),
    ("tensorflow", "fp32"): MemoryModel(
        707_057_000, per_weight_byte=3.177, per_activation_byte=1.795, headroom=0.07
    ),
}

# The dispatcher: the runtime without a backend (measured 71-72 MiB at rest), plus every in-flight request's
# input and output (kept for replay after a stage failure), held twice while decoding.
DISPATCHER = MemoryModel(base_bytes=75_500_000, per_weight_byte=0.0, per_activation_byte=0.0, headroom=0.1)


def stage_model(backend: str, precision: str) -> MemoryModel:
    """The measured model of a stage process; ValueError for a pair that does not exist."""
    try:
        return MEASURED[(backend, precision)]
    except KeyError:
        known = ", ".join(f"{b}/{p}" for b, p in sorted(MEASURED))
        raise ValueError(
            f"no memory model for backend {backend!r} at {precision!r} (known: {known})"
        ) from None


def dispatcher_bytes(max_in_flight: int, input_bytes: int, output_bytes: int) -> int:
    """The dispatcher's limit: its base plus two copies of every in-flight request's tensors."""
    return DISPATCHER.stage_bytes(0, 0, 2 * max_in_flight * (input_bytes + output_bytes))
