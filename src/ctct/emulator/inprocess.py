"""Run the emulator inside the test process: sync and async httpx2 transports.

httpx2's ``ASGITransport`` is async only; ``SyncASGITransport`` drives it from a
private event-loop thread (an anyio blocking portal) so synchronous code, like a
sync ``ctct.Client``, can talk to an in-process emulator over the same ASGI app.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp

from ctct.emulator.faults import DroppedConnection


class SyncASGITransport(httpx2.BaseTransport):
    def __init__(self, app: ASGIApp, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self._async = httpx2.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None

    def _get_portal(self) -> BlockingPortal:
        if self._portal is None:
            self._portal = self._stack.enter_context(start_blocking_portal())
        return self._portal

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        async def call() -> tuple[int, Any, bytes]:
            body = request.read()  # a streamed (e.g. multipart) body is read here
            async_request = httpx2.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            try:
                response = await self._async.handle_async_request(async_request)
            except DroppedConnection:
                # What a client sees over a socket when the "drop" fault closes it.
                raise httpx2.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from None
            content = await response.aread()
            return response.status_code, response.headers, content

        status, headers, content = self._get_portal().call(call)
        return httpx2.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        self._stack.close()
        self._portal = None


_DROPPED = "Server disconnected without sending a response."


class AsyncASGITransport(httpx2.ASGITransport):
    """httpx2's ASGI transport, with the "drop" fault seen as over a socket."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await super().handle_async_request(request)
        except DroppedConnection:
            raise httpx2.RemoteProtocolError(_DROPPED, request=request) from None


def async_transport(app: ASGIApp) -> httpx2.AsyncBaseTransport:
    return AsyncASGITransport(app=app)
