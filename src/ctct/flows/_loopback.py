"""The loopback redirect receiver (RFC 8252 7.3): a tiny HTTP server on 127.0.0.1.

* binds 127.0.0.1 only, on the registered redirect URI's port, or on any free port
  when the URI names none (the provider must then accept any loopback port);
* answers exactly one request on the callback path; other paths get 404 (a browser
  may ask for ``/favicon.ico``), a second callback 410; the caller closes it after;
* holds the browser's request open until the caller has exchanged the code, so the
  page it shows tells the truth (connected, or what went wrong);
* never logs a request line: it carries the authorization code;
* one thread per connection, each with a socket timeout, so a browser's idle
  pre-connection cannot block the real request;
* serves the login's start address (``start_url``, a random path): the browser is
  opened there, not at the authorization URL, because a browser's command line is
  readable by every local user and the authorization URL carries the ``state`` (with
  it, a callback carrying someone else's code would be accepted: their account planted
  in our store) and the PKCE challenge. The start address redirects to the
  authorization URL once; a second fetch means someone else read it too, so it aborts
  the login (the waiting flow raises ``FlowError`` ``start_reused``).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

import anyio

from ctct._wording import duration
from ctct.errors import ConfigError, FlowError, FlowTimedOut
from ctct.flows._pages import ABANDONED, PAGE_HEADERS, Page

RESPONSE_WAIT: Final = 120.0
"""How long the browser's request waits for the caller's page before a fallback one."""
DELIVERY_WAIT: Final = 5.0
_LOOPBACK_HOST: Final = "127.0.0.1"


class _Slot:
    """The one callback: its query, and the page to answer it with."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.page: Page | None = None
        self.ready = threading.Event()
        self.delivered = threading.Event()


class LoopbackReceiver:
    """Listens for one redirect on ``redirect_uri`` (read it after construction: a URI
    without a port gets the free port chosen here)."""

    def __init__(self, redirect_uri: str, *, port: int | None = None) -> None:
        parts = urlsplit(redirect_uri)
        try:
            uri_port = parts.port
        except ValueError:
            raise ConfigError(f"The redirect URI {redirect_uri!r} has an invalid port.") from None
        if parts.scheme != "http" or parts.hostname != _LOOPBACK_HOST:
            raise _not_loopback(redirect_uri)
        if parts.query or parts.fragment or parts.username:
            raise ConfigError(
                f"The redirect URI {redirect_uri!r} must not carry a query, fragment or user."
            )
        self.path = parts.path or "/"
        bind_port = port if port is not None else (uri_port or 0)
        self._lock = threading.Lock()
        self._slot: _Slot | None = None
        self._arrived = threading.Event()
        self._closed = False
        self.start_path = "/start/" + secrets.token_urlsafe(18)
        self._target: str | None = None
        self._start_fetches = 0
        self._aborted: FlowError | None = None
        try:
            self._server = _Server((_LOOPBACK_HOST, bind_port), _Handler, self)
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on 127.0.0.1:{bind_port} for the browser login "
                f"({exc.strerror or exc}): another program (or login) uses that port. Free "
                "it, register a redirect URI without a port (any free one is then used), or "
                "use the paste or device flow."
            ) from None
        self.port: int = self._server.server_address[1]
        self.redirect_uri = f"http://{_LOOPBACK_HOST}:{self.port}{self.path}"
        self.start_url = f"http://{_LOOPBACK_HOST}:{self.port}{self.start_path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ctct-loopback",
            daemon=True,
        )
        self._thread.start()

    def serve_start(self, authorization_url: str) -> str:
        """Make ``start_url`` redirect (once) to ``authorization_url``; return it."""
        self._target = authorization_url
        return self.start_url

    # -- called by the handler threads ------------------------------------------------

    def _claim(self, query: str) -> _Slot | None:
        with self._lock:
            if self._slot is not None or self._closed or self._aborted is not None:
                return None
            self._slot = _Slot(query)
        self._arrived.set()
        return self._slot

    def _start(self) -> str | None:
        """The authorization URL for the first fetch of the start address; None for any
        later one, which aborts the login (see the module docstring)."""
        with self._lock:
            self._start_fetches += 1
            if self._start_fetches == 1 and self._target is not None:
                return self._target
            if self._slot is None and self._aborted is None:
                self._aborted = _start_reused()
        self._arrived.set()
        return None

    # -- called by the flow's driver --------------------------------------------------

    def wait(self, timeout: float) -> str:
        """The callback's query string; ``FlowTimedOut`` after ``timeout`` seconds."""
        if not self._arrived.wait(timeout):
            raise self._timed_out(timeout)
        return self._answer()

    async def await_(self, timeout: float) -> str:
        """``wait`` for async code (cancellable)."""
        deadline = time.monotonic() + timeout
        while not self._arrived.is_set():
            if time.monotonic() >= deadline:
                raise self._timed_out(timeout)
            await anyio.sleep(0.05)
        return self._answer()

    def _answer(self) -> str:
        if self._aborted is not None:
            raise self._aborted
        assert self._slot is not None
        return self._slot.query

    def respond(self, page: Page) -> None:
        """Answer the waiting browser with ``page`` and wait (briefly) until it is sent,
        so a process exiting right after the login still shows the person the page."""
        slot = self._slot
        if slot is None or slot.ready.is_set():
            return
        slot.page = page
        slot.ready.set()
        slot.delivered.wait(DELIVERY_WAIT)

    def close(self) -> None:
        """Stop listening; a browser still waiting gets a fallback page."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        slot = self._slot
        if slot is not None and not slot.ready.is_set():
            slot.page = ABANDONED
            slot.ready.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _timed_out(timeout: float) -> FlowTimedOut:
        return FlowTimedOut(
            f"No answer from the browser within {duration(timeout)}, so the login was not "
            "completed. Run it again and approve in the browser, or use the paste flow "
            "(--no-browser) or the device flow.",
            code="timeout",
        )


def _start_reused() -> FlowError:
    return FlowError(
        "Warning: the login's start address was opened twice, so another program or user "
        "on this machine may have read it from the browser's command line; this login was "
        "stopped and nothing was stored. Run it again, or use the device flow (--device) "
        "or the paste flow (--no-browser), which put nothing on a command line.",
        code="start_reused",
    )


def _not_loopback(redirect_uri: str) -> ConfigError:
    return ConfigError(
        f"The browser login listens on 127.0.0.1 only, so its redirect URI must be "
        f"http://127.0.0.1[:port]/path, not {redirect_uri!r}. Register such a URI for "
        "the app (e.g. http://127.0.0.1/callback) and set CTCT_REDIRECT_URI, or use "
        "the paste or device flow."
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], receiver: LoopbackReceiver
    ) -> None:
        self.receiver = receiver
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # Plain bind: HTTPServer.server_bind would resolve the host name (slow, pointless).
        # SO_REUSEADDR lets a fixed port be reused while old connections sit in TIME_WAIT;
        # on POSIX it never lets two sockets listen on one port (on Windows it would).
        if os.name != "nt":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()[:2]


_START_REUSED: Final = Page(
    410,
    "Login stopped",
    "This login's address was opened more than once, so it was stopped for safety. Start "
    "the login again from the terminal.",
    False,
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 15  # seconds a connection may stay silent (browsers pre-connect)
    protocol_version = "HTTP/1.1"
    server_version = "ctct"
    sys_version = ""

    def do_GET(self) -> None:
        receiver = self.server.receiver
        path, _, query = self.path.partition("?")
        if path == receiver.start_path:
            target = receiver._start()
            if target is None:
                self._send(_START_REUSED)
            else:
                self._redirect(target)
            return
        if path != receiver.path:
            self._send(Page(404, "Not found", "This address is not part of the login.", False))
            return
        slot = receiver._claim(query)
        if slot is None:
            self._send(
                Page(410, "Already answered", "This login has already received its answer.", False)
            )
            return
        slot.ready.wait(RESPONSE_WAIT)
        self._send(slot.page or ABANDONED)
        slot.delivered.set()

    def do_POST(self) -> None:
        self._send(Page(405, "Method not allowed", "Only GET is used here.", False))

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _redirect(self, location: str) -> None:
        try:
            self.send_response(303)
            self.send_header("Location", location)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _send(self, page: Page) -> None:
        body = page.html()
        try:
            self.send_response(page.status)
            for name, value in PAGE_HEADERS.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            pass  # the browser went away; nothing to tell it
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Never log: the request line carries the authorization code."""
