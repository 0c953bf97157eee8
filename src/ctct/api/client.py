"""``Client`` and ``AsyncClient``: the V3 API with tokens, limits and retries handled.

Each request goes through, in order: the flow (``ctct.api.flow``: retries and error
mapping), the URL check (``ctct.api.urls``: only the API base), ``BearerAuth`` (a valid
token, refreshed when due, one replay after a 401) and the rate-limited transport
(``ctct.api.limits``: a shared per-key budget taken right before each request goes on
the wire, replays included). Redirects are never followed.

    with ctct.Client() as client:                      # settings from env/config
        for contact in client.contacts.iter(status="all"):
            ...
        client.activities.json_import(rows, [list_id])  # split, uploaded, polled
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx2

from ctct import __version__, _redact
from ctct._aio import sleep, to_thread
from ctct._auth import BearerAuth
from ctct._manager import TokenManager
from ctct._sansio import adrive, drive
from ctct._settings import Settings
from ctct.api.account import Account, AsyncAccount
from ctct.api.activities import Activities, AsyncActivities
from ctct.api.contacts import AsyncContacts, Contacts
from ctct.api.custom_fields import AsyncCustomFields, CustomFields
from ctct.api.emails import AsyncEmailCampaigns, EmailCampaigns
from ctct.api.errors import QuotaExceeded
from ctct.api.flow import (
    Call,
    Flow,
    GrantedScopes,
    Json,
    Now,
    Require,
    Send,
    Sleep,
    call_flow,
    get,
    object_flow,
)
from ctct.api.limits import RateLimiter, RateLimits, limits_from_env
from ctct.api.lists import AsyncContactLists, ContactLists
from ctct.api.retry import RetryPolicy
from ctct.api.runner import next_href
from ctct.api.scopes import check_scopes, token_scopes
from ctct.api.tags import AsyncTags, Tags
from ctct.api.transport import AsyncLimitedTransport, LimitedTransport
from ctct.api.urls import ApiBase
from ctct.errors import ConfigError, CtctError
from ctct.stores import Store

T = TypeVar("T")

DEFAULT_POLL_INTERVAL = 1.0


class _Base:
    """Configuration shared by both clients."""

    def __init__(
        self,
        manager: TokenManager | None,
        *,
        settings: Settings | None,
        limits: RateLimits | None,
        retry: RetryPolicy | None,
        rate_store: Store | None,
        api_base_url: str | None,
        timeout: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        poll_interval: float,
    ) -> None:
        self._owns_manager = manager is None
        self.manager = manager if manager is not None else TokenManager.from_settings(settings)
        provider = self.manager.provider
        base = api_base_url or provider.api_base_url
        if base is None:
            raise ConfigError(
                "No API base URL: this provider profile has none (set CTCT_BASE_URL for "
                "the emulator, or use the Constant Contact profile)."
            )
        self.base = ApiBase(base)
        self.limits = limits or limits_from_env(RateLimits.for_provider(provider))
        self.limiter = RateLimiter(
            rate_store if rate_store is not None else self.manager.store,
            RateLimiter.bucket_for(self.manager.client.client_id, self.base.url),
            self.limits,
            clock=clock,
            sleep=sleep,
        )
        self.policy = retry or RetryPolicy()
        self.poll_interval = poll_interval
        self.clock = clock
        self._sleep = sleep
        self.timeout = timeout if timeout is not None else self.manager.timeout
        self._headers = {"User-Agent": f"ctct/{__version__}", "Accept": "application/json"}
        # The scope table is CC's contract: other providers' tokens are sent as they are.
        self._scope_checks = provider.is_constant_contact
        self._claimed: tuple[str, frozenset[str] | None] = ("", None)

    def _check_scopes(self, token: str, operations: tuple[tuple[str, str], ...]) -> None:
        """Raise ``InsufficientScope`` before sending (see ``ctct.api.scopes``)."""
        if not self._scope_checks:
            return
        if self._claimed[0] != token:
            self._claimed = (token, token_scopes(token))
        granted = self._claimed[1]
        if granted is None:
            return  # no scope claim: the server judges, as before
        for method, path in operations:
            check_scopes(method, path, granted, profile=self.manager.profile)

    def _refuse_unscoped(self, token: str, request: httpx2.Request) -> None:
        """``_check_scopes`` for the request about to be sent."""
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        self._check_scopes(token, ((request.method, path.removeprefix(self.base.path)),))

    def _build(self, http: httpx2.Client | httpx2.AsyncClient, call: Call) -> httpx2.Request:
        url = self.base.resolve(call.target)
        headers = {"Accept": call.accept, **call.headers}
        content = call.content
        if call.has_json:
            content = jsonlib.dumps(call.json, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        elif content is not None and call.content_type:
            headers["Content-Type"] = call.content_type
        params = (
            None
            if call.params is None
            else {k: _param(v) for k, v in call.params.items() if v is not None}
        )
        return http.build_request(
            call.method,
            url,
            params=params,
            content=content,
            files=call.files,
            data=call.data,
            headers=headers,
        )

    def _granted_scopes(self) -> frozenset[str] | None:
        tokens = self.manager.tokens()
        return None if tokens is None else tokens.scopes


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Client(_Base):
    """The V3 API, synchronously. Safe to share between threads.

    ``manager`` supplies tokens (default: ``TokenManager.from_settings(settings)``).
    ``limits`` (default: the provider's 4/s and 10,000/day) are shared through
    ``rate_store`` (default: the manager's token store) by every client of the same
    API key. ``transport`` replaces the HTTP transport (e.g. an in-process emulator).
    """

    def __init__(
        self,
        manager: TokenManager | None = None,
        *,
        settings: Settings | None = None,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        rate_store: Store | None = None,
        api_base_url: str | None = None,
        transport: httpx2.BaseTransport | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        super().__init__(
            manager,
            settings=settings,
            limits=limits,
            retry=retry,
            rate_store=rate_store,
            api_base_url=api_base_url,
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            poll_interval=poll_interval,
        )
        self.http = httpx2.Client(
            auth=BearerAuth(self.manager),
            transport=LimitedTransport(transport or httpx2.HTTPTransport(), self.limiter),
            timeout=self.timeout,
            follow_redirects=False,
            headers=self._headers,
        )
        self.account = Account(self)
        self.contacts = Contacts(self)
        self.lists = ContactLists(self)
        self.custom_fields = CustomFields(self)
        self.tags = Tags(self)
        self.activities = Activities(self)
        self.emails = EmailCampaigns(self)

    # -- generic calls ---------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx2.Response:
        """Send one request (``path`` relative to the API base, e.g. ``/contacts``);
        return the 2xx response or raise the mapped ``ApiError``."""
        call = _generic_call(method, path, params, json, content)
        return self.run(call_flow(call, self.policy))

    def pages(self, call: Call | str, params: dict[str, Any] | None = None) -> Iterator[Json]:
        """Each page of a paged GET, following ``_links.next.href`` (same origin only)."""
        first = get(call, params) if isinstance(call, str) else call
        body = self.run(object_flow(first, self.policy))
        yield body
        while (href := next_href(body)) is not None:
            body = self.run(object_flow(get(href, requirement=first.requirement), self.policy))
            yield body

    # -- the driver --------------------------------------------------------------------

    def run(self, flow: Flow[T]) -> T:
        """Drive a flow from ``ctct.api.flow`` with blocking I/O."""
        try:
            return self._drive(flow)
        except QuotaExceeded as exc:
            if not exc.local:
                self.limiter.note_exhausted()
            raise
        except CtctError as exc:
            # The API's text may echo any token of the grant, or the client secret.
            _redact.scrub(exc, self.manager.held_secrets())
            raise

    def _drive(self, flow: Flow[T]) -> T:
        # The same driver as the refresh engine and the login flows (ctct._sansio).
        return drive(flow, self._execute)

    def _execute(self, operation: object) -> Any:
        if isinstance(operation, Send):
            request = self._build(self.http, operation.call)
            if self._scope_checks:
                self._refuse_unscoped(self.manager.token(), request)
            # Read streamed bodies (multipart) now: a 401 replay sends them again.
            request.read()
            return self.http.send(request)
        if isinstance(operation, Require):
            if self._scope_checks:
                self._check_scopes(self.manager.token(), operation.operations)
            return None
        if isinstance(operation, Sleep):
            self._sleep(operation.seconds)
            return None
        if isinstance(operation, Now):
            return self.clock()
        if isinstance(operation, GrantedScopes):
            return self._granted_scopes()
        raise TypeError(f"unknown API operation {operation!r}")

    def close(self) -> None:
        self.http.close()
        if self._owns_manager:
            self.manager.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """The V3 API on an event loop (asyncio or trio through anyio); the same
    resources as ``Client``, awaited. ``transport`` is an ``httpx2.AsyncBaseTransport``."""

    def __init__(
        self,
        manager: TokenManager | None = None,
        *,
        settings: Settings | None = None,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        rate_store: Store | None = None,
        api_base_url: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        super().__init__(
            manager,
            settings=settings,
            limits=limits,
            retry=retry,
            rate_store=rate_store,
            api_base_url=api_base_url,
            timeout=timeout,
            clock=clock,
            sleep=time.sleep,
            poll_interval=poll_interval,
        )
        self.http = httpx2.AsyncClient(
            auth=BearerAuth(self.manager),
            transport=AsyncLimitedTransport(transport or httpx2.AsyncHTTPTransport(), self.limiter),
            timeout=self.timeout,
            follow_redirects=False,
            headers=self._headers,
        )
        self.account = AsyncAccount(self)
        self.contacts = AsyncContacts(self)
        self.lists = AsyncContactLists(self)
        self.custom_fields = AsyncCustomFields(self)
        self.tags = AsyncTags(self)
        self.activities = AsyncActivities(self)
        self.emails = AsyncEmailCampaigns(self)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx2.Response:
        call = _generic_call(method, path, params, json, content)
        return await self.run(call_flow(call, self.policy))

    async def pages(
        self, call: Call | str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[Json]:
        first = get(call, params) if isinstance(call, str) else call
        body = await self.run(object_flow(first, self.policy))
        yield body
        while (href := next_href(body)) is not None:
            body = await self.run(
                object_flow(get(href, requirement=first.requirement), self.policy)
            )
            yield body

    async def run(self, flow: Flow[T]) -> T:
        """Drive a flow from ``ctct.api.flow`` on the event loop."""
        try:
            return await self._drive(flow)
        except QuotaExceeded as exc:
            if not exc.local:
                self.limiter.note_exhausted()
            raise
        except CtctError as exc:
            held = await to_thread(self.manager.held_secrets)
            _redact.scrub(exc, held)
            raise

    async def _drive(self, flow: Flow[T]) -> T:
        return await adrive(flow, self._execute)

    async def _execute(self, operation: object) -> Any:
        if isinstance(operation, Send):
            request = self._build(self.http, operation.call)
            if self._scope_checks:
                self._refuse_unscoped(await self.manager.atoken(), request)
            await request.aread()
            return await self.http.send(request)
        if isinstance(operation, Require):
            if self._scope_checks:
                self._check_scopes(await self.manager.atoken(), operation.operations)
            return None
        if isinstance(operation, Sleep):
            await sleep(operation.seconds)
            return None
        if isinstance(operation, Now):
            return self.clock()
        if isinstance(operation, GrantedScopes):
            return await to_thread(self._granted_scopes)
        raise TypeError(f"unknown API operation {operation!r}")

    async def aclose(self) -> None:
        await self.http.aclose()
        if self._owns_manager:
            await self.manager.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _generic_call(
    method: str, path: str, params: dict[str, Any] | None, json: Any, content: bytes | None
) -> Call:
    method = method.upper()
    if json is not None:
        return Call(method, path, params=params, json=json, has_json=True)
    return Call(
        method,
        path,
        params=params,
        content=content,
        content_type="application/json" if content is not None else None,
    )
