"""Fault injection for the next N token or API calls: 500, 503, a timeout, a garbled
body, a dropped connection. Applied by an ASGI middleware before the real handler,
so an injected fault never changes state (a refresh that "failed" did not rotate)."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from ctct import _cc

FaultKind = Literal["500", "503", "timeout", "garbled", "drop"]
FaultTarget = Literal["token", "api"]
FAULT_KINDS: tuple[FaultKind, ...] = ("500", "503", "timeout", "garbled", "drop")

TOKEN_PATHS = frozenset({_cc.TOKEN_PATH, _cc.TOKEN_ALIAS_PATH})


class DroppedConnection(Exception):
    """Raised inside the app so the server closes the connection without answering."""


@dataclass
class Fault:
    kind: FaultKind
    delay: float = 30.0  # for "timeout": how long the server stays silent


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[FaultTarget, deque[Fault]] = {"token": deque(), "api": deque()}

    def inject(
        self, target: FaultTarget, kind: FaultKind, count: int = 1, delay: float = 30.0
    ) -> None:
        with self._lock:
            self._queues[target].extend(Fault(kind, delay) for _ in range(count))

    def take(self, target: FaultTarget) -> Fault | None:
        with self._lock:
            queue = self._queues[target]
            return queue.popleft() if queue else None

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {target: len(q) for target, q in self._queues.items()}

    def reset(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()


def target_of(path: str) -> FaultTarget | None:
    if path in TOKEN_PATHS:
        return "token"
    if path.startswith(_cc.API_BASE_PATH + "/"):
        return "api"
    return None


class FaultMiddleware:
    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = target_of(scope["path"])
        fault = self.faults.take(target) if target else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "drop":
            raise DroppedConnection("fault injected: connection dropped")
        if fault.kind == "timeout":
            await asyncio.sleep(fault.delay)
            status, body, ctype = 504, b"", b"text/plain"
        elif fault.kind == "garbled":
            status, body, ctype = 200, b'{"access_token": "\x00\xff garbled', b"application/json"
        else:
            status = int(fault.kind)
            body = b'[{"error_key":"server_error","error_message":"Injected fault"}]'
            if target == "token":
                body = b'{"error":"server_error","error_description":"Injected fault"}'
            ctype = b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
