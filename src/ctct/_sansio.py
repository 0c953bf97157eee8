"""The pieces every sans-I/O flow in ctct shares: the common operations a flow yields,
and the sync and async drivers that run a flow against an executor.

A flow is a generator: it yields an operation, the driver carries it out and sends the
result back (or throws the operation's exception in), until the flow returns. The
refresh engine (``ctct._refresh``) and the login flows (``ctct.flows``) are written this
way, so each is one implementation for sync and async callers and is tested without I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send one request to the provider. Result: the fully read ``httpx2.Response``."""

    request: httpx2.Request


@dataclass(frozen=True)
class TakeRate:
    """Take one token from the shared bucket. Result: seconds to wait (0.0 = taken)."""

    bucket: str
    rate: float


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Verify:
    """Verify an access token (may fetch the JWKS). Result: its ``AccessTokenClaims``.

    ``skew``: the provider's clock minus ours, measured from the ``Date`` of the response
    that brought the token (``TokenSet.clock_skew``); verification compares ``iat``,
    ``nbf`` and ``exp`` with the provider's clock, as the expiry maths does."""

    token: str
    skew: float = 0.0


def drive(flow: Generator[Any, Any, T], execute: Callable[[Any], Any]) -> T:
    """Run ``flow`` to its end, carrying out each operation with ``execute``."""
    operation = next(flow)
    while True:
        try:
            result = execute(operation)
        except Exception as error:
            try:
                operation = flow.throw(error)
            except StopIteration as stop:
                value: T = _value(stop)
                return value
            continue
        try:
            operation = flow.send(result)
        except StopIteration as stop:
            result_value: T = _value(stop)
            return result_value


async def adrive(flow: Generator[Any, Any, T], execute: Callable[[Any], Awaitable[Any]]) -> T:
    """``drive`` with an async executor."""
    operation = next(flow)
    while True:
        try:
            result = await execute(operation)
        except Exception as error:
            try:
                operation = flow.throw(error)
            except StopIteration as stop:
                value: T = _value(stop)
                return value
            continue
        try:
            operation = flow.send(result)
        except StopIteration as stop:
            result_value: T = _value(stop)
            return result_value


def _value(stop: StopIteration) -> Any:
    return stop.value  # the flow's return value (typed by the flow's Generator[..., T])
