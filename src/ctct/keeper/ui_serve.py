"""Serving the status page: its secrets from files, its listener, uvicorn in a thread.

``serve_ui(keeper, ...)`` is what ``ctct keeper run --ui-listen HOST:PORT | --ui-socket
PATH [--no-auth]`` calls. A unix socket is created mode 0600 by us (uvicorn's own
``uds`` option makes it 0666): on a socket no operator login is asked, so the socket's
permissions are the boundary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from starlette.applications import Starlette

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


def write_session_secret(path: Path) -> None:
    """Create a new random session secret file (mode 0600); refuses to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists: remove it first to make a new secret.") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


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
            "The status page needs an operator login: give --ui-operator-file FILE (a hash "
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
    from ctct.emulator.server import bind

    if listen.socket_path is not None:
        return bind_private_socket(listen.socket_path), str(listen.socket_path)
    sock = bind(listen.host, listen.port)
    sock.listen(128)
    port = sock.getsockname()[1]
    host = f"[{listen.host}]" if ":" in listen.host else listen.host
    return sock, f"http://{host}:{port}"


class UiServer:
    """The status page on its listener, served by uvicorn in a background thread."""

    def __init__(
        self, app: Starlette, listen: UiListen, bound: tuple[socket.socket, str] | None = None
    ) -> None:
        import uvicorn

        self.listen = listen
        self._socket, self.address = bound if bound is not None else bind_listener(listen)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,  # the callback's query string carries an authorization code
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server: uvicorn.Server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> UiServer:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="ctct-keeper-ui",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the keeper UI did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._socket.close()
        if self.listen.socket_path is not None:
            with contextlib.suppress(OSError):
                self.listen.socket_path.unlink()

    def __enter__(self) -> UiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def bind_private_socket(path: Path) -> socket.socket:
    """A unix socket only its owner can connect to (0600; uvicorn's own ``uds`` makes
    it 0666, which would let every local user past the missing login)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise ConfigError(f"{path} exists and is not a socket; choose another --ui-socket.")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # nobody listens: a keeper that died left it
        else:
            raise ConfigError(f"Something already listens on {path}.")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # never connectable by others, even for a moment
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


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
            "replica the same --ui-session-secret-file)"
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
