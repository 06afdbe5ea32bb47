"""Stage worker: ``python -m runtime.stage --config PATH``.

Startup: serve HTTP health at once (live, not ready), verify the weights, load the partition with the
configured backend (LiteRT by default: runtime/backends.py) and warm it up, and only then bind the data
port, so upstream never queues work for a stage that cannot run it. A weight or load error leaves the
process alive, unready, with one clear log line and the reason in ``/v2/health/ready``: a bad ConfigMap
shows up as an unready pod, not a silent crash loop.

Loop (a worker thread; LiteRT and TensorFlow release the GIL so HTTP stays responsive): PULL -> decode ->
check plan hash, model version, stage index and deadline -> run -> encode with this stage's codec and its
own plan and version -> PUSH. Stage 1 also accepts the dispatcher's version-free input frames (frames.py).

Stopping on purpose (SIGTERM: Kubernetes replaces the pod in a rollout or moves it) sends a ``leaving``
notice on, and every stage relays the notices it receives, so the dispatcher learns that the chain is
changing and holds requests instead of refusing them; a crash or a lost node sends nothing, so the
dispatcher's readiness (503 at once) is unchanged for those.
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
from runtime.frames import (
    Buffer,
    Expect,
    Notice,
    Rejected,
    decode,
    decode_notice,
    encode,
    encode_notice,
    expect_tensor,
    reply_header,
)
from runtime.health import Health, add_health_routes
from runtime.metrics import Registry
from runtime.process import run_process

log = logging.getLogger("runtime.stage")
POLL_MS = 100
# Deadlines are the dispatcher's wall clock and edge nodes drift (a Raspberry Pi has no RTC): drop work only
# when it is this far past its deadline, so a node whose clock runs fast by less than this loses nothing.
CLOCK_SKEW_ALLOWANCE_S = 30.0
NOTICE_WAIT_S = 1.0  # how long a notice may wait for the next hop before it is dropped


@dataclass(frozen=True)
class Identity:
    """What a stage accepts (its plan, version, index, input tensor and the inbound hop's codec) and the
    codec it sends on with."""

    expect: Expect
    codec: CodecSpec

    @classmethod
    def of(cls, cfg: StageConfig) -> Identity:
        inbound = cfg.input_codec or cfg.codec
        expect = expect_tensor(
            cfg.plan_hash,
            cfg.model_version,
            cfg.stage,
            cfg.input,
            inbound,
            cfg.max_batch,
            accept_unbound=cfg.stage == 1,  # the dispatcher's version-free input
        )
        return cls(expect, cfg.codec)


def handle(frames: Sequence[Any], ident: Identity, run: Runner, now: float) -> list[Buffer] | Rejected:
    """One message through one stage, with no I/O: the frames to send on, or why they were dropped.

    ``decode`` checks identity before anything else: a frame of another plan or model version (version
    skew during a rollout) or another stage is refused before its payload is looked at, and one whose
    tensor, codec or size is not what the plan computed for this hop is never decompressed or computed.
    """
    decoded = decode(frames, ident.expect, not_after=now - CLOCK_SKEW_ALLOWANCE_S)
    if isinstance(decoded, Rejected):
        return decoded
    expect = ident.expect
    header = reply_header(
        decoded.header, expect.stage + 1, ident.codec, expect.plan_hash, expect.model_version
    )
    try:
        return encode(header, run(decoded.array))
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
        self.notices = registry.counter(
            "seifer_stage_notices_total", "Rollout notices sent on (own or relayed), by outcome."
        )


def _nbytes(frames: Sequence[Any]) -> int:
    return sum(len(f.buffer) if hasattr(f, "buffer") else len(memoryview(f).cast("B")) for f in frames)


def serve_chain(
    cfg: StageConfig, run: Runner, metrics: StageMetrics, health: Health, stop: threading.Event
) -> None:
    """Bind PULL, connect PUSH, and relay frames until ``stop`` is set (blocking; run it in a thread)."""
    ident = Identity.of(cfg)
    timed_run = _timed(run, metrics)
    warned: set[str] = set()
    ctx = zmq.Context()
    pull = zmqopts.configure(ctx.socket(zmq.PULL), cfg.queue_depth, cfg.heartbeat_ms)
    push = zmqopts.configure(ctx.socket(zmq.PUSH), cfg.queue_depth, cfg.heartbeat_ms)
    curve = None
    try:
        curve = zmqopts.secure(ctx, pull, push, cfg.encryption.name, cfg.encryption.keys_dir)
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
            notice = decode_notice(frames)
            if isinstance(notice, Notice):
                sent = send_bounded(push, encode_notice(notice), NOTICE_WAIT_S)
                metrics.notices.inc(outcome="relayed" if sent else "dropped")
                continue
            if isinstance(notice, Rejected):
                metrics.rejects.inc(reason=notice.reason)
                continue
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
        leaving = Notice("leaving", cfg.stage, cfg.plan_hash, cfg.model_version)
        sent = send_bounded(push, encode_notice(leaving), NOTICE_WAIT_S)
        metrics.notices.inc(outcome="sent" if sent else "dropped")
        log.info(
            "stage %d leaving: %s the dispatcher (via the next hop)",
            cfg.stage,
            "told" if sent else "could not tell",
        )
    except zmqopts.CurveKeyError as exc:  # a missing or wrong Secret: unready with the reason, not dead
        health.fail(str(exc))
        metrics.ready.set(0)
        log.error("stage %d not ready: %s", cfg.stage, exc)
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
        if curve is not None:
            curve.close()
        ctx.term()


def send_bounded(push: zmq.Socket, frames: Sequence[Any], seconds: float) -> bool:
    """Send when the next hop takes it within ``seconds``; False (dropped) otherwise."""
    if push.poll(int(seconds * 1000), zmq.POLLOUT):
        push.send_multipart(frames)
        return True
    return False


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
