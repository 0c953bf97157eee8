"""Drop-in auth for HTTP clients: pass ``auth=`` and gain ctct's token handling.

``BearerAuth`` is an ``httpx2.Auth`` for sync and async clients; ``HttpxAuth`` is the
same for plain ``httpx`` (built on first use, so httpx stays optional); ``RequestsAuth``
is a ``requests`` auth. Each sets ``Authorization: Bearer`` from a ``TokenManager``
(refreshing when due) and, on a 401, refreshes once if the refused token is still the
current one and replays the request once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

import httpx2

from ctct._manager import TokenManager

if TYPE_CHECKING:
    import requests


def _bearer(header: str) -> str:
    return header[7:]  # strip "Bearer "


class BearerAuth(httpx2.Auth):
    """``httpx2.Client(auth=BearerAuth(manager))`` (or an ``AsyncClient``)."""

    # The request may be replayed after a 401, so its body must be readable twice.
    requires_request_body = True

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        header = self.manager.authorization()
        request.headers["Authorization"] = header
        response = yield request
        if response.status_code == 401:
            newer = self.manager.unauthorized(_bearer(header))
            if newer is not None:
                request.headers["Authorization"] = newer
                yield request

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        header = await self.manager.aauthorization()
        request.headers["Authorization"] = header
        response = yield request
        if response.status_code == 401:
            newer = await self.manager.aunauthorized(_bearer(header))
            if newer is not None:
                request.headers["Authorization"] = newer
                yield request


def httpx_auth(manager: TokenManager) -> Any:
    """The same auth for plain ``httpx`` clients (``httpx.Auth``)."""
    import httpx

    class HttpxAuth(httpx.Auth):
        requires_request_body = True

        def sync_auth_flow(
            self, request: httpx.Request
        ) -> Generator[httpx.Request, httpx.Response, None]:
            header = manager.authorization()
            request.headers["Authorization"] = header
            response = yield request
            if response.status_code == 401:
                newer = manager.unauthorized(_bearer(header))
                if newer is not None:
                    request.headers["Authorization"] = newer
                    yield request

        async def async_auth_flow(
            self, request: httpx.Request
        ) -> AsyncGenerator[httpx.Request, httpx.Response]:
            header = await manager.aauthorization()
            request.headers["Authorization"] = header
            response = yield request
            if response.status_code == 401:
                newer = await manager.aunauthorized(_bearer(header))
                if newer is not None:
                    request.headers["Authorization"] = newer
                    yield request

    return HttpxAuth()


class RequestsAuth:
    """``requests.get(url, auth=RequestsAuth(manager))`` or ``session.auth = ...``."""

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
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
