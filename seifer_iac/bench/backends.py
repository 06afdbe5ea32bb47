"""`seifer bench backends`: TensorFlow against LiteRT fp32/fp16/int8, side by side, on real stage processes.

For each model, split into partitions at single-tensor cuts, and each backend and precision: the
partitions run as real stage processes behind a real dispatcher (`localchain`) and real requests
stream through them. Reported per partition: compute latency (the backend's runner in this process, median),
peak resident size (VmHWM of the stage process) against the limit the memory model gives it, and
start-to-ready time (spawn to /v2/health/ready); per model: throughput, and accuracy against the unsplit
Keras model over 300 inputs (max and mean absolute error of the logits, top-1 agreement; the partitions
chained in this process with the same runners the stages use).

`--fit` fits the memory model (seifer_iac/planner/memory.py) to the measured peaks: per backend and precision,
least squares of peak - buffers = base + a * weights + b * activations, and the headroom that covers the
largest measured peak, plus a margin.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seifer_iac.local.cgroups import vm_hwm_bytes
from seifer_iac.planner.cost import CostModel, stage_memory_bytes
from seifer_iac.planner.memory import MemoryModel, stage_model
from seifer_iac.profile import Profile

CASES: tuple[tuple[str, str], ...] = (
    ("tensorflow", "fp32"),
    ("litert", "fp32"),
    ("litert", "fp16"),
    ("litert", "int8"),
)
QUEUE_DEPTH = 2
ACCURACY_INPUTS = 300
MIB = 2**20


@dataclass(frozen=True)
class StageRow:
    model: str
    backend: str
    precision: str
    stage: int
    blocks: str
    weight_bytes: int
    activation_bytes: int
    buffer_bytes: int
    blob_bytes: int
    latency_ms: float
    peak_bytes: int
    limit_bytes: int
    ready_s: float


@dataclass(frozen=True)
class ModelRow:
    model: str
    backend: str
    precision: str
    stages: int
    throughput_per_s: float
    max_abs_error: float
    mean_abs_error: float
    relative_error: float
    top1_agreement: float
    dispatcher_peak_bytes: int


def balanced_ranges(profile: Profile, parts: int) -> list[tuple[int, int]]:
    """Block ranges that split the parameters into about equal parts (at least one block each)."""
    weights = np.cumsum([b.param_bytes for b in profile.blocks])
    n = len(profile.blocks)
    cuts = sorted({int(np.searchsorted(weights, weights[-1] * k / parts)) + 1 for k in range(1, parts)})
    cuts = [c for c in cuts if 0 < c < n]
    starts = [0, *cuts]
    return list(zip(starts, [c - 1 for c in cuts] + [n - 1], strict=True))


def _tensor(name: str, shape: Sequence[int], dtype: str) -> dict[str, Any]:
    from seifer_iac.manifests.configs import DATATYPES

    return {"name": name, "shape": list(shape), "datatype": DATATYPES.get(dtype, "FP32")}


def _stage_figures(profile: Profile, first: int, last: int) -> tuple[int, int, int]:
    blocks = profile.blocks[first : last + 1]
    inp = profile.input_bytes if first == 0 else profile.blocks[first - 1].output_bytes
    buffers = (QUEUE_DEPTH + 1) * (inp + blocks[-1].output_bytes)
    return sum(b.param_bytes for b in blocks), max(b.peak_activation_bytes for b in blocks), buffers


def _chain(runners: Sequence[Any], x: np.ndarray) -> np.ndarray:
    for run in runners:
        x = run(x)
    return x


def _median_latency_ms(run: Any, shape: tuple[int, ...], repeat: int) -> float:
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure_model(
    name: str,
    input_shape: tuple[int, ...],
    parts: int,
    work: Path,
    requests: int,
    repeat: int,
    threads: int = 1,
) -> tuple[list[StageRow], list[ModelRow]]:
    """Every case of CASES for one keras.applications model split into about `parts` partitions; LiteRT
    runs on `threads` threads (TensorFlow always uses every core, so compare at threads = cores)."""
    from runtime.backends import load_runner
    from runtime.config import BackendConfig
    from seifer_iac.bench.load import drive
    from seifer_iac.bench.localchain import LocalChain, write_chain
    from seifer_iac.model.load import build_application
    from seifer_iac.model.profiler import profile_model
    from seifer_iac.model.split import partition_blobs

    model = build_application(name, input_shape, seed=7)
    profile = profile_model(model, name)
    ranges = balanced_ranges(profile, parts)
    inputs = [np.random.default_rng(i).random((1, *input_shape), dtype=np.float32) for i in range(requests)]
    accuracy_inputs = [
        np.random.default_rng(10_000 + i).uniform(-1, 1, (1, *input_shape)).astype(np.float32)
        for i in range(ACCURACY_INPUTS)
    ]
    reference = np.concatenate([np.asarray(model.predict_on_batch(x)) for x in accuracy_inputs])
    blocks = profile.blocks
    tensors = [_tensor(profile.input_name, profile.input_shape, profile.input_dtype)] + [
        _tensor(blocks[last].name, blocks[last].output_shape, blocks[last].output_dtype) for _, last in ranges
    ]
    stage_rows: list[StageRow] = []
    model_rows: list[ModelRow] = []
    for backend, precision in CASES:
        cost = CostModel(queue_depth=QUEUE_DEPTH, memory=stage_model(backend, precision))
        blobs = [part.blob for part in partition_blobs(model, ranges, backend, precision)]
        config = BackendConfig(backend, precision, threads)
        latencies = []
        for blob, (first, _) in zip(blobs, ranges, strict=True):
            shape = profile.input_shape if first == 0 else blocks[first - 1].output_shape
            latencies.append(_median_latency_ms(load_runner(config, blob), tuple(shape), repeat))
        files = write_chain(
            work / f"{name}-{backend}-{precision}",
            blobs,
            input_spec={**tensors[0], "shape": [-1, *tensors[0]["shape"][1:]]},
            output_spec={**tensors[-1], "shape": [-1, *tensors[-1]["shape"][1:]]},
            codecs=[{"name": "lz4"}] * (len(blobs) + 1),
            tensors=tensors,
            backend={"name": backend, "precision": precision, "threads": threads},
            chunk_size=768 * 1024,
            model_name="bench",
            queue_depth=QUEUE_DEPTH,
        )
        with LocalChain(files) as chain:
            ready = []
            for stage in range(1, len(blobs) + 1):
                start = time.perf_counter()
                chain.start_stage(stage)
                chain.wait_stage_ready(stage, timeout=600)
                ready.append(time.perf_counter() - start)
            chain.start_dispatcher()
            chain.wait_dispatcher_ready(120)
            result = drive(files.url, "bench", lambda i: inputs[i], requests, 4, timeout_s=300)
            peaks = [vm_hwm_bytes(chain.procs[f"stage-{s}"].pid) or 0 for s in range(1, len(blobs) + 1)]
            dispatcher_peak = vm_hwm_bytes(chain.procs["dispatcher"].pid) or 0
        for index, (first, last) in enumerate(ranges):
            weights, activations, buffers = _stage_figures(profile, first, last)
            inp = profile.input_bytes if first == 0 else blocks[first - 1].output_bytes
            stage_rows.append(
                StageRow(
                    name,
                    backend,
                    precision,
                    index + 1,
                    f"{first}-{last}",
                    weights,
                    activations,
                    buffers,
                    len(blobs[index]),
                    latencies[index],
                    peaks[index],
                    stage_memory_bytes(cost, weights, activations, inp, blocks[last].output_bytes),
                    ready[index],
                )
            )
        runners = [load_runner(config, blob) for blob in blobs]
        got = np.concatenate([_chain(runners, x) for x in accuracy_inputs])
        error = np.abs(got - reference)
        agree = float(np.mean(got.argmax(-1) == reference.argmax(-1)))
        model_rows.append(
            ModelRow(
                name,
                backend,
                precision,
                len(blobs),
                result.throughput_per_s,
                float(error.max()),
                float(error.mean()),
                float(error.max() / max(float(np.abs(reference).max()), 1e-30)),
                agree,
                dispatcher_peak,
            )
        )
    return stage_rows, model_rows


def fit_memory(rows: Sequence[StageRow], margin: float = 0.05) -> dict[tuple[str, str], MemoryModel]:
    """Least-squares memory model per (backend, precision), with the headroom its worst point needs."""
    fitted = {}
    for case in sorted({(r.backend, r.precision) for r in rows}):
        mine = [r for r in rows if (r.backend, r.precision) == case]
        design = np.array([[1.0, r.weight_bytes, r.activation_bytes] for r in mine])
        target = np.array([r.peak_bytes - r.buffer_bytes for r in mine], dtype=np.float64)
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        base, per_weight, per_activation = (max(0.0, float(c)) for c in coef)
        model = MemoryModel(int(base), round(per_weight, 3), round(per_activation, 3))
        worst = max(
            r.peak_bytes / model.stage_bytes(r.weight_bytes, r.activation_bytes, r.buffer_bytes) for r in mine
        )
        fitted[case] = MemoryModel(
            model.base_bytes,
            model.per_weight_byte,
            model.per_activation_byte,
            round(max(0.0, worst - 1.0) + margin, 3),
        )
    return fitted


def to_markdown(stages: Sequence[StageRow], models: Sequence[ModelRow]) -> str:
    lines = [
        "| model | backend | stage | blocks | weights MiB | blob MiB | latency ms | peak MiB | limit MiB "
        "| peak/limit | ready s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in stages:
        lines.append(
            f"| {r.model} | {r.backend} {r.precision} | {r.stage} | {r.blocks} | {r.weight_bytes / MIB:.1f} "
            f"| {r.blob_bytes / MIB:.1f} | {r.latency_ms:.1f} | {r.peak_bytes / MIB:.0f} | "
            f"{r.limit_bytes / MIB:.0f} | {r.peak_bytes / r.limit_bytes:.2f} | {r.ready_s:.2f} |"
        )
    lines += [
        "",
        "| model | backend | stages | requests/s | max abs err | mean abs err | max err / max logit "
        "| top-1 agreement | dispatcher peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        lines.append(
            f"| {m.model} | {m.backend} {m.precision} | {m.stages} | {m.throughput_per_s:.1f} | "
            f"{m.max_abs_error:.2e} | {m.mean_abs_error:.2e} | {m.relative_error:.2e} | "
            f"{m.top1_agreement:.3f} | "
            f"{m.dispatcher_peak_bytes / MIB:.0f} |"
        )
    return "\n".join(lines) + "\n"


def fit_to_markdown(fitted: dict[tuple[str, str], MemoryModel]) -> str:
    lines = [
        "| backend | base MiB | per weight byte | per activation byte | headroom |",
        "|---|---|---|---|---|",
    ]
    for (backend, precision), m in sorted(fitted.items()):
        lines.append(
            f"| {backend} {precision} | {m.base_bytes / MIB:.1f} | {m.per_weight_byte} | "
            f"{m.per_activation_byte} | {m.headroom} |"
        )
    return "\n".join(lines) + "\n"
