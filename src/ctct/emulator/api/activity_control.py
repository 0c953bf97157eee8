"""Control routes for the bulk-activity worker (no token; loopback only, like the rest of
``/__emulator``), so tests can watch every state of an activity deterministically:

- ``POST /__emulator/activities/pause``: the worker stops after its current step; new
  activities stay ``initialized``.
- ``POST /__emulator/activities/step``: advance the oldest unfinished activity by one step
  (``{"stepped": true|false}``).
- ``POST /__emulator/activities/run``: run every unfinished activity to the end now
  (``{"steps": n}``), paused or not.
- ``POST /__emulator/activities/resume``: the worker runs again.
- ``GET /__emulator/activities``: ``{"paused": bool, "chunk_size": n}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

PREFIX = "/__emulator/activities"


def routes(emu: Emulator) -> list[BaseRoute]:
    runner = emu.accounts.runner

    async def state(request: Request) -> Response:
        return JSONResponse({"paused": runner.paused, "chunk_size": runner.chunk_size})

    async def pause(request: Request) -> Response:
        await run_in_threadpool(runner.pause)  # waits for the current step
        return JSONResponse({"paused": True})

    async def resume(request: Request) -> Response:
        runner.resume()
        return JSONResponse({"paused": False})

    async def step(request: Request) -> Response:
        return JSONResponse({"stepped": await run_in_threadpool(runner.step)})

    async def run(request: Request) -> Response:
        return JSONResponse({"steps": await run_in_threadpool(runner.drain)})

    return [
        Route(PREFIX, state, methods=["GET"]),
        Route(PREFIX + "/pause", pause, methods=["POST"]),
        Route(PREFIX + "/resume", resume, methods=["POST"]),
        Route(PREFIX + "/step", step, methods=["POST"]),
        Route(PREFIX + "/run", run, methods=["POST"]),
    ]
