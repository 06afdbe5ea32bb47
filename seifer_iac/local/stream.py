"""A request stream for benchmarks: real v2 HTTP requests, with every request's fate recorded.

Unlike `load.drive`, request bodies are JSON-encoded ONCE (a few distinct inputs, reused round-robin) and
each worker keeps one HTTP connection: encoding 150k floats costs ~0.1 s of client CPU per request, which on
a 2-core machine would compete with the stages being measured. Each request's start, end, status and a
digest of its answer are kept, so a fail-over run can count what was lost, failed or answered wrongly.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from runtime.oip import HEADER_LENGTH


@dataclass(frozen=True)
class Outcome:
    """One request: which input it carried, when it ran, HTTP status (0: no answer) and answer digest."""

    index: int
    input_index: int
    started: float
    finished: float
    status: int
    digest: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


def encode_body(input_name: str, array: np.ndarray) -> tuple[bytes, int]:
    """(body, JSON header length) of a v2 request for one FP32 input in the binary tensor extension, as
    Triton clients send it: parsing 150k floats of JSON would cost the dispatcher ~0.1 CPU s per request
    and make the host, not the links, the bottleneck under measurement."""
    raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
    tensor = {"name": input_name, "shape": list(array.shape), "datatype": "FP32"}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()
    return header + raw, len(header)


def answer_digest(body: bytes, header_length: str | None = None) -> str:
    """A short digest of the first output's values (equal answers, equal digests), JSON or binary."""
    if header_length is None:
        values = np.asarray(json.loads(body)["outputs"][0]["data"], dtype=np.float32)
    else:
        values = np.frombuffer(body[int(header_length) :], dtype="<f4")
    return hashlib.sha256(values.tobytes()).hexdigest()[:12]


def steady_throughput(finished: Sequence[float], concurrency: int) -> float:
    """Answers per second from the `concurrency`-th answer (pipeline full) to the last, as `load.drive`."""
    times = sorted(finished)
    first = max(0, concurrency - 1)
    if len(times) < first + 2:
        first = 0
    if len(times) < 2:
        return 0.0
    window = times[-1] - times[first]
    return (len(times) - 1 - first) / window if window > 0 else 0.0


def full_pipeline_throughput(finished: Sequence[float], concurrency: int) -> float:
    """Like `steady_throughput`, but also without the last `concurrency - 1` answers, which come while the
    pipeline empties: on a shared medium they have the air to themselves and come faster than steady state."""
    times = sorted(finished)
    if len(times) >= 3 * concurrency:
        times = times[: len(times) - (concurrency - 1)]
    return steady_throughput(times, concurrency)


@dataclass(frozen=True)
class StreamResult:
    outcomes: tuple[Outcome, ...]
    concurrency: int

    @property
    def answered(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.ok)

    @property
    def throughput_per_s(self) -> float:
        return steady_throughput([o.finished for o in self.answered], self.concurrency)

    def latency_s(self, quantile: float) -> float:
        ordered = sorted(o.finished - o.started for o in self.answered)
        if not ordered:
            return float("nan")
        if quantile == 0.5:
            return statistics.median(ordered)
        return ordered[int(quantile * (len(ordered) - 1))]


class Streamer:
    """Sends requests to one dispatcher URL for one model; bodies prepared once per distinct input."""

    def __init__(self, url: str, model: str, input_name: str, inputs: Sequence[np.ndarray]) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.path = f"/v2/models/{model}/infer"
        self.bodies = [encode_body(input_name, array) for array in inputs]

    def _connection(self, timeout_s: float) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)

    def one(self, conn: http.client.HTTPConnection, index: int) -> tuple[Outcome, bool]:
        """Send request `index`; returns its outcome and whether the connection is still usable."""
        which = index % len(self.bodies)
        started = time.perf_counter()
        try:
            payload, header_length = self.bodies[which]
            headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(header_length)}
            conn.request("POST", self.path, payload, headers)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            return Outcome(index, which, started, time.perf_counter(), 0, "", repr(error)), False
        finished = time.perf_counter()
        if response.status != 200:
            reason = body.decode(errors="replace")[:200]
            return Outcome(index, which, started, finished, response.status, "", reason), True
        return Outcome(
            index, which, started, finished, 200, answer_digest(body, response.getheader(HEADER_LENGTH))
        ), True

    def run(
        self,
        requests: int,
        concurrency: int,
        timeout_s: float = 120.0,
        on_outcome: Callable[[Outcome, int], None] | None = None,
    ) -> StreamResult:
        """`requests` requests, `concurrency` in flight; `on_outcome(outcome, done_so_far)` after each."""
        lock = threading.Lock()
        pending = iter(range(requests))
        outcomes: list[Outcome] = []

        def worker() -> None:
            conn = self._connection(timeout_s)
            while True:
                with lock:
                    index = next(pending, None)
                if index is None:
                    break
                outcome, usable = self.one(conn, index)
                if not usable:
                    conn.close()
                    conn = self._connection(timeout_s)
                with lock:
                    outcomes.append(outcome)
                    done = len(outcomes)
                if on_outcome:
                    on_outcome(outcome, done)
            conn.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, concurrency))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return StreamResult(tuple(sorted(outcomes, key=lambda o: o.index)), concurrency)
