"""Operations the login flows yield, and the sync and async drivers that carry them out.

The flows (``_device``, ``_code``) are generators with no I/O of their own, as the
refresh engine is: one implementation serves ``Login.device()`` and
``await Login.adevice()``. A driver sends each operation's result back into the
generator, or throws the operation's exception into it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import httpx2

from ctct import _oauth_http, _redact
from ctct._jwt import AccessTokenClaims, JwtVerifier
from ctct._manager import TokenManager
from ctct._sansio import Send as Send
from ctct._sansio import Sleep as Sleep
from ctct._sansio import TakeRate as TakeRate
from ctct._sansio import Verify as Verify
from ctct._sansio import adrive, drive
from ctct._tokens import TokenSet
from ctct.errors import CtctError
from ctct.flows._events import EventHandler, LoginEvent

if TYPE_CHECKING:
    from ctct.flows._loopback import LoopbackReceiver
    from ctct.flows._pages import Page

log = logging.getLogger("ctct.flows")

T = TypeVar("T")

Opener = Callable[[str], object]
"""Opens a URL in a browser; a falsy return or an exception means it could not."""
AskSync = Callable[[str], str]
AskAsync = Callable[[str], str | Awaitable[str]]


@dataclass(frozen=True)
class Emit:
    event: LoginEvent


@dataclass(frozen=True)
class Save:
    """Store the grant durably (``TokenManager.save``). Result: None."""

    tokens: TokenSet


@dataclass(frozen=True)
class OpenBrowser:
    """Open ``url`` with the opener. Result: whether it says it did."""

    url: str


@dataclass(frozen=True)
class AwaitCallback:
    """Wait for the loopback callback. Result: its raw query string."""

    receiver: LoopbackReceiver
    timeout: float


@dataclass(frozen=True)
class Respond:
    """Answer the browser waiting on the loopback callback with ``page``."""

    receiver: LoopbackReceiver
    page: Page


@dataclass(frozen=True)
class Ask:
    """Ask the person for the redirected URL (or code). Result: what they pasted."""

    prompt: str


Operation = (
    Send | TakeRate | Sleep | Emit | Verify | Save | OpenBrowser | AwaitCallback | Respond | Ask
)
Flow = Generator[Operation, Any, T]


@dataclass
class Io:
    """Everything the drivers need to carry out operations."""

    manager: TokenManager
    timeout: float
    verifier: JwtVerifier | None
    on_event: EventHandler | None
    sleep: Callable[[float], None]
    asleep: Callable[[float], Awaitable[None]]
    http: Callable[[], httpx2.Client]
    async_http: Callable[[], httpx2.AsyncClient]
    opener: Opener | None = None
    ask: AskSync | None = None
    aask: AskAsync | None = None

    def emit(self, event: LoginEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            # A broken printer must not abort a login half way (a code already issued).
            log.exception("the on_event callback failed on %s", type(event).__name__)

    def open(self, url: str) -> bool:
        if self.opener is None:
            return False
        try:
            return bool(self.opener(url))
        except Exception as exc:
            log.info("could not open a browser: %s", type(exc).__name__)
            return False

    def _verifier(self) -> tuple[JwtVerifier, str]:
        jwks_uri = self.manager.provider.jwks_uri
        if self.verifier is None or jwks_uri is None:
            raise RuntimeError("Verify yielded without a verifier")  # a flow bug
        return self.verifier, jwks_uri


def run(flow: Flow[T], io: Io) -> T:
    """Drive ``flow`` synchronously."""
    try:
        return drive(flow, lambda operation: _execute(operation, io))
    except CtctError as error:
        # The flow masked what its requests carried; the grant being replaced and the
        # client secret are masked here.
        _redact.scrub(error, io.manager.held_secrets())
        raise


async def arun(flow: Flow[T], io: Io) -> T:
    """Drive ``flow`` on an event loop (store calls go to worker threads)."""
    try:
        return await adrive(flow, lambda operation: _aexecute(operation, io))
    except CtctError as error:
        _redact.scrub(error, await anyio.to_thread.run_sync(io.manager.held_secrets))
        raise


def _execute(operation: Operation, io: Io) -> Any:
    if isinstance(operation, Send):
        return _oauth_http.send(io.http(), operation.request, timeout=io.timeout)
    if isinstance(operation, TakeRate):
        return io.manager.store.acquire_rate(operation.bucket, operation.rate, 1.0)
    if isinstance(operation, Sleep):
        io.sleep(operation.seconds)
        return None
    if isinstance(operation, Emit):
        io.emit(operation.event)
        return None
    if isinstance(operation, Verify):
        verifier, jwks_uri = io._verifier()
        http = io.http()
        return verifier.verify(
            operation.token,
            lambda: _oauth_http.fetch_jwks(http, jwks_uri, timeout=io.timeout),
            skew=operation.skew,
        )
    if isinstance(operation, Save):
        io.manager.save(operation.tokens)
        return None
    if isinstance(operation, OpenBrowser):
        return io.open(operation.url)
    if isinstance(operation, AwaitCallback):
        return operation.receiver.wait(operation.timeout)
    if isinstance(operation, Respond):
        operation.receiver.respond(operation.page)
        return None
    if io.ask is None:
        raise RuntimeError("the paste flow needs an ask callable")
    return io.ask(operation.prompt)


async def _aexecute(operation: Operation, io: Io) -> Any:
    if isinstance(operation, Send):
        return await _oauth_http.asend(io.async_http(), operation.request, timeout=io.timeout)
    if isinstance(operation, TakeRate):
        store, bucket, rate = io.manager.store, operation.bucket, operation.rate
        return await anyio.to_thread.run_sync(lambda: store.acquire_rate(bucket, rate, 1.0))
    if isinstance(operation, Sleep):
        await io.asleep(operation.seconds)
        return None
    if isinstance(operation, Verify):
        verifier, jwks_uri = io._verifier()
        client = io.async_http()

        async def fetch() -> bytes:
            return await _oauth_http.afetch_jwks(client, jwks_uri, timeout=io.timeout)

        claims: AccessTokenClaims = await verifier.averify(
            operation.token, fetch, skew=operation.skew
        )
        return claims
    if isinstance(operation, Save):
        manager, tokens = io.manager, operation.tokens
        await anyio.to_thread.run_sync(lambda: manager.save(tokens))
        return None
    if isinstance(operation, OpenBrowser):
        url = operation.url
        # webbrowser may start a process and block a moment: keep the loop free.
        return await anyio.to_thread.run_sync(lambda: io.open(url))
    if isinstance(operation, AwaitCallback):
        return await operation.receiver.await_(operation.timeout)
    if isinstance(operation, Respond):
        receiver, page = operation.receiver, operation.page
        await anyio.to_thread.run_sync(lambda: receiver.respond(page))
        return None
    if isinstance(operation, Ask):
        if io.aask is None:
            raise RuntimeError("the paste flow needs an ask callable")
        answer = io.aask(operation.prompt)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer
    return _execute(operation, io)  # Emit: no I/O
