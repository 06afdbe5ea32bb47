from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from runtime.health import Health, add_health_routes
from runtime.metrics import Registry


def test_live_ready_and_metrics_routes() -> None:
    async def scenario() -> None:
        health, registry = Health("loading weights"), Registry()
        registry.counter("demo_total", "Demo.").inc()
        app = web.Application()
        add_health_routes(app, health, registry)
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/v2/health/live")).status == 200
            resp = await client.get("/v2/health/ready")
            assert resp.status == 503 and await resp.json() == {"ready": False, "reason": "loading weights"}
            health.set_ready()
            resp = await client.get("/v2/health/ready")
            assert resp.status == 200 and await resp.json() == {"ready": True}
            resp = await client.get("/metrics")
            assert (
                resp.headers["Content-Type"].startswith("text/plain") and "demo_total 1" in await resp.text()
            )
            health.set_unready("ZeroMQ error")
            assert health.state() == (False, "ZeroMQ error")

    asyncio.run(scenario())
