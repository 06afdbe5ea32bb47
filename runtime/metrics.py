"""Prometheus text exposition without a dependency: counters, gauges and histograms, thread-safe.

The stage updates metrics from its ZeroMQ worker thread and serves them from the HTTP event loop, so
every update and the rendering take one lock (a few hundred nanoseconds per update).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[tuple[str, str], ...]


def _fmt_labels(labels: Labels, extra: Labels = ()) -> str:
    items = labels + extra
    if not items:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in items)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(items, escaped, strict=True)) + "}"


def _fmt_value(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


class _Metric:
    kind = "untyped"

    def __init__(self, registry: Registry, name: str, doc: str) -> None:
        self.name, self.doc, self._lock = name, doc, registry.lock
        registry.metrics.append(self)

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    """Monotonic counter, optionally labelled (``inc(reason="checksum")``)."""

    kind = "counter"

    def __init__(self, registry: Registry, name: str, doc: str) -> None:
        super().__init__(registry, name, doc)
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(tuple(sorted(labels.items())), 0.0)

    def lines(self) -> list[str]:
        values = self._values or {(): 0.0}
        return [f"{self.name}{_fmt_labels(k)} {_fmt_value(v)}" for k, v in sorted(values.items())]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, registry: Registry, name: str, doc: str) -> None:
        super().__init__(registry, name, doc)
        self._value = 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self._value = float(value)

    def add(self, amount: float) -> None:
        with self._lock:
            self._value += amount

    def value(self) -> float:
        with self._lock:
            return self._value

    def lines(self) -> list[str]:
        return [f"{self.name} {_fmt_value(self._value)}"]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self, registry: Registry, name: str, doc: str, buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(registry, name, doc)
        self._bounds = tuple(buckets)
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect.bisect_left(self._bounds, value)] += 1
            self._sum += value

    def count(self) -> int:
        with self._lock:
            return sum(self._counts)

    def lines(self) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*self._bounds, float("inf")), self._counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f"{self.name}_bucket{_fmt_labels((('le', le),))} {running}")
        out += [f"{self.name}_sum {self._sum!r}", f"{self.name}_count {running}"]
        return out


class Registry:
    """Holds one process's metrics; ``render()`` is the body of ``GET /metrics``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metrics: list[_Metric] = []

    def counter(self, name: str, doc: str) -> Counter:
        return Counter(self, name, doc)

    def gauge(self, name: str, doc: str) -> Gauge:
        return Gauge(self, name, doc)

    def histogram(self, name: str, doc: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return Histogram(self, name, doc, buckets)

    def render(self) -> str:
        with self.lock:
            lines: list[str] = []
            for metric in self.metrics:
                lines += [f"# HELP {metric.name} {metric.doc}", f"# TYPE {metric.name} {metric.kind}"]
                lines += metric.lines()
        return "\n".join(lines) + "\n"


def parse_text(text: str) -> dict[str, float]:
    """Sample name (with labels, as written) -> value: enough for tests and the benchmark to read /metrics."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
