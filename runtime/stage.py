"""Stage worker: ``python -m runtime.stage --config PATH``.

Startup: serve HTTP health at once (live, not ready), verify the weights, load the partition with the
configured backend (LiteRT by default: runtime/backends.py) and warm it up, and only then bind the data
port, so upstream never queues work for a stage that cannot run it. A weight or load error leaves the
process alive, unready, with one clear log line and the reason in ``/v2/health/ready``: a bad ConfigMap
shows up as an unready pod, not a silent crash loop.

Loop (a worker thread; LiteRT and TensorFlow release the GIL so HTTP stays responsive): PULL -> decode ->
check plan hash, model version, stage index and deadline -> run -> encode with this stage's codec -> PUSH.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import zmq
from aiohttp import web

from runtime import zmqopts
from runtime.backends import Runner
from runtime.codecs import CodecSpec
from runtime.config import StageConfig
from runtime.frames import Buffer, Rejected, decode, encode, reply_header
from runtime.health import Health, add_health_routes
from runtime.metrics import Registry
from runtime.process import run_process

log = logging.getLogger("runtime.stage")
POLL_MS = 100
# Deadlines are the dispatcher's wall clock and edge nodes drift (a Raspberry Pi has no RTC): drop work only
# when it is this far past its deadline, so a node whose clock runs fast by less than this loses nothing.
CLOCK_SKEW_ALLOWANCE_S = 30.0


@dataclass(frozen=True)
class Identity:
    """What a stage checks on every incoming frame and writes on every outgoing one."""

    plan_hash: str
    model_version: str
    stage: int
    codec: CodecSpec


def handle(frames: Sequence[Any], ident: Identity, run: Runner, now: float) -> list[Buffer] | Rejected:
    """One message through one stage, with no I/O: the frames to send on, or why they were dropped.

    Version skew during a rollout shows up here: a frame from a stage of another plan or model version
    is rejected (and counted), never computed with mismatched weights.
    """
    decoded = decode(frames)
    if isinstance(decoded, Rejected):
        return decoded
    header = decoded.header
    if header.plan_hash != ident.plan_hash:
        return Rejected(
            "plan_hash", f"frame plan {header.plan_hash[:12]!r} != stage plan {ident.plan_hash[:12]!r}"
        )
    if header.model_version != ident.model_version:
        return Rejected("model_version", f"frame version {header.model_version!r} != {ident.model_version!r}")
    if header.stage != ident.stage:
        return Rejected("wrong_stage", f"frame is for stage {header.stage}, this is stage {ident.stage}")
    if header.deadline and now > header.deadline + CLOCK_SKEW_ALLOWANCE_S:
        return Rejected("expired", f"request {header.request_id} passed its deadline")
    try:
        return encode(reply_header(header, ident.stage + 1, ident.codec), run(decoded.array))
    except Exception as exc:  # a bad input (wrong shape for this partition) must not kill the stage
        return Rejected("run_error", f"{type(exc).__name__}: {exc}")


class StageMetrics:
    """The stage's Prometheus metrics (one registry per process, passed explicitly)."""

    def __init__(self, registry: Registry) -> None:
        self.requests = registry.counter("seifer_stage_requests_total", "Frames computed and sent on.")
        self.rejects = registry.counter("seifer_stage_rejected_total", "Frames dropped, by reason.")
        self.latency = registry.histogram("seifer_stage_latency_seconds", "Decode + compute + encode time.")
        self.compute = registry.histogram("seifer_stage_compute_seconds", "Partition compute time.")
        self.bytes_in = registry.counter("seifer_stage_bytes_in_total", "Bytes received (header + payload).")
        self.bytes_out = registry.counter("seifer_stage_bytes_out_total", "Bytes sent (header + payload).")
        self.in_flight = registry.gauge("seifer_stage_in_flight", "Frames received and not yet sent on.")
        self.queue_depth = registry.gauge("seifer_stage_queue_depth", "ZeroMQ high-water mark (messages).")
        self.ready = registry.gauge("seifer_stage_ready", "1 when weights are verified and warmed up.")


def _nbytes(frames: Sequence[Any]) -> int:
    return sum(len(f.buffer) if hasattr(f, "buffer") else len(memoryview(f).cast("B")) for f in frames)


def serve_chain(
    cfg: StageConfig, run: Runner, metrics: StageMetrics, health: Health, stop: threading.Event
) -> None:
    """Bind PULL, connect PUSH, and relay frames until ``stop`` is set (blocking; run it in a thread)."""
    ident = Identity(cfg.plan_hash, cfg.model_version, cfg.stage, cfg.codec)
    timed_run = _timed(run, metrics)
    warned: set[str] = set()
    ctx = zmq.Context()
    pull = zmqopts.configure(ctx.socket(zmq.PULL), cfg.queue_depth, cfg.heartbeat_ms)
    push = zmqopts.configure(ctx.socket(zmq.PUSH), cfg.queue_depth, cfg.heartbeat_ms)
    try:
        pull.bind(zmqopts.bind_address(cfg.address, cfg.data_port))
        push.connect(cfg.next.address)
        metrics.queue_depth.set(cfg.queue_depth)
        health.set_ready()
        metrics.ready.set(1)
        log.info(
            "stage %d/%d ready: pulling on %d, pushing to %s",
            cfg.stage,
            cfg.stages,
            cfg.data_port,
            cfg.next.address,
        )
        while not stop.is_set():
            if not pull.poll(POLL_MS, zmq.POLLIN):
                continue
            frames = pull.recv_multipart(copy=False)
            metrics.bytes_in.inc(_nbytes(frames))
            metrics.in_flight.add(1)
            start = time.perf_counter()
            out = handle(frames, ident, timed_run, time.time())
            if isinstance(out, Rejected):
                metrics.rejects.inc(reason=out.reason)
                metrics.in_flight.add(-1)
                if out.reason not in warned:  # first of each kind is worth a line (version skew!)
                    warned.add(out.reason)
                    log.warning(
                        "rejecting frames (%s; further ones only counted): %s", out.reason, out.detail
                    )
                continue
            metrics.latency.observe(time.perf_counter() - start)
            while not stop.is_set():  # back-pressure: wait for the next hop, but stay stoppable
                if push.poll(POLL_MS, zmq.POLLOUT):
                    push.send_multipart(out, copy=False)
                    metrics.requests.inc()
                    metrics.bytes_out.inc(_nbytes(out))
                    break
            metrics.in_flight.add(-1)
    except zmq.ZMQError as exc:
        health.fail(f"ZeroMQ error: {exc}")
        metrics.ready.set(0)
        log.error("stage %d not ready: ZeroMQ error on port %d: %s", cfg.stage, cfg.data_port, exc)
    except Exception as exc:  # the relay loop is dead: say so on /v2/health/ready instead of lying
        health.fail(f"relay loop stopped: {type(exc).__name__}: {exc}")
        metrics.ready.set(0)
        log.exception("stage %d relay loop stopped", cfg.stage)
    finally:
        pull.close(linger=0)
        push.close(linger=zmqopts.LINGER_MS)
        ctx.term()


def _timed(run: Runner, metrics: StageMetrics) -> Runner:
    def timed(array: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        try:
            return run(array)
        finally:
            metrics.compute.observe(time.perf_counter() - start)

    return timed


def load_and_serve(cfg: StageConfig, metrics: StageMetrics, health: Health, stop: threading.Event) -> None:
    """Verify weights, load, warm up, then relay; a load failure leaves the stage unready, logged once."""
    from runtime.backends import BackendError, load_runner
    from runtime.weights import WeightsError, read_weights

    try:
        health.set_unready("verifying weights")
        blob = read_weights(cfg.weights)
        health.set_unready(f"loading the partition ({cfg.backend.name})")
        run = load_runner(cfg.backend, blob)
        del blob  # the backend keeps what it needs
    except Exception as exc:  # bad chunk, foreign blob, a backend refusing it: unready, not dead
        known = isinstance(exc, (WeightsError, BackendError))
        health.set_unready(str(exc) if known else f"{type(exc).__name__}: {exc}")
        log.error("stage %d not ready: %s", cfg.stage, exc)
        return
    serve_chain(cfg, run, metrics, health, stop)


async def serve(cfg: StageConfig) -> None:
    """HTTP health/metrics on the event loop, the chain in a thread; returns after SIGTERM/SIGINT."""
    registry, health, stop = Registry(), Health("starting"), threading.Event()
    metrics = StageMetrics(registry)
    app = web.Application()
    add_health_routes(app, health, registry)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, cfg.address, cfg.http_port).start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    worker = threading.Thread(
        target=load_and_serve, args=(cfg, metrics, health, stop), name="chain", daemon=True
    )
    worker.start()
    await done.wait()
    log.info("stage %d stopping", cfg.stage)
    stop.set()
    await loop.run_in_executor(None, worker.join, 5.0)
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    return run_process(
        argv, "python -m runtime.stage", __doc__.splitlines()[0], "stage", StageConfig, serve, log
    )


if __name__ == "__main__":
    sys.exit(main())
