"""Drive real requests through a dispatcher and measure what a user would: throughput and latency.

Throughput is measured in steady state: enough requests in flight to fill every hop of the chain (a
pipeline only reaches its bottleneck rate when each stage and link has work), counted from the first
answer to the last so start-up and drain do not dilute it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from runtime.client import InferError, infer


@dataclass(frozen=True)
class LoadResult:
    requests: int
    answered: int
    errors: tuple[str, ...]
    seconds: float
    throughput_per_s: float
    latency_median_s: float
    latency_p95_s: float


def drive(
    url: str,
    model: str,
    make_input: Callable[[int], np.ndarray],
    requests: int,
    concurrency: int,
    timeout_s: float = 60.0,
    on_answer: Callable[[int, np.ndarray], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Send `requests` inputs with `concurrency` in flight; returns steady-state figures."""
    lock = threading.Lock()
    next_index = iter(range(requests))
    finished: list[float] = []
    latencies: list[float] = []
    errors: list[str] = []
    input_name = None

    def worker() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            array = make_input(index)
            started = time.perf_counter()
            try:
                output = infer(
                    url, model, array, input_name=input_name, request_id=f"load-{index}", timeout=timeout_s
                )
            except (InferError, OSError, ValueError) as error:
                with lock:
                    errors.append(f"request {index}: {error}")
                continue
            done = time.perf_counter()
            with lock:
                finished.append(done)
                latencies.append(done - started)
                count = len(finished)
            if on_answer:
                on_answer(index, output)
            if progress:
                progress(count, requests)

    from runtime.client import model_metadata

    input_name = model_metadata(url, model)["inputs"][0]["name"]
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, concurrency))]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - began
    finished.sort()
    # steady state: from the concurrency-th answer (pipeline full) to the last
    first = min(len(finished) - 1, max(0, concurrency - 1)) if finished else 0
    window = finished[-1] - finished[first] if len(finished) > first + 1 else total
    counted = len(finished) - 1 - first if len(finished) > first + 1 else len(finished)
    throughput = counted / window if window > 0 else 0.0
    ordered = sorted(latencies)
    return LoadResult(
        requests=requests,
        answered=len(finished),
        errors=tuple(errors),
        seconds=total,
        throughput_per_s=throughput,
        latency_median_s=statistics.median(ordered) if ordered else float("nan"),
        latency_p95_s=ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan"),
    )


def undilated(result: LoadResult, factor: float) -> LoadResult:
    """Figures of a run dilated k times, scaled back to the spec cluster's time (rates x k, times / k)."""
    if factor == 1.0:
        return result
    return replace(
        result,
        seconds=result.seconds / factor,
        throughput_per_s=result.throughput_per_s * factor,
        latency_median_s=result.latency_median_s / factor,
        latency_p95_s=result.latency_p95_s / factor,
    )
