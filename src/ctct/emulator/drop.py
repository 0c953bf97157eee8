"""Make the injected "drop" fault drop the connection on a real socket.

``FaultMiddleware`` raises ``DroppedConnection`` inside the app. Left alone, Starlette's
``ServerErrorMiddleware`` (always the outermost layer of a Starlette app) answers it with
a 500, and uvicorn logs a traceback: the client would see a 500, not a dropped connection.

``DropConnectionMiddleware`` wraps the whole Starlette app, outside that layer. It holds
back a 500 until the app has finished; if the app ended with ``DroppedConnection`` it
closes the socket without answering (the client sees "server disconnected without
sending a response") and swallows the exception, so nothing is logged. Any other 500 is
sent unchanged.

Closing the socket needs the server's transport, which ASGI does not expose; uvicorn's
``send`` is a bound method of its request cycle, which holds it. When the transport cannot
be found (another server, or an in-process transport) the exception propagates as before.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctct.emulator.faults import DroppedConnection


class DropConnectionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def send_or_hold(message: Message) -> None:
            # A 500 may be Starlette's answer to DroppedConnection: keep it until we know.
            if held or (message["type"] == "http.response.start" and message["status"] == 500):
                held.append(message)
                return
            await send(message)

        async def flush() -> None:
            for message in held:
                await send(message)
            held.clear()

        try:
            await self.app(scope, receive, send_or_hold)
        except DroppedConnection:
            if close_connection(send):
                return
            raise
        except Exception:
            await flush()
            raise
        await flush()


def close_connection(send: Send) -> bool:
    """Close the client's connection under an ASGI ``send``; False if it cannot be found."""
    cycle: Any = getattr(send, "__self__", None)
    transport: Any = getattr(cycle, "transport", None)
    if transport is None or not callable(getattr(transport, "close", None)):
        return False
    # Tell uvicorn the client is gone, so it neither sends its own 500 into the closed
    # socket nor logs "ASGI callable returned without starting response".
    with contextlib.suppress(AttributeError):
        cycle.disconnected = True
    transport.close()
    return True
