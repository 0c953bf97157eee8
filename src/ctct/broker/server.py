"""Where the broker listens: a unix socket (callers known by uid) or TCP with keys.

Off loopback the broker refuses to start unless TLS and keys are configured: a token
must never cross a network in clear text or to an unidentified caller.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from ctct.broker.peercred import PeerCredH11Protocol
from ctct.emulator.server import bind, is_loopback
from ctct.errors import ConfigError


@dataclass(frozen=True)
class Listen:
    """One of: ``socket_path``; or ``host``/``port`` (with keys, and TLS off loopback)."""

    socket_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    socket_mode: int = 0o600

    @property
    def tcp(self) -> bool:
        return self.socket_path is None

    def check(self, *, has_keys: bool) -> None:
        if self.tcp:
            if not has_keys:
                raise ConfigError(
                    "A TCP broker needs --key-file: callers must present a key "
                    "(make one with `ctct broker new-key NAME --key-file FILE`)."
                )
            if not is_loopback(self.host) and (self.tls_cert is None or self.tls_key is None):
                raise refuse_clear_text(self.host)
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("Give both --tls-cert and --tls-key, or neither.")


def refuse_clear_text(host: str) -> ConfigError:
    return ConfigError(
        f"Refusing to serve tokens on {host}, which is not a loopback address, without "
        "TLS: give --tls-cert and --tls-key, or listen on 127.0.0.1 or a unix socket."
    )


def bind_unix(path: Path, mode: int) -> socket.socket:
    """Listen on ``path``, replacing only a stale socket (never another kind of file)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise ConfigError(f"{path} exists and is not a socket; choose another --socket path.")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody listens: a broker that died left it
        else:
            raise ConfigError(f"Another broker already listens on {path}.")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # never world-connectable, even for a moment
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, mode)
    # Listen at once: a caller that sees the socket file may connect before the server
    # loop runs, and then waits in the backlog instead of being refused.
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


class BrokerServer:
    """The broker's app on its listener, in a background thread or the foreground."""

    def __init__(self, app: Starlette, listen: Listen) -> None:
        self.listen = listen
        if listen.socket_path is not None:
            self._socket = bind_unix(listen.socket_path, listen.socket_mode)
            self.address = str(listen.socket_path)
        else:
            self._socket = bind(listen.host, listen.port)
            port = self._socket.getsockname()[1]
            host = f"[{listen.host}]" if ":" in listen.host else listen.host
            scheme = "https" if listen.tls_cert else "http"
            self.address = f"{scheme}://{host}:{port}"
        config = uvicorn.Config(
            app,
            http=PeerCredH11Protocol,
            log_level="warning",
            access_log=False,  # the app logs caller and profile itself, never a token
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            ssl_certfile=str(listen.tls_cert) if listen.tls_cert else None,
            ssl_keyfile=str(listen.tls_key) if listen.tls_key else None,
            ssl_version=ssl.PROTOCOL_TLS_SERVER,
            backlog=4096,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._cleanup()

    def start(self, timeout: float = 10.0) -> BrokerServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the broker did not start")
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
        if self.listen.socket_path is not None:
            with contextlib.suppress(OSError):
                self.listen.socket_path.unlink()

    def __enter__(self) -> BrokerServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
