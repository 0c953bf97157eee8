"""``Login``: every way to obtain a grant for one profile, sync and async.

Each method stores the grant durably (``TokenManager.save``) before it returns, holds
the profile's login lock while it runs (a second login for the profile waits, then may
reuse what the first stored), and reports progress through ``on_event``.
"""

from __future__ import annotations

import time
import webbrowser
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Final

import anyio
import anyio.to_thread
import httpx2

from ctct._jwt import JwtVerifier
from ctct._manager import TokenManager
from ctct._secret import Secret, as_secret
from ctct._settings import Settings
from ctct._tokens import TokenSet
from ctct.errors import AuthorizationRequired, FlowError, TransientProviderError
from ctct.flows._browser import browser_flow, paste_flow
from ctct.flows._code import (
    DEFAULT_REDIRECT_URI,
    AuthorizationRequest,
    PkceChoice,
    authorization_request,
    uses_pkce,
)
from ctct.flows._common import DEFAULT_MAX_RATE_WAIT, FlowContext
from ctct.flows._device import device_flow
from ctct.flows._events import (
    EventHandler,
    FlowName,
    LoginCompleted,
    LoginEvent,
    LoginResult,
    requested_scopes,
)
from ctct.flows._gate import DEFAULT_WAIT, LoginGate
from ctct.flows._loopback import LoopbackReceiver
from ctct.flows._run import AskAsync, AskSync, Flow, Io, Opener, arun, run
from ctct.flows._show import EventPrinter, shown
from ctct.stores import Store

DEFAULT_BROWSER_TIMEOUT: Final = 300.0
"""Five minutes: as long as CC keeps an authorization code, and plenty to sign in."""


class Login:
    """Obtain and store a grant for ``manager``'s profile.

    ``device()``, ``browser()``, ``paste(ask)`` and ``import_tokens(...)`` (and their
    ``a``-prefixed async twins) each return a ``LoginResult`` once the grant is stored.
    ``offline_access`` is always requested. ``on_event`` receives ``LoginEvent`` objects
    (user code, URLs, waiting, scope differences) for the caller to show. Without one, the
    person sees them on stderr as ``ctct auth login`` shows them (the device code, its URL
    and, on a terminal, a QR code); ``show`` forces that display on (``True``, beside
    ``on_event``) or off (``False``: a silent login).
    """

    def __init__(
        self,
        manager: TokenManager,
        *,
        scopes: Iterable[str] | None = None,
        redirect_uri: str | None = None,
        on_event: EventHandler | None = None,
        show: bool | None = None,
        pkce: PkceChoice = None,
        verify: bool = True,
        wait_for_other_login: float = DEFAULT_WAIT,
        reuse_other_login: bool = True,
        http: httpx2.Client | None = None,
        async_http: httpx2.AsyncClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        leeway: float = 60.0,
        owns_manager: bool = False,
    ) -> None:
        """``scopes``: what to ask for (default: the provider's default scopes);
        ``redirect_uri``: the registered one (default ``http://127.0.0.1/callback``);
        ``pkce``: when to send PKCE (default: the provider profile's ``pkce``; see
        ``PkceChoice``); ``redirect_uri`` with a port binds that port (a provider that
        matches redirect URIs exactly needs the registered one);
        ``verify``: check the new access token's signature and claims before storing;
        ``wait_for_other_login``: seconds to wait for a concurrent login of the profile;
        ``reuse_other_login``: return the grant that login stored instead of asking again;
        ``sleep``/``asleep``: how the device flow waits (tests pass a virtual clock's).
        """
        self.manager = manager
        provider = manager.provider
        self.scopes = requested_scopes(scopes, provider.default_scopes, provider.offline_scope)
        self.redirect_uri = redirect_uri or DEFAULT_REDIRECT_URI
        # What the person sees (the CLI's display); closed when each flow ends, which
        # stops a device login's live countdown.
        self._printer: EventPrinter | None = None
        if show or (show is None and on_event is None):
            self._printer = EventPrinter(manager.clock)
            on_event = shown(self._printer, on_event)
        self.on_event = on_event
        self.pkce = pkce
        self.wait_for_other_login = wait_for_other_login
        self.reuse_other_login = reuse_other_login
        self._sleep = sleep
        self._asleep = asleep
        self._http = http
        self._owns_http = http is None
        self._async_http = async_http
        self._owns_async_http = async_http is None
        self._owns_manager = owns_manager
        self._ctx = FlowContext(
            provider=provider,
            client=manager.client,
            profile=manager.profile,
            scopes=self.scopes,
            clock=manager.clock,
            verify=verify,
            held=manager.held_secrets,
        )
        self._verifier: JwtVerifier | None = None
        if verify and provider.jwks_uri is not None and provider.access_token_format != "opaque":
            self._verifier = JwtVerifier.for_provider(
                provider, manager.client.client_id, clock=manager.clock, leeway=leeway
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        **options: Any,
    ) -> Login:
        """A login for the configured profile: its provider, client, store, scopes and
        redirect URI. ``options`` are ``Login`` keyword arguments."""
        settings = settings or Settings.load()
        manager = TokenManager.from_settings(settings, store=store)
        options.setdefault("scopes", settings.scopes)
        options.setdefault("redirect_uri", settings.login_redirect_uri())
        options.setdefault("leeway", settings.leeway)
        return cls(manager, owns_manager=True, **options)

    @property
    def profile(self) -> str:
        return self.manager.profile

    # -- device flow ----------------------------------------------------------------------

    def device(self, *, timeout: float | None = None) -> LoginResult:
        """Device flow (RFC 8628): emits ``DeviceCodeIssued``, polls until approved.
        ``timeout``: give up earlier than the code's own expiry."""
        return self._locked("device", lambda: device_flow(self._ctx, timeout=timeout))

    async def adevice(self, *, timeout: float | None = None) -> LoginResult:
        return await self._alocked("device", lambda: device_flow(self._ctx, timeout=timeout))

    # -- browser on this machine (loopback redirect) --------------------------------------

    def browser(
        self,
        *,
        opener: Opener | None = None,
        timeout: float = DEFAULT_BROWSER_TIMEOUT,
        port: int | None = None,
    ) -> LoginResult:
        """Authorization code flow with a loopback redirect on 127.0.0.1.

        ``opener(url)`` opens the browser (default ``webbrowser.open``); ``port``
        overrides the redirect URI's. The code is exchanged the moment the browser
        arrives, and the browser is shown whether that worked.
        """
        receiver: list[LoopbackReceiver] = []

        def make() -> Flow[LoginResult]:
            request, loopback = self._loopback(port)
            receiver.append(loopback)
            return browser_flow(self._ctx, request, loopback, timeout=timeout)

        try:
            return self._locked("browser", make, opener=opener or webbrowser.open)
        finally:
            for loopback in receiver:
                loopback.close()

    async def abrowser(
        self,
        *,
        opener: Opener | None = None,
        timeout: float = DEFAULT_BROWSER_TIMEOUT,
        port: int | None = None,
    ) -> LoginResult:
        receiver: list[LoopbackReceiver] = []

        def make() -> Flow[LoginResult]:
            request, loopback = self._loopback(port)
            receiver.append(loopback)
            return browser_flow(self._ctx, request, loopback, timeout=timeout)

        try:
            return await self._alocked("browser", make, opener=opener or webbrowser.open)
        finally:
            for loopback in receiver:
                await anyio.to_thread.run_sync(loopback.close)

    def _loopback(self, port: int | None) -> tuple[AuthorizationRequest, LoopbackReceiver]:
        loopback = LoopbackReceiver(self.redirect_uri, port=port)
        try:
            request = self.authorization_request(loopback.redirect_uri)
        except BaseException:
            loopback.close()
            raise
        return request, loopback

    # -- browser elsewhere (paste the redirected URL) -------------------------------------

    def paste(self, ask: AskSync) -> LoginResult:
        """No browser here: emits ``AuthorizationUrlReady`` (open it anywhere), then
        ``ask(prompt)`` returns what the person pasted: the redirected URL, or the code."""
        request = self.authorization_request()
        return self._locked("paste", lambda: paste_flow(self._ctx, request), ask=ask)

    async def apaste(self, ask: AskAsync) -> LoginResult:
        """``paste`` for async code; ``ask`` may be a coroutine function."""
        request = self.authorization_request()
        return await self._alocked("paste", lambda: paste_flow(self._ctx, request), aask=ask)

    def authorization_request(self, redirect_uri: str | None = None) -> AuthorizationRequest:
        """A fresh authorization URL with new ``state`` (and PKCE verifier)."""
        return authorization_request(
            self.manager.provider,
            self.manager.client.client_id,
            redirect_uri=redirect_uri or self.redirect_uri,
            scopes=self.scopes,
            pkce=uses_pkce(self.manager.provider, self.manager.client.confidential, self.pkce),
        )

    # -- tokens the person already has ---------------------------------------------------

    def import_tokens(
        self,
        refresh_token: str | Secret,
        *,
        access_token: str | Secret | None = None,
    ) -> LoginResult:
        """Store tokens obtained elsewhere, verified by one forced refresh. On any
        failure the previously stored grant (if any) is put back."""
        tokens = self._imported(refresh_token, access_token)
        gate = self._gate()
        gate.enter()
        try:
            previous = self.manager.tokens()
            self.manager.save(tokens)
            try:
                refreshed = self._refresh_within_rate_limit()
                self._check_import(refreshed)
            except BaseException:
                self._restore(previous)
                raise
        finally:
            gate.exit()
        return self._imported_result(refreshed)

    def _refresh_within_rate_limit(self) -> TokenSet:
        """The import's verifying refresh, waiting out the token endpoint's 429s (the
        token may come from a login made elsewhere a moment ago, which our shared bucket
        never saw). A 429 is refused unread, so the refresh token is still unused."""
        waited = 0.0
        while True:
            try:
                return self.manager.refresh(force=True)
            except TransientProviderError as error:
                wait = _rate_wait(error, waited)
                if wait is None:
                    raise
            self._sleep(wait)
            waited += wait

    async def _arefresh_within_rate_limit(self) -> TokenSet:
        waited = 0.0
        while True:
            try:
                return await self.manager.arefresh(force=True)
            except TransientProviderError as error:
                wait = _rate_wait(error, waited)
                if wait is None:
                    raise
            await self._asleep(wait)
            waited += wait

    async def aimport_tokens(
        self,
        refresh_token: str | Secret,
        *,
        access_token: str | Secret | None = None,
    ) -> LoginResult:
        tokens = self._imported(refresh_token, access_token)
        gate = self._gate()
        await gate.aenter()
        try:
            previous = await anyio.to_thread.run_sync(self.manager.tokens)
            await anyio.to_thread.run_sync(self.manager.save, tokens)
            try:
                refreshed = await self._arefresh_within_rate_limit()
                self._check_import(refreshed)
            except BaseException:
                await anyio.to_thread.run_sync(self._restore, previous)
                raise
        finally:
            gate.exit()
        return self._imported_result(refreshed)

    def _imported(self, refresh_token: str | Secret, access_token: str | Secret | None) -> TokenSet:
        refresh = as_secret(refresh_token)
        if not refresh.reveal().strip():
            raise FlowError(
                "The refresh token to import is empty: pass the refresh token itself "
                "(e.g. from CTCT_REFRESH_TOKEN or standard input).",
                code="empty_token",
            )
        access = as_secret(access_token) if access_token is not None else None
        return TokenSet.imported(
            issuer=self.manager.provider.storage_issuer,
            client_id=self.manager.client.client_id,
            now=self.manager.clock(),
            refresh_token=Secret(refresh.reveal().strip()),
            access_token=access if access is not None and access.reveal().strip() else None,
        )

    @staticmethod
    def _check_import(refreshed: TokenSet) -> None:
        # refresh() returns the stored tokens even when it could not refresh (a transient
        # failure while an imported access token is valid, or a rejected refresh token
        # with the access token still usable): only a completed refresh verifies.
        if refreshed.refresh_token is None:
            raise AuthorizationRequired(
                "The provider rejected the imported refresh token (invalid_grant): it "
                "expired, was revoked, was already used, or belongs to another app. Log in "
                "instead.",
                code="invalid_grant",
            )
        if refreshed.last_refresh_at is None:
            raise TransientProviderError(
                "The imported tokens could not be verified now (the provider did not "
                "answer the refresh); nothing was stored. Try again later.",
                code="unverified",
            )

    def _restore(self, previous: TokenSet | None) -> None:
        if previous is None:
            self.manager.forget()
        else:
            self.manager.save(previous)

    def _imported_result(self, tokens: TokenSet) -> LoginResult:
        result = LoginResult(
            profile=self.profile,
            flow="import",
            tokens=tokens,
            requested_scopes=frozenset(),
            granted_scopes=tokens.scopes,
            subject=tokens.subject,
        )
        self._emit(LoginCompleted(result))
        return result

    # -- plumbing -------------------------------------------------------------------------

    def _gate(self) -> LoginGate:
        return LoginGate(self.manager, timeout=self.wait_for_other_login, emit=self._emit)

    def _emit(self, event: LoginEvent) -> None:
        self._io().emit(event)

    def _io(self, **extra: Any) -> Io:
        return Io(
            manager=self.manager,
            timeout=self.manager.timeout,
            verifier=self._verifier,
            on_event=self.on_event,
            sleep=self._sleep,
            asleep=self._asleep,
            http=self._sync_http,
            async_http=self._async_client,
            **extra,
        )

    def _reused(self, flow: FlowName, tokens: TokenSet) -> LoginResult:
        result = LoginResult(
            profile=self.profile,
            flow=flow,
            tokens=tokens,
            requested_scopes=frozenset(self.scopes),
            granted_scopes=tokens.scopes,
            reused=True,
            subject=tokens.subject,
        )
        self._emit(LoginCompleted(result))
        return result

    def _locked(
        self, flow: FlowName, make: Callable[[], Flow[LoginResult]], **extra: Any
    ) -> LoginResult:
        gate = self._gate()
        other = gate.enter()
        try:
            if other is not None and self.reuse_other_login:
                return self._reused(flow, other)
            return run(make(), self._io(**extra))
        finally:
            self._end_display()
            gate.exit()

    async def _alocked(
        self, flow: FlowName, make: Callable[[], Flow[LoginResult]], **extra: Any
    ) -> LoginResult:
        gate = self._gate()
        other = await gate.aenter()
        try:
            if other is not None and self.reuse_other_login:
                return self._reused(flow, other)
            return await arun(make(), self._io(**extra))
        finally:
            self._end_display()
            gate.exit()

    def _end_display(self) -> None:
        if self._printer is not None:
            self._printer.close()

    def _sync_http(self) -> httpx2.Client:
        if self._http is None:
            self._http = httpx2.Client()
        return self._http

    def _async_client(self) -> httpx2.AsyncClient:
        if self._async_http is None:
            self._async_http = httpx2.AsyncClient()
        return self._async_http

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None
        if self._owns_manager:
            self.manager.close()

    async def aclose(self) -> None:
        if self._owns_async_http and self._async_http is not None:
            await self._async_http.aclose()
            self._async_http = None
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None
        if self._owns_manager:
            await self.manager.aclose()

    def __enter__(self) -> Login:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Login:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Login(profile={self.profile!r}, scopes={list(self.scopes)!r})"


def _rate_wait(error: TransientProviderError, waited: float) -> float | None:
    """How long to wait before trying a throttled refresh again; None: give up (not a
    429, or ``DEFAULT_MAX_RATE_WAIT`` spent)."""
    wait: float | None = max(0.1, 1.0 if error.retry_after is None else error.retry_after)
    # Only a 429 is refused unread: after a 5xx or a timeout the provider may have rotated
    # the token, and sending the old one again could look like reuse (grant revoked).
    wait = wait if error.rate_limited else None
    return wait if wait is not None and waited + wait <= DEFAULT_MAX_RATE_WAIT else None
