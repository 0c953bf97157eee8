"""The ops listener: ``/livez``, ``/readyz`` and ``/metrics`` for the kubelet and Prometheus.

No authentication (it shows no account, only counts), so it may bind a pod address.
``/livez`` answers from the scheduling loop's heartbeat alone: while the store is down
the loop keeps ticking (and failing its store calls), so a store outage does not make
Kubernetes restart every replica. ``/readyz`` is the one that asks the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctct.keeper.metrics import KeeperMetrics


@dataclass
class Heartbeat:
    """The scheduling loop's pulse, on the monotonic clock."""

    tick_interval: float
    last_tick: float | None = None
    started: float = 0.0

    def beat(self) -> None:
        self.last_tick = time.monotonic()

    def alive(self, now: float | None = None) -> tuple[bool, float | None]:
        """Alive while the loop ticked within a few intervals (or is just starting)."""
        now = time.monotonic() if now is None else now
        allowed = max(10.0, 5 * self.tick_interval)
        if self.last_tick is None:
            return now - self.started < allowed + 30.0, None
        age = now - self.last_tick
        return age < allowed, age


def ops_app(
    heartbeat: Heartbeat,
    metrics: KeeperMetrics,
    ready: Callable[[], tuple[bool, dict[str, str]]],
) -> Starlette:
    """``ready()`` checks the store and keys (blocking I/O: run in a worker thread)."""

    async def livez(request: Request) -> Response:
        ok, age = heartbeat.alive()
        body = {"status": "ok" if ok else "stalled", "last_tick_age_seconds": age}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def readyz(request: Request) -> Response:
        ok, checks = await run_in_threadpool(ready)
        return JSONResponse(
            {"status": "ok" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    async def metrics_endpoint(request: Request) -> Response:
        data = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/livez", livez),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ]
    )
