"""A tiny scriptable HTTP server on 127.0.0.1 for provider-facing tests.

Each path answers with whatever the test put in ``routes``; ``hits`` counts requests,
so tests can tell whether ctct asked (again) or not.
"""

from __future__ import annotations

import inspect
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Response | Awaitable[Response]]


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

        async def dispatch(request: Request) -> Response:
            path = request.url.path
            self.hits[path] += 1
            body = await request.body()
            self.requests.append((request.method, str(request.url), dict(request.headers), body))
            handler = self.routes.get(path)
            if handler is None:
                return Response("not found", status_code=404)
            result = handler(request)
            if inspect.isawaitable(result):
                return await result
            return result

        app = Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("loopback server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
