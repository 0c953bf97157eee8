"""The unix-socket peer's credentials, in the ASGI scope.

uvicorn does not expose ``SO_PEERCRED``, so the broker runs uvicorn with this protocol
class: when a connection is made it asks the kernel who is on the other end of the
socket (uid, gid and pid, as the kernel recorded them at ``connect()``: the caller
cannot forge them) and wraps the app for that connection so every request's scope
carries them under ``scope["extensions"]["ctct.peer"]``. TCP connections get nothing
there: TCP callers are known by their key instead.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

PEER_EXTENSION = "ctct.peer"
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_credentials(sock: socket.socket) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of a connected unix-socket peer, or None for other sockets."""
    if sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return pid, uid, gid


class _WithPeer:
    def __init__(self, app: ASGIApp, peer: tuple[int, int, int]) -> None:
        self.app = app
        self.peer = {"pid": peer[0], "uid": peer[1], "gid": peer[2]}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions[PEER_EXTENSION] = self.peer
        await self.app({**scope, "extensions": extensions}, receive, send)


class PeerCredH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, adding the peer's credentials to each request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock: Any = transport.get_extra_info("socket")
        peer = peer_credentials(sock) if sock is not None else None
        if peer is not None:
            self.app = _WithPeer(self.app, peer)


def peer_of(scope: Scope) -> dict[str, int] | None:
    extensions = scope.get("extensions") or {}
    peer = extensions.get(PEER_EXTENSION)
    return peer if isinstance(peer, dict) else None
