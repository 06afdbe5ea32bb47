"""Dispatcher: ``python -m runtime.dispatcher --config PATH``.

Serves the Open Inference Protocol v2 over HTTP (aiohttp), so KServe/Triton clients work unchanged, and
drives the chain over ZeroMQ: PUSH (connect) to stage 1, PULL (bind ``resultPort``) from the last stage.

Delivery: at-least-once inside the chain (re-send with a new attempt number after the attempt timeout),
exactly-once to the client (first result wins, duplicates are counted and dropped), a 504 with the reason
after ``maxAttempts`` or ``deadlineSeconds``, and a 503 with Retry-After when ``maxInFlight`` requests are
already waiting. See ``runtime.inflight`` for the policy.

Readiness means the whole chain answers: connected to stage 1 (a socket monitor tracks the ZMTP handshake)
AND a result, real or a probe, came back through every stage within the attempt timeout. A probe is an
ordinary frame (attempt 0, a zero tensor of the input's shape) sent when no result has arrived for an
attempt timeout. It was chosen over asking each stage's ``/v2/health/ready`` because it tests what a
request needs, not what each process believes: every hop's route, network policy and keys, every stage's
computation and the return path, with no list of stage HTTP addresses in the dispatcher's config. Its cost
is one inference per attempt timeout while idle, none under traffic. While not ready the dispatcher
answers infer requests with 503 and Retry-After at once instead of holding them for the deadline (requests
already in the chain keep being re-sent). Losing stage 1 makes it unready after a second at most; a
shorter blip (ZeroMQ reconnects in 100 ms) changes nothing.

Rollouts: without ``modelVersion``/``planHash`` in its config (what the manifests render) the dispatcher is
version-free: it sends input frames with no version (stage 1 stamps its own), accepts results of any chain
whose output tensor it expects, and answers each request with the version that computed it, so a version
bump replaces the stages but never the dispatcher. A stage stopped on purpose sends a ``leaving`` notice
down the chain (runtime/stage.py); on it the dispatcher is *rolling* for up to ``deadlineSeconds``: it
stays ready and admits requests, holds them (re-sends are free, only the deadline fails one) and, once a
frame sent after the notice comes back (the new chain answers), re-sends at once every waiting request that
went out before that frame (into the old chain, or lost). Without a notice (a crash, a lost node, a chain
that never answered) nothing changes: 503 at once while not ready. On SIGTERM it stops taking requests and
drains: the ones it holds are answered (or fail at their deadline) before it exits, instead of a 504 each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import zmq
import zmq.asyncio
from aiohttp import web
from zmq.utils.monitor import parse_monitor_message

from runtime import zmqopts
from runtime.config import DispatcherConfig, TensorSpec
from runtime.frames import (
    UNBOUND,
    Decoded,
    Header,
    Notice,
    Rejected,
    decode,
    decode_notice,
    encode,
    expect_tensor,
)
from runtime.health import Health, add_health_routes
from runtime.inflight import Policy, Table
from runtime.metrics import Registry
from runtime.oip import (
    HEADER_LENGTH,
    OipError,
    infer_response,
    infer_response_binary,
    parse_infer_request,
    parse_json,
    split_body,
    tensor_metadata,
    wants_binary_output,
)
from runtime.process import run_process

log = logging.getLogger("runtime.dispatcher")


BARE_CONNECT_MEMORY_S = 5.0  # longer than ZeroMQ's longest reconnect interval (zmqopts: 2 s)


class ChainFailed(Exception):
    """The chain did not answer in time (HTTP 504 with this message)."""


class DispatcherMetrics:
    def __init__(self, registry: Registry) -> None:
        self.requests = registry.counter(
            "seifer_dispatcher_requests_total", "HTTP infer requests, by status code (every status)."
        )
        self.responses = registry.counter(
            "seifer_dispatcher_http_responses_total", "Every HTTP answer (all routes), by status code."
        )
        self.latency = registry.histogram(
            "seifer_dispatcher_latency_seconds", "Infer latency through the chain."
        )
        self.in_flight = registry.gauge("seifer_dispatcher_in_flight", "Requests waiting for the chain.")
        self.retries = registry.counter("seifer_dispatcher_resends_total", "Requests re-sent into the chain.")
        self.duplicates = registry.counter(
            "seifer_dispatcher_duplicates_total", "Late or repeated results dropped."
        )
        self.failures = registry.counter(
            "seifer_dispatcher_failed_total", "Requests failed after deadline/attempts."
        )
        self.rejects = registry.counter(
            "seifer_dispatcher_rejected_total", "Result frames dropped, by reason."
        )
        self.bytes_in = registry.counter("seifer_dispatcher_bytes_in_total", "Result bytes received.")
        self.bytes_out = registry.counter("seifer_dispatcher_bytes_out_total", "Bytes sent to stage 1.")
        self.queue_depth = registry.gauge(
            "seifer_dispatcher_queue_depth", "ZeroMQ high-water mark (messages)."
        )
        self.rolling = registry.gauge(
            "seifer_dispatcher_rolling",
            "1 while a stage announced it is being replaced and no answer "
            "from the new chain came back yet (requests are held, not refused).",
        )
        self.notices = registry.counter(
            "seifer_dispatcher_notices_total", "Notices received from stages, by kind."
        )


class Chain:
    """The ZeroMQ side: sender, receiver and watchdog tasks around the in-flight table."""

    def __init__(self, cfg: DispatcherConfig, metrics: DispatcherMetrics, health: Health) -> None:
        self.cfg, self.metrics, self.health = cfg, metrics, health
        self.table = Table(
            Policy(cfg.deadline_seconds, cfg.attempt_timeout_seconds, cfg.max_attempts, cfg.max_in_flight)
        )
        self.waiters: dict[int, asyncio.Future[tuple[np.ndarray, str]]] = {}
        # Random start: results of a previous dispatcher incarnation still in the chain can never match.
        self.next_id = secrets.randbits(48)
        self.send_queue: asyncio.Queue[int] = asyncio.Queue()
        self.ctx = zmq.asyncio.Context()
        self.push = zmqopts.configure(self.ctx.socket(zmq.PUSH), cfg.queue_depth, cfg.heartbeat_ms)
        self.pull = zmqopts.configure(self.ctx.socket(zmq.PULL), cfg.queue_depth, cfg.heartbeat_ms)
        self.curve = zmqopts.secure(
            self.ctx, self.pull, self.push, cfg.encryption.name, cfg.encryption.keys_dir
        )
        self.monitor = self.push.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECTED
        )
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        self.peers = 0  # ZMTP connections to stage 1
        self.disconnected_since: float | None = None  # when the last connection to stage 1 went
        self.bare_connect = float("-inf")  # last TCP connect to stage 1 with no handshake (yet)
        self.probes: dict[int, float] = {}  # probe request id -> monotonic time sent
        self.last_answer = float("-inf")  # monotonic time the chain last delivered a result
        self.silent_since: float | None = None  # first unanswered probe since the last answer
        self.probe_input = np.zeros([1 if n == -1 else n for n in cfg.input.shape], dtype=cfg.input.dtype)
        self.version = cfg.model_version  # of the chain that answered last (None until one did)
        self.rolling_since: float | None = None  # a stage's leaving notice came (monotonic)
        self.rolling_until = float("-inf")
        self.expect_result = expect_tensor(
            cfg.plan_hash,
            cfg.model_version,
            cfg.stages + 1,
            cfg.output,
            cfg.result_codec or cfg.codec,
            cfg.max_batch,
        )

    def start(self) -> None:
        self.pull.bind(zmqopts.bind_address(self.cfg.address, self.cfg.result_port))
        self.push.connect(self.cfg.first.address)
        self.metrics.queue_depth.set(self.cfg.queue_depth)
        self.health.set_unready(f"waiting for stage 1 at {self.cfg.first.address}")
        coroutines = (self._send(), self._receive(), self._watch(), self._monitor(), self._probe())
        self.tasks = [asyncio.create_task(c) for c in coroutines]
        for task in self.tasks:
            task.add_done_callback(self._task_died)

    def _task_died(self, task: asyncio.Task[None]) -> None:
        """A chain task must never end while serving: say so loudly and stop being ready."""
        if task.cancelled():
            return
        exc = task.exception()
        log.error("dispatcher task %s died: %r", task.get_coro().__qualname__, exc)
        self.health.fail(f"internal error: {exc!r}")

    async def close(self) -> None:
        self.closed = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for future in self.waiters.values():
            if not future.done():
                future.set_exception(ChainFailed("dispatcher shutting down"))
        self.push.disable_monitor()
        self.monitor.close(linger=0)
        self.push.close(linger=0)
        self.pull.close(linger=0)
        if self.curve is not None:
            self.curve.close()
        self.ctx.term()

    def rolling(self, now: float | None = None) -> bool:
        """A stage announced it is being replaced and the new chain has not answered yet (bounded by the
        deadline after the last notice)."""
        now = time.monotonic() if now is None else now
        return self.rolling_since is not None and now < self.rolling_until

    def _notice(self, notice: Notice) -> None:
        self.metrics.notices.inc(kind=notice.kind)
        now = time.monotonic()
        if not self.rolling(now):
            log.info(
                "stage %d (version %s) is being replaced: holding requests for up to %g s until the new "
                "chain answers",
                notice.stage,
                notice.model_version,
                self.cfg.deadline_seconds,
            )
        self.rolling_since, self.rolling_until = now, now + self.cfg.deadline_seconds
        self.metrics.rolling.set(1)
        self.health.set_ready()

    def _answered(self, sent_at: float) -> None:
        """A frame came back through the chain: ends a rollout when it was sent after the last notice, and
        then sends again every request still waiting that went out before it. Each hop is first in, first
        out, so those either went into the old chain (even just after the notice: a stage takes a moment to
        stop) or were lost; none is still on its way through the new one."""
        if self.rolling_since is None or sent_at < self.rolling_since:
            return
        now = time.monotonic()
        log.info("the chain answers again (version %s): rollout done, re-sending what it lost", self.version)
        for entry in self.table.resend_sent_before(sent_at, now):
            self.metrics.retries.inc()
            self.send_queue.put_nowait(entry.request_id)
        self.rolling_since, self.rolling_until = None, float("-inf")
        self.metrics.rolling.set(0)

    async def infer(self, array: np.ndarray) -> tuple[np.ndarray, str]:
        """Send one request through the chain and wait for its single result and the version that computed
        it (or ChainFailed)."""
        if self.closed:
            raise ChainFailed("dispatcher shutting down")
        request_id = self.next_id
        self.next_id += 1
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self.table.add(request_id, np.ascontiguousarray(array), time.monotonic())
        self.waiters[request_id] = future
        self.metrics.in_flight.set(len(self.table.entries))
        self.send_queue.put_nowait(request_id)
        try:
            return await future
        finally:
            self.table.remove(request_id)
            self.waiters.pop(request_id, None)
            self.metrics.in_flight.set(len(self.table.entries))

    async def drain(self, seconds: float) -> None:
        """Wait (at most ``seconds``) until every admitted request is answered or has failed."""
        limit = time.monotonic() + seconds
        while self.waiters and time.monotonic() < limit:
            await asyncio.sleep(0.05)

    async def _send(self) -> None:
        cfg = self.cfg
        plan, version = cfg.plan_hash or UNBOUND, cfg.model_version or UNBOUND
        while True:
            request_id = await self.send_queue.get()
            if request_id in self.probes:
                await self._send_probe(request_id)
                continue
            entry = self.table.entries.get(request_id)
            if entry is None or entry.done or entry.sent_attempt == entry.attempt:
                continue  # finished, or this attempt already went out (queued twice while blocked)
            entry.sent_attempt = entry.attempt
            wall_deadline = time.time() + (entry.deadline - time.monotonic())
            header = Header(
                request_id, entry.attempt, plan, version, 1, codec=cfg.codec, deadline=wall_deadline
            )
            frames = encode(header, entry.payload)
            await self.push.send_multipart(frames, copy=False)  # waits while stage 1 is down or full
            entry.sent_at = time.monotonic()
            self.metrics.bytes_out.inc(sum(len(memoryview(f).cast("B")) for f in frames))

    async def _send_probe(self, request_id: int) -> None:
        deadline = time.time() + self.cfg.attempt_timeout_seconds
        plan, version = self.cfg.plan_hash or UNBOUND, self.cfg.model_version or UNBOUND
        header = Header(request_id, 0, plan, version, 1, codec=self.cfg.codec, deadline=deadline)
        await self.push.send_multipart(encode(header, self.probe_input), copy=False)
        if request_id in self.probes:
            self.probes[request_id] = time.monotonic()  # sent (it may have waited for stage 1)

    async def _probe(self) -> None:
        """Keep readiness true to the whole chain: ready while results come back, probe when they stop."""
        window = self.cfg.attempt_timeout_seconds
        last_probe = float("-inf")
        while True:
            await asyncio.sleep(min(0.1, window / 4))
            now = time.monotonic()
            rolling = self.rolling(now)
            if self.rolling_since is not None and not rolling:
                log.warning(
                    "no answer from the new chain within %g s of the last notice", self.cfg.deadline_seconds
                )
                self.rolling_since = None
                self.metrics.rolling.set(0)
            if rolling:
                self.health.set_ready()  # held, not refused: keep the Service routing requests here
            if not self.peers and not rolling:
                # a blip (ZeroMQ reconnects in 100 ms) keeps what was; a lasting loss is unready at once
                lost = self.disconnected_since
                if lost is None or now - lost >= min(window, 1.0):
                    self.silent_since = None
                    self.health.set_unready(self.unconnected_reason())
                continue
            if not self.peers:
                continue  # rolling: probe once stage 1 is back
            if now - self.last_answer < window and not rolling:
                self.silent_since = None
                self.health.set_ready()
                continue
            if self.silent_since is None:
                self.silent_since = now
            if now - last_probe >= min(window, 1.0):
                last_probe = now
                self.probes = {k: t for k, t in self.probes.items() if now - t < 4 * window}
                request_id, self.next_id = self.next_id, self.next_id + 1
                self.probes[request_id] = now
                self.send_queue.put_nowait(request_id)
            if now - self.silent_since >= window and not rolling:
                self.health.set_unready(
                    f"the chain did not answer a probe within {window:g} s: a stage is down, unready or "
                    "unreachable, or its results are refused (see seifer_dispatcher_rejected_total)"
                )

    def _check(self, frames: list[zmq.Frame]) -> Decoded | Rejected:
        """A result frame, or why it is not one of ours (another plan or version: skew during a rollout;
        a tensor, codec or size other than the last stage's output: refused before it is decoded)."""
        return decode(frames, self.expect_result)

    async def _receive(self) -> None:
        warned: set[str] = set()
        while True:
            try:
                frames = await self.pull.recv_multipart(copy=False)
            except zmq.Again:  # pyzmq saw a readiness event with nothing to read (seen under load)
                continue
            self.metrics.bytes_in.inc(sum(len(f.buffer) for f in frames))
            notice = decode_notice(frames)
            if isinstance(notice, Notice):
                self._notice(notice)
                continue
            decoded = notice or self._check(frames)
            if isinstance(decoded, Rejected):
                self.metrics.rejects.inc(reason=decoded.reason)
                if decoded.reason not in warned:
                    warned.add(decoded.reason)
                    log.warning(
                        "rejecting results (%s; further ones only counted): %s",
                        decoded.reason,
                        decoded.detail,
                    )
                continue
            request_id = decoded.header.request_id
            self.last_answer = time.monotonic()
            self.version = decoded.header.model_version or self.version
            probe_sent = self.probes.pop(request_id, None)
            if probe_sent is not None:
                self._answered(probe_sent)
                continue
            entry = self.table.entries.get(request_id)
            if entry is not None:
                self._answered(entry.sent_at)
            if not self.table.complete(request_id, None):
                self.metrics.duplicates.inc()
                continue
            future = self.waiters.get(request_id)
            if future is not None and not future.done():
                # copy: the frame's buffer is not ours
                future.set_result((np.array(decoded.array), decoded.header.model_version))

    async def _watch(self) -> None:
        interval = min(0.05, self.cfg.attempt_timeout_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            resend, failed = self.table.tick(now, hold=self.rolling(now))
            for entry in resend:
                self.metrics.retries.inc()
                log.debug("re-sending request %d, attempt %d", entry.request_id, entry.attempt)
                self.send_queue.put_nowait(entry.request_id)
            for entry in failed:
                self.metrics.failures.inc()
                future = self.waiters.get(entry.request_id)
                if future is not None and not future.done():
                    future.set_exception(ChainFailed(entry.error))

    async def _monitor(self) -> None:
        peers = 0
        while True:
            event = parse_monitor_message(await self.monitor.recv_multipart())
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                peers += 1
                self.bare_connect = float("-inf")
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                peers = max(0, peers - 1)
            if peers and not self.peers:
                self.disconnected_since = None
            elif not peers and self.disconnected_since is None:
                self.disconnected_since = time.monotonic()  # _probe turns a lasting loss into unready
            self.peers = peers
            if event["event"] == zmq.EVENT_CONNECTED and not peers:
                self.bare_connect = time.monotonic()  # TCP is up; a handshake should follow at once

    def unconnected_reason(self) -> str:
        """Why stage 1 is not connected; names a refused handshake (seen within the last reconnects)."""
        reason = f"not connected to stage 1 at {self.cfg.first.address}"
        if time.monotonic() - self.bare_connect < BARE_CONNECT_MEMORY_S:
            reason += (
                ": it accepts TCP but no ZeroMQ handshake completes (with encryption on, it does not hold "
                "this pipeline's keys; else it speaks another protocol)"
            )
        return reason


JSON_BYTES_PER_VALUE = 32  # the longest float literal JSON writes, with separator
UNBOUNDED_REQUEST_BYTES = 64 * 1024 * 1024


def max_request_bytes(spec: TensorSpec, max_batch: int = 1) -> int:
    """The largest body a valid request can have: one input as JSON text, plus room for the envelope.

    aiohttp buffers a body before we see it, so without this bound one oversized POST could push the
    dispatcher past its memory limit and lose every request in flight; aiohttp answers 413 instead.
    A -1 batch axis counts as ``max_batch``; a -1 elsewhere (which the config loader refuses) leaves a
    fixed ceiling.
    """
    if any(n < 0 for n in spec.shape[1:]):
        return UNBOUNDED_REQUEST_BYTES
    values = 1
    for n in spec.shape:
        values *= max_batch if n == -1 else n
    return values * JSON_BYTES_PER_VALUE + 64 * 1024


_dumps = functools.partial(json.dumps, allow_nan=False)  # an answer is JSON or an error, never NaN


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status=status, headers=headers)


def triton_model_config(cfg: DispatcherConfig) -> dict[str, Any]:
    """What tritonclient's ``get_model_config`` reads: names, types and dims of the input and output."""

    def tensor(spec: TensorSpec) -> dict[str, Any]:
        return {"name": spec.name, "data_type": f"TYPE_{spec.datatype}", "dims": list(spec.shape)}

    return {
        "name": cfg.model_name,
        "platform": "seifer-chain",
        "max_batch_size": 0,
        "input": [tensor(cfg.input)],
        "output": [tensor(cfg.output)],
    }


def build_app(cfg: DispatcherConfig, chain: Chain, health: Health, registry: Registry) -> web.Application:
    """The HTTP routes (Open Inference Protocol v2 subset + health + metrics)."""
    metrics = chain.metrics

    @web.middleware
    async def count_and_contain(request: web.Request, handler: Any) -> web.StreamResponse:
        """Every answer is JSON with a reason and is counted by status: aiohttp's own 404/405/413 too,
        and a bug becomes one logged 500, never a traceback to the client or an uncounted request."""
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            response = _error(exc.status, exc.reason, headers=allow)
        except Exception:
            log.exception("internal error answering %s %s", request.method, request.path)
            response = _error(500, "internal error (logged by the dispatcher)")
        code = str(response.status)
        metrics.responses.inc(code=code)
        if request.method == "POST" and request.path.endswith("/infer"):
            metrics.requests.inc(code=code)
        return response

    app = web.Application(
        client_max_size=max_request_bytes(cfg.input, cfg.max_batch), middlewares=[count_and_contain]
    )
    add_health_routes(app, health, registry)

    def check_model(request: web.Request) -> None:
        name = request.match_info["name"]
        if name != cfg.model_name:
            raise OipError(404, f"model {name!r} not found; this dispatcher serves {cfg.model_name!r}")
        version = request.match_info.get("version")
        if version is not None and version != chain.version:
            raise OipError(404, f"model {name!r} has version {chain.version!r}, not {version!r}")

    async def server_metadata(_: web.Request) -> web.Response:
        return _json({"name": "seifer-dispatcher", "version": "2", "extensions": ["binary_tensor_data"]})

    async def repository_index(_: web.Request) -> web.Response:
        ready, _reason = health.state()
        return _json(
            [
                {
                    "name": cfg.model_name,
                    "version": chain.version or "",
                    "state": "READY" if ready else "UNAVAILABLE",
                }
            ]
        )

    async def model_metadata(request: web.Request) -> web.Response:
        try:
            check_model(request)
        except OipError as exc:
            return _error(exc.status, exc.message)
        return _json(
            {
                "name": cfg.model_name,
                "versions": [chain.version] if chain.version else [],
                "platform": "seifer-chain",
                "inputs": [tensor_metadata(cfg.input)],
                "outputs": [tensor_metadata(cfg.output)],
            }
        )

    async def model_ready(request: web.Request) -> web.Response:
        try:
            check_model(request)
        except OipError as exc:
            return _error(exc.status, exc.message)
        ready, reason = health.state()
        return _json(
            {"name": cfg.model_name, "ready": ready, **({} if ready else {"reason": reason})},
            status=200 if ready else 503,
        )

    async def infer(request: web.Request) -> web.Response:
        start = time.perf_counter()
        response = await _infer(request)
        if response.status == 200:
            metrics.latency.observe(time.perf_counter() - start)
        return response

    async def model_config(request: web.Request) -> web.Response:
        try:
            check_model(request)
        except OipError as exc:
            return _error(exc.status, exc.message)
        return _json(triton_model_config(cfg))

    async def _infer(request: web.Request) -> web.Response:
        try:
            check_model(request)
            header, binary = split_body(await request.read(), request.headers.get(HEADER_LENGTH))
            body = parse_json(header)
            client_id, array = parse_infer_request(body, cfg.input, binary, cfg.max_batch)
        except OipError as exc:
            return _error(exc.status, exc.message)
        ready, reason = health.state()
        if not ready:
            return _error(503, f"not ready: {reason}", headers={"Retry-After": "1"})
        if chain.table.full():
            return _error(
                503,
                f"{cfg.max_in_flight} requests already in flight; retry shortly",
                headers={"Retry-After": "1"},
            )
        try:
            result, version = await chain.infer(array)
        except ChainFailed as exc:
            return _error(504, f"chain did not answer: {exc}")
        request_id = client_id if client_id is not None else secrets.token_hex(8)
        if wants_binary_output(body):
            head, raw = infer_response_binary(cfg.model_name, version, request_id, cfg.output.name, result)
            return web.Response(
                body=head + raw,
                content_type="application/octet-stream",
                headers={HEADER_LENGTH: str(len(head))},
            )
        body = infer_response(cfg.model_name, version, request_id, cfg.output.name, result)
        return _json(body)

    app.router.add_get("/v2", server_metadata)
    app.router.add_post("/v2/repository/index", repository_index)
    app.router.add_get("/v2/models/{name}", model_metadata)
    app.router.add_get("/v2/models/{name}/versions/{version}", model_metadata)
    app.router.add_get("/v2/models/{name}/ready", model_ready)
    app.router.add_get("/v2/models/{name}/versions/{version}/ready", model_ready)
    app.router.add_get("/v2/models/{name}/config", model_config)
    app.router.add_get("/v2/models/{name}/versions/{version}/config", model_config)
    app.router.add_post("/v2/models/{name}/infer", infer)
    app.router.add_post("/v2/models/{name}/versions/{version}/infer", infer)
    return app


async def serve(cfg: DispatcherConfig) -> None:
    """Run until SIGTERM/SIGINT, then stop HTTP first (no new requests) and close the chain."""
    registry, health = Registry(), Health("starting")
    try:
        chain = Chain(cfg, DispatcherMetrics(registry), health)
    except zmqopts.CurveKeyError as exc:  # a missing or wrong Secret: one line, exit 1 (kubelet retries)
        log.error("cannot secure the chain: %s", exc)
        raise SystemExit(1) from exc
    runner = web.AppRunner(build_app(cfg, chain, health, registry), access_log=None)
    await runner.setup()
    try:
        chain.start()
    except zmq.ZMQError as exc:
        log.error("cannot bind result port %d: %s", cfg.result_port, exc)
        raise SystemExit(1) from exc
    await web.TCPSite(runner, cfg.address, cfg.http_port).start()
    log.info(
        "dispatcher for %s %s: HTTP on %d, results on %d, stage 1 at %s",
        cfg.model_name,
        cfg.model_version or "(any version: learned from the chain)",
        cfg.http_port,
        cfg.result_port,
        cfg.first.address,
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    log.info("dispatcher stopping: no new requests; draining %d held", len(chain.waiters))
    for site in list(runner.sites):  # no new requests; those held are still answered (drain)
        with contextlib.suppress(Exception):
            await site.stop()
    await chain.drain(cfg.deadline_seconds + 1.0)
    await chain.close()  # anything still waiting now gets a 504 "shutting down"
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    return run_process(
        argv,
        "python -m runtime.dispatcher",
        __doc__.splitlines()[0],
        "dispatcher",
        DispatcherConfig,
        serve,
        log,
    )


if __name__ == "__main__":
    sys.exit(main())
