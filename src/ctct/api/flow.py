"""Sans-I/O request flows: the logic of a call (retries, error mapping, polling) as a
generator that yields operations and receives their results, as httpx's auth flows do.

One flow serves both clients: ``Client`` drives it with blocking I/O, ``AsyncClient``
on the event loop (``drive``/``adrive`` in ``ctct.api.client``). Operations:

- ``Send(call)`` -> the ``httpx2.Response`` (or the transport's exception thrown in);
- ``Sleep(seconds)`` -> None (retry backoff, activity polling);
- ``GrantedScopes()`` -> the scopes of the stored grant (only to explain a 403);
- ``Require(operations)`` -> None, or ``InsufficientScope`` thrown in: a bulk job checks
  the token's scopes for every operation it will use before its first row (each
  ``Send`` is checked too, by the driver, see ``ctct.api.scopes``).

Resource modules build their operations from ``call_flow``/``json_flow``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2

from ctct._describe import describe_error
from ctct.api.errors import (
    ApiError,
    ErrorItem,
    QuotaExceeded,
    Requirement,
    error_from_response,
)
from ctct.api.retry import RetryPolicy, may_retry_exception, may_retry_status, retry_after_seconds
from ctct.errors import NetworkError

T = TypeVar("T")

Json = dict[str, Any]
Params = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True)
class Call:
    """One API request, described. ``target`` is resolved against the API base by the
    driver (a path such as ``/contacts`` or a ``next`` link)."""

    method: str
    target: str
    params: Params | None = None
    json: Any = None
    has_json: bool = False
    files: Any = None
    content: bytes | None = None
    """A pre-serialized body (sent with ``content_type``), e.g. an import whose size was
    measured against CC's 4 MB limit."""
    content_type: str | None = None
    data: Mapping[str, Any] | None = None
    accept: str = "application/json"
    requirement: Requirement | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Send:
    call: Call


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class GrantedScopes:
    pass


@dataclass(frozen=True)
class Now:
    pass


@dataclass(frozen=True)
class Require:
    """Check the token's scopes for ``(METHOD, path)`` operations before starting."""

    operations: tuple[tuple[str, str], ...]


Op = Send | Sleep | GrantedScopes | Now | Require
Flow = Generator[Op, Any, T]


def get(target: str, params: Params | None = None, **kwargs: Any) -> Call:
    return Call("GET", target, params=params, **kwargs)


def with_body(method: str, target: str, body: Any, **kwargs: Any) -> Call:
    return Call(method, target, json=body, has_json=True, **kwargs)


def call_flow(call: Call, policy: RetryPolicy) -> Flow[httpx2.Response]:
    """Send ``call``, retrying per ``policy``; return the 2xx response or raise."""
    attempt = 1
    while True:
        try:
            response: httpx2.Response = yield Send(call)
        except QuotaExceeded:
            raise  # the local count: nothing was sent
        except httpx2.TransportError as exc:
            if attempt < policy.attempts and may_retry_exception(call.method, exc):
                wait = policy.backoff(attempt)
                if wait > 0:
                    yield Sleep(wait)
                attempt += 1
                continue
            raise _network_error(call, exc, attempt) from None
        if response.is_success:
            return response
        now: float = yield Now()
        retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
        granted = None
        if response.status_code == 403 and call.requirement is not None:
            granted = yield GrantedScopes()
        error = error_from_response(
            response,
            now=now,
            requirement=call.requirement,
            granted_scopes=granted,
            retry_after=retry_after,
        )
        if attempt < policy.attempts and may_retry_status(
            call.method, response.status_code, error.code
        ):
            delay = policy.wait_for(attempt, retry_after)
            if delay is not None:
                if delay > 0:
                    yield Sleep(delay)
                attempt += 1
                continue
        raise error


def json_flow(call: Call, policy: RetryPolicy) -> Flow[Any]:
    """``call_flow`` returning the parsed JSON body (None for an empty one, e.g. 204)."""
    response = yield from call_flow(call, policy)
    return parse_json(response)


def object_flow(call: Call, policy: RetryPolicy) -> Flow[Json]:
    """``json_flow`` for endpoints that answer a JSON object."""
    body = yield from json_flow(call, policy)
    if not isinstance(body, dict):
        raise _unexpected(call, f"a JSON object, not {type(body).__name__}")
    return body


def parse_json(response: httpx2.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            f"HTTP {response.status_code}: the API answered a body that is not JSON "
            f"({response.headers.get('content-type', 'no content type')}).",
            status=response.status_code,
        ) from None


def map_flow(flow: Flow[T], fn: Callable[[T], Any]) -> Flow[Any]:
    result = yield from flow
    return fn(result)


def _network_error(call: Call, exc: Exception, attempts: int) -> NetworkError:
    tries = f" after {attempts} tries" if attempts > 1 else ""
    hint = (
        ""
        if call.method.upper() in ("GET", "HEAD", "PUT", "DELETE")
        else (
            " It was not retried: it may have reached the server, and repeating it could "
            "act twice. Check before sending it again."
        )
    )
    return NetworkError(
        f"{call.method} {call.target.split('?', 1)[0]} failed{tries}: {describe_error(exc)}.{hint}"
    )


def _unexpected(call: Call, what: str) -> ApiError:
    return ApiError(
        f"{call.method} {call.target.split('?', 1)[0]}: expected {what} from the API.",
        status=200,
    )


__all__ = [
    "Call",
    "ErrorItem",
    "Flow",
    "GrantedScopes",
    "Json",
    "Now",
    "Require",
    "Send",
    "Sleep",
    "call_flow",
    "get",
    "json_flow",
    "object_flow",
    "with_body",
]
