"""Serving the status page: its secrets from files, its listener, uvicorn in a thread.

``serve_ui(keeper, ...)`` is what ``ctct keeper run --ui-listen HOST:PORT | --ui-socket
PATH [--no-auth]`` calls. We bind the unix socket ourselves, mode 0600 (uvicorn's own
``uds`` option makes it 0666): on a socket no operator login is asked, so the socket's
permissions are the boundary.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from starlette.applications import Starlette

from ctct._serve import SocketServer
from ctct.errors import ConfigError
from ctct.keeper.ui import ui_app
from ctct.keeper.ui_auth import OperatorCheck

if TYPE_CHECKING:
    from ctct.keeper.service import Keeper

log = logging.getLogger("ctct.keeper.ui")

DEFAULT_UI_LISTEN: Final = "127.0.0.1:7720"
OPERATOR_ENV: Final = "CTCT_KEEPER_UI_OPERATOR"
"""The operator's password hash (``scrypt$...``) or token, when no file is given."""


# -- secrets from files --------------------------------------------------------------------


def load_session_secret(path: Path) -> bytes:
    """The session/CSRF secret every replica shares (a file; ``write_session_secret``)."""
    try:
        info = path.stat()
        data = path.read_bytes().strip()
    except OSError as error:
        raise ConfigError(
            f"Cannot read the UI session secret {path}: {error.strerror}. Create it with "
            "`ctct keeper new-ui-secret FILE` and give every replica the same file."
        ) from None
    if info.st_mode & 0o077:
        raise ConfigError(f"The UI session secret {path} is readable by others: chmod 600 {path}.")
    return data


def load_operator_check(
    path: Path | None = None, *, environ: dict[str, str] | None = None
) -> OperatorCheck:
    """The operator's password hash or token from ``path``, else ``$CTCT_KEEPER_UI_OPERATOR``."""
    env = os.environ if environ is None else environ
    if path is not None:
        try:
            info = path.stat()
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"Cannot read the operator file {path}: {error.strerror}.") from None
        if info.st_mode & 0o077:
            raise ConfigError(f"The operator file {path} is readable by others: chmod 600 {path}.")
        return OperatorCheck(text)
    value = env.get(OPERATOR_ENV, "")
    if not value.strip():
        raise ConfigError(
            "The status page needs an operator login: give --operator-secret-file FILE (a hash "
            f"from `ctct keeper hash-password`, or a long token) or set {OPERATOR_ENV}; or "
            "listen on a unix socket (--ui-socket), or pass --no-auth."
        )
    return OperatorCheck(value)


# -- serving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UiListen:
    """``--ui-listen HOST:PORT`` or ``--ui-socket PATH``."""

    host: str = "127.0.0.1"
    port: int = 7720
    socket_path: Path | None = None

    @classmethod
    def parse(cls, listen: str | None = None, socket_path: str | Path | None = None) -> UiListen:
        if socket_path is not None:
            if listen is not None:
                raise ConfigError("Give --ui-listen or --ui-socket, not both.")
            return cls(socket_path=Path(socket_path))
        host, sep, port_text = (listen or DEFAULT_UI_LISTEN).rpartition(":")
        if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ConfigError(f"--ui-listen wants HOST:PORT, got {listen!r}.")
        return cls(host=host.strip("[]") or "127.0.0.1", port=int(port_text))

    def default_hosts(self, public_url: str | None) -> list[str]:
        hosts = ["localhost"]
        if self.socket_path is None and self.host not in ("0.0.0.0", "::"):  # noqa: S104
            hosts.append(f"[{self.host}]" if ":" in self.host else self.host)
        if public_url is not None:
            hostname = urlsplit(public_url).hostname or ""
            hosts.append(f"[{hostname}]" if ":" in hostname else hostname)
        return hosts


def bind_listener(listen: UiListen) -> tuple[socket.socket, str]:
    """The listening socket and its address (``http://HOST:PORT`` or the socket path)."""
    from ctct.broker.server import bind_unix
    from ctct.emulator.server import bind

    if listen.socket_path is not None:
        # Mode 0600: no login is asked on a socket, so its permissions are the boundary.
        sock = bind_unix(listen.socket_path, 0o600, what="keeper UI", flag="--ui-socket")
        return sock, str(listen.socket_path)
    sock = bind(listen.host, listen.port)
    sock.listen(128)
    port = sock.getsockname()[1]
    host = f"[{listen.host}]" if ":" in listen.host else listen.host
    return sock, f"http://{host}:{port}"


class UiServer(SocketServer):
    """The status page on its listener, served by uvicorn in a background thread."""

    def __init__(self, app: Starlette, listen: UiListen, bound: tuple[socket.socket, str]) -> None:
        sock, self.address = bound
        super().__init__(app, sock, unlink=listen.socket_path)

    def start(self, timeout: float = 10.0) -> UiServer:
        super().start(timeout)
        return self


def serve_ui(
    keeper: Keeper,
    *,
    listen: str | None = None,
    socket_path: str | Path | None = None,
    no_auth: bool = False,
    operator_file: Path | None = None,
    session_secret_file: Path | None = None,
    public_url: str | None = None,
    allowed_hosts: Iterable[str] = (),
    environ: dict[str, str] | None = None,
) -> UiServer:
    """Build the status page for ``ctct keeper run`` and start serving it.

    ``listen`` (``HOST:PORT``, default 127.0.0.1:7720) or ``socket_path``; an operator
    login (``operator_file`` or ``$CTCT_KEEPER_UI_OPERATOR``) unless on a socket or
    ``no_auth``; ``session_secret_file`` shared by every replica (without one, a random
    secret: sessions then work on this replica only, and a warning says so);
    ``public_url`` (default ``http://HOST:PORT`` for a TCP listener) for connecting;
    ``allowed_hosts`` adds to the listener's and the public URL's host names.
    Returns the running server: ``.address``, ``.stop()``.
    """
    where = UiListen.parse(listen, socket_path)
    auth = None
    # A socket or --no-auth need no login; an operator file given anyway is still used.
    if (where.socket_path is None and not no_auth) or operator_file is not None:
        auth = load_operator_check(operator_file, environ=environ)
    if session_secret_file is not None:
        secret = load_session_secret(session_secret_file)
    else:
        log.warning(
            "no UI session secret file: sessions work on this replica only (give every "
            "replica the same --ui-secret-file)"
        )
        secret = secrets.token_bytes(32)
    # Bound first: the default public URL needs the port (HOST:0 picks one).
    bound = bind_listener(where)
    if public_url is None and where.socket_path is None:
        public_url = bound[1]
    hosts = [*where.default_hosts(public_url), *allowed_hosts]
    try:
        app = ui_app(
            keeper, allowed_hosts=hosts, auth=auth, session_secret=secret, public_url=public_url
        )
    except BaseException:
        bound[0].close()
        raise
    return UiServer(app, where, bound).start()
