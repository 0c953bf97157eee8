"""A loopback TCP proxy whose link can be cut and restored, for the fault tests.

``TcpProxy(port)`` listens on a free loopback port and forwards each connection to
``127.0.0.1:port``. Proxies built with one ``Link`` share its state, so a "host" whose
every connection (store, emulator) goes through proxies of one link can be cut off at
once:

- ``link.cut()``: nothing is forwarded in either direction, and new connections are
  accepted but not forwarded. Data already sent waits (it is not dropped), as TCP's
  retransmissions would deliver it once a real link came back;
- ``link.restore()``: everything waiting flows again;
- ``proxy.trip(pattern, toward="client")``: cut the link the moment a chunk containing
  ``pattern`` arrives travelling that way, *before* forwarding it (e.g. the token
  endpoint's answer: the server acted, the client never hears); ``tripped`` is set.
- ``proxy.notify(pattern, toward="server")``: forward as usual and set ``seen`` (the
  test then acts at that point, e.g. restarts a store while a refresh is in flight).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Literal, Self

Toward = Literal["client", "server"]


class Link:
    """The shared up/down state of one host's connections."""

    def __init__(self) -> None:
        self._up = True
        self._changed = threading.Condition()

    @property
    def up(self) -> bool:
        return self._up

    def cut(self) -> None:
        with self._changed:
            self._up = False

    def restore(self) -> None:
        with self._changed:
            self._up = True
            self._changed.notify_all()

    def wait_up(self, stopping: threading.Event) -> None:
        with self._changed:
            while not self._up and not stopping.is_set():
                self._changed.wait(0.1)


class TcpProxy:
    """Forwards loopback connections to ``target_port``; see the module docstring."""

    def __init__(self, target_port: int, link: Link | None = None) -> None:
        self.target_port = target_port
        self.link = link if link is not None else Link()
        self.tripped = threading.Event()
        self.seen = threading.Event()
        self._trip: tuple[bytes, Toward] | None = None
        self._notify: tuple[bytes, Toward] | None = None
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepter = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    def start(self) -> Self:
        self._accepter.start()
        return self

    def trip(self, pattern: bytes, toward: Toward = "client") -> None:
        self.tripped.clear()
        self._trip = (pattern, toward)

    def notify(self, pattern: bytes, toward: Toward = "server") -> None:
        self.seen.clear()
        self._notify = (pattern, toward)

    def url(self, template: str) -> str:
        """``template`` with ``{port}`` as this proxy's port."""
        return template.format(port=self.port)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.link.wait_up(self._stopping)  # a cut link: the connection hangs, unanswered
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, server]
        for source, sink, toward in ((client, server, "server"), (server, client, "client")):
            threading.Thread(target=self._pump, args=(source, sink, toward), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, toward: Toward) -> None:
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                trip = self._trip
                if trip is not None and trip[1] == toward and trip[0] in chunk:
                    self._trip = None
                    self.link.cut()
                    self.tripped.set()
                self.link.wait_up(self._stopping)
                if self._stopping.is_set():
                    break
                sink.sendall(chunk)
                notify = self._notify
                if notify is not None and notify[1] == toward and notify[0] in chunk:
                    self._notify = None
                    self.seen.set()
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopping.set()
        self.link.restore()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
