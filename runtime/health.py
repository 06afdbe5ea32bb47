"""Health state and the HTTP routes every runtime process serves: liveness, readiness and /metrics.

Liveness says "the process answers"; readiness says "send me traffic" and carries the reason when not
ready (e.g. a weight chunk with the wrong sha256), so a failing pod explains itself without a crash loop.
"""

from __future__ import annotations

import threading

from aiohttp import web

from runtime.metrics import Registry

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"


class Health:
    """Readiness flag plus the reason it is false; set from any thread.

    `fail` is sticky: once a part of the process is dead (a task, the relay loop), a later `set_ready`
    from a part that still works (e.g. a fresh ZMTP handshake) must not hide it.
    """

    def __init__(self, reason: str = "starting") -> None:
        self._lock = threading.Lock()
        self._ready = False
        self._reason = reason
        self._failed: str | None = None

    def set_ready(self) -> None:
        with self._lock:
            if self._failed is None:
                self._ready, self._reason = True, ""

    def set_unready(self, reason: str) -> None:
        with self._lock:
            self._ready, self._reason = False, self._failed or reason

    def fail(self, reason: str) -> None:
        with self._lock:
            self._failed = reason
            self._ready, self._reason = False, reason

    def state(self) -> tuple[bool, str]:
        with self._lock:
            return self._ready, self._reason


def add_health_routes(app: web.Application, health: Health, registry: Registry) -> None:
    """``GET /v2/health/live``, ``GET /v2/health/ready`` (Open Inference Protocol) and ``GET /metrics``."""

    async def live(_: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def ready(_: web.Request) -> web.Response:
        is_ready, reason = health.state()
        body = {"ready": is_ready} if is_ready else {"ready": False, "reason": reason}
        return web.json_response(body, status=200 if is_ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=registry.render().encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE}
        )

    app.router.add_get("/v2/health/live", live)
    app.router.add_get("/v2/health/ready", ready)
    app.router.add_get("/metrics", metrics)
