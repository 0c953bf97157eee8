"""Where the broker listens: a unix socket (callers known by uid) or TCP with keys.

Off loopback the broker refuses to start unless TLS and keys are configured: a token
must never cross a network in clear text or to an unidentified caller.
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette

from ctct._serve import SocketServer
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


def bind_unix(
    path: Path, mode: int, *, what: str = "broker", flag: str = "--socket"
) -> socket.socket:
    """Listen on ``path``, replacing only a stale socket (never another kind of file).
    ``what`` and ``flag`` name the server and its option in errors."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise ConfigError(f"{path} exists and is not a socket; choose another {flag} path.")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody listens: a server that died left it
        else:
            raise ConfigError(f"Another {what} already listens on {path}.")
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


class BrokerServer(SocketServer):
    """The broker's app on its listener, in a background thread or the foreground."""

    def __init__(self, app: Starlette, listen: Listen) -> None:
        self.listen = listen
        if listen.socket_path is not None:
            sock = bind_unix(listen.socket_path, listen.socket_mode)
            self.address = str(listen.socket_path)
        else:
            sock = bind(listen.host, listen.port)
            port = sock.getsockname()[1]
            host = f"[{listen.host}]" if ":" in listen.host else listen.host
            scheme = "https" if listen.tls_cert else "http"
            self.address = f"{scheme}://{host}:{port}"
        super().__init__(
            app,
            sock,
            unlink=listen.socket_path,
            http=PeerCredH11Protocol,
            ssl_certfile=str(listen.tls_cert) if listen.tls_cert else None,
            ssl_keyfile=str(listen.tls_key) if listen.tls_key else None,
            ssl_version=ssl.PROTOCOL_TLS_SERVER,
        )
