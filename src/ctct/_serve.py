"""An ASGI app on a socket we bound ourselves, served by uvicorn in a thread or in the
foreground: what the broker, the keeper's ops listener and its status page share."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn


class SocketServer:
    """``app`` on ``sock``; ``unlink`` is removed on stop (a unix socket's path)."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        unlink: Path | None = None,
        http: type[asyncio.Protocol] | str = "h11",
        **config: Any,
    ) -> None:
        self._socket = sock
        self._unlink = unlink
        settings: dict[str, Any] = {
            "log_level": "warning",
            "access_log": False,  # request lines may carry codes; we log what matters
            "server_header": False,
            "lifespan": "off",
            "timeout_graceful_shutdown": 2,
            "backlog": 4096,
            **config,
        }
        self._server = uvicorn.Server(uvicorn.Config(app, http=http, **settings))
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._cleanup()

    def start(self, timeout: float = 10.0) -> SocketServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._cleanup()

    def _cleanup(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()
        if self._unlink is not None:
            with contextlib.suppress(OSError):
                self._unlink.unlink()

    def __enter__(self) -> SocketServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
