"""Drop-in auth for HTTP clients: pass ``auth=`` and gain ctct's token handling.

One class per HTTP client, each setting ``Authorization: Bearer`` from a
``TokenManager`` (refreshing when due) and, on a 401, refreshing once if the refused
token is still the current one and replaying the request once:

* ``BearerAuth``: ``httpx2`` (sync and async clients);
* ``HttpxAuth`` (``ctct._httpx_auth``): plain ``httpx``, sync and async;
* ``RequestsAuth``: ``requests`` (the ``ctct[requests]`` extra).

Handed to another client, each says which one to use instead: ``httpx``, ``httpx2`` and
``requests`` all call an auth object they do not know as a function, which lands in
``__call__`` below (instead of a cryptic ``TypeError`` or ``AttributeError``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, MutableMapping
from typing import TYPE_CHECKING, Any, Never, NoReturn, Protocol, TypeVar

import httpx2

from ctct._manager import TokenManager

if TYPE_CHECKING:
    import requests

# The auth class for each HTTP client, by the top-level module of its request type.
AUTH_FOR = {
    "httpx2": "ctct.BearerAuth(manager)",
    "httpx": "ctct.HttpxAuth(manager)",
    "requests": "ctct.RequestsAuth(manager)",
}


def wrong_client(given: str, request: object) -> NoReturn:
    """Raise the ``TypeError`` that tells what to pass instead of ``given``."""
    library = type(request).__module__.split(".")[0]
    instead = AUTH_FOR.get(library)
    what = f"{library} clients" if instead else f"an HTTP client that sends {type(request)!r}"
    advice = (
        f"use auth={instead} instead"
        if instead
        else "ctct has auth for httpx2 (BearerAuth), httpx (HttpxAuth) and requests (RequestsAuth)"
    )
    raise TypeError(f"{given} is not the auth for {what}: {advice}.")


class _Request(Protocol):
    @property
    def headers(self) -> MutableMapping[str, str]: ...


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...


Req = TypeVar("Req", bound=_Request)
Resp = TypeVar("Resp", bound=_Response)


def _bearer(header: str) -> str:
    return header[7:]  # strip "Bearer "


def bearer_flow(manager: TokenManager, request: Req) -> Generator[Req, Resp, None]:
    """The httpx-style auth flow (httpx and httpx2 alike): send with the current token;
    after a 401, once more with a newer one if the manager has it."""
    header = manager.authorization()
    request.headers["Authorization"] = header
    response = yield request
    if response.status_code == 401:
        newer = manager.unauthorized(_bearer(header))
        if newer is not None:
            request.headers["Authorization"] = newer
            yield request


async def abearer_flow(manager: TokenManager, request: Req) -> AsyncGenerator[Req, Resp]:
    """``bearer_flow`` for async clients."""
    header = await manager.aauthorization()
    request.headers["Authorization"] = header
    response = yield request
    if response.status_code == 401:
        newer = await manager.aunauthorized(_bearer(header))
        if newer is not None:
            request.headers["Authorization"] = newer
            yield request


class BearerAuth(httpx2.Auth):
    """``httpx2.Client(auth=BearerAuth(manager))`` (or an ``AsyncClient``)."""

    # The request may be replayed after a 401, so its body must be readable twice.
    requires_request_body = True

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        return bearer_flow(self.manager, request)

    def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        return abearer_flow(self.manager, request)

    def __call__(self, request: Never) -> NoReturn:
        # Only another HTTP client calls it (httpx2 uses the flows above). ``Never``:
        # a type checker still refuses it as a plain function auth, as before.
        wrong_client("ctct.BearerAuth (for httpx2)", request)


class RequestsAuth:
    """``requests.get(url, auth=RequestsAuth(manager))`` or ``session.auth = ...``."""

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if not type(request).__module__.startswith("requests."):
            wrong_client("ctct.RequestsAuth (for requests)", request)
        header = self.manager.authorization()
        request.headers["Authorization"] = header
        request.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        sent = response.request.headers.get("Authorization", "")
        if not sent.startswith("Bearer ") or getattr(response.request, "_ctct_replayed", False):
            return response
        newer = self.manager.unauthorized(_bearer(sent))
        if newer is None:
            return response
        # Replay once, as requests' own HTTPDigestAuth does: same connection adapter.
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        replay = response.request.copy()
        replay.headers["Authorization"] = newer
        replay._ctct_replayed = True  # type: ignore[attr-defined]
        retried: requests.Response = response.connection.send(replay, **kwargs)
        retried.history.append(response)
        retried.request = replay
        return retried
