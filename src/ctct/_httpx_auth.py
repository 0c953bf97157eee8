"""``HttpxAuth``: ctct's token handling for plain ``httpx`` clients (the ``ctct[httpx]``
extra). A module of its own so that only its users import httpx: ``ctct.HttpxAuth``
loads it on first use. The flow is ``BearerAuth``'s (``ctct._auth``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Never, NoReturn

import httpx

from ctct._auth import abearer_flow, bearer_flow, wrong_client
from ctct._manager import TokenManager


class HttpxAuth(httpx.Auth):
    """``httpx.Client(auth=HttpxAuth(manager))`` (or an ``httpx.AsyncClient``)."""

    requires_request_body = True  # replayed after a 401: the body is read twice

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        return bearer_flow(self.manager, request)

    def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return abearer_flow(self.manager, request)

    def __call__(self, request: Never) -> NoReturn:
        wrong_client("ctct.HttpxAuth (for httpx)", request)
