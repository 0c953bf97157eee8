"""Serve the emulator on a real loopback socket, in a background thread or in the
foreground (``ctct emulator``)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from ctct.emulator.app import Emulator, create_app
from ctct.emulator.config import EmulatorConfig
from ctct.emulator.drop import DropConnectionMiddleware
from ctct.emulator.hosts import ROLES


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        # Outermost, so an injected "drop" fault closes the socket instead of a 500.
        DropConnectionMiddleware(app),
        host=host,
        port=port,
        log_level="warning",
        # Never log request lines: callback URLs carry authorization codes.
        access_log=False,
        # The emulator sets Date from its own (advanceable) clock.
        date_header=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it Nagle + delayed ACK add ~40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.set_inheritable(True)
    return sock


class EmulatorServer:
    """An emulator listening on a loopback port in a background thread.

    >>> with EmulatorServer() as server:
    ...     server.base_url   # e.g. "http://127.0.0.1:53117"
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        emulator: Emulator | None = None,
        identity_port: int = 0,
        api_port: int = 0,
    ) -> None:
        """``identity_port``/``api_port``: with ``split_hosts``, where CC's identity host
        and API listen (0: any free port); ``port`` is the authorization server's."""
        self.emulator = emulator or Emulator(config)
        self.app = create_app(emulator=self.emulator)
        self._sockets = [bind(host, port)]
        self.host = host
        self.port: int = self._sockets[0].getsockname()[1]
        if self.emulator.config.split_hosts:
            self._sockets += [bind(host, identity_port), bind(host, api_port)]
            ports = [s.getsockname()[1] for s in self._sockets]
            self.emulator.host_roles.ports = dict(zip(ROLES, ports, strict=True))
        self._server = uvicorn.Server(_uvicorn_config(self.app, host, self.port))
        self._thread: threading.Thread | None = None

    def _url(self, port: int) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The authorization server's origin, which also serves the control API."""
        return self._url(self.port)

    @property
    def origins(self) -> dict[str, str]:
        """The origin of each of CC's hosts (all ``base_url`` unless split)."""
        ports = self.emulator.host_roles.ports
        return {role: self._url(ports.get(role, self.port)) for role in ROLES}

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": self._sockets}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self.emulator.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
