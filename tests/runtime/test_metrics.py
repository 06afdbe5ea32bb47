from __future__ import annotations

import threading

from runtime.metrics import Registry, parse_text


def test_prometheus_text() -> None:
    registry = Registry()
    requests = registry.counter("x_requests_total", "Requests.")
    rejects = registry.counter("x_rejected_total", "Rejects by reason.")
    depth = registry.gauge("x_depth", "Depth.")
    latency = registry.histogram("x_latency_seconds", "Latency.", buckets=(0.1, 1.0))
    requests.inc()
    rejects.inc(reason="checksum")
    rejects.inc(2, reason='bad"magic')
    depth.set(3)
    for value in (0.05, 0.5, 5.0):
        latency.observe(value)
    text = registry.render()
    assert "# TYPE x_requests_total counter" in text and "# TYPE x_latency_seconds histogram" in text
    samples = parse_text(text)
    assert samples["x_requests_total"] == 1
    assert samples['x_rejected_total{reason="checksum"}'] == 1
    assert samples['x_rejected_total{reason="bad\\"magic"}'] == 2
    assert samples["x_depth"] == 3
    assert samples['x_latency_seconds_bucket{le="0.1"}'] == 1
    assert samples['x_latency_seconds_bucket{le="1.0"}'] == 2
    assert samples['x_latency_seconds_bucket{le="+Inf"}'] == 3
    assert samples["x_latency_seconds_count"] == 3


def test_unlabelled_counter_renders_zero_and_is_thread_safe() -> None:
    registry = Registry()
    counter = registry.counter("c_total", "C.")
    assert parse_text(registry.render())["c_total"] == 0
    threads = [threading.Thread(target=lambda: [counter.inc() for _ in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value() == 4000
