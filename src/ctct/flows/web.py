"""Web apps that own a public redirect URI: start a login, complete it in the callback.

``WebLogin.start(profile, next=...)`` returns the redirect to the provider and a
``Set-Cookie`` header; ``WebLogin.complete(query, cookie_header)`` checks the callback,
exchanges the code, stores the grant for the profile chosen at start and returns where
to send the person. ``asgi_app()`` (Starlette) and ``wsgi_app()`` wrap both as two
mountable endpoints::

    web = WebLogin.from_settings(
        signing_key=os.environ["CTCT_WEB_SIGNING_KEY"],
        redirect_uri="https://app.example.com/ctct/callback",
        allowed_next=["/settings/integrations"],
    )
    app = Starlette(routes=[Mount("/ctct", app=web.asgi_app(profile=tenant_of))])
    # GET /ctct/start?next=/settings/integrations  ->  provider  ->  /ctct/callback

State and PKCE verifier live in the shared store (single use, with a TTL), bound to the
browser by a signed cookie, so any worker of any process can answer the callback.
Configure the server's access log not to record the callback's query string (it
carries the authorization code); uvicorn: ``--no-access-log``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit

import anyio
import anyio.to_thread
import httpx2

from ctct._jwt import JwtVerifier
from ctct._manager import TokenManager
from ctct._oauth_http import DEFAULT_TIMEOUT
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._settings import Settings
from ctct._wording import duration
from ctct.errors import ConfigError, FlowError
from ctct.flows._code import (
    PkceChoice,
    authorization_request,
    code_from_query,
    exchange,
    uses_pkce,
)
from ctct.flows._common import FlowContext, finish
from ctct.flows._events import EventHandler, LoginResult, requested_scopes
from ctct.flows._run import Flow, Io, arun, run
from ctct.flows._web_state import (
    NAMESPACE,
    CookieSigner,
    PendingWebLogin,
    RedirectAllowList,
    cookie_value,
    set_cookie_header,
)
from ctct.stores import Store, open_store

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ctct.flows._web_asgi import AsgiProfile
    from ctct.flows._web_wsgi import WsgiApp, WsgiProfile

DEFAULT_TTL: Final = 600.0
SIGNING_KEY_ENV: Final = "CTCT_WEB_SIGNING_KEY"

__all__ = ["DEFAULT_TTL", "SIGNING_KEY_ENV", "WebDone", "WebLogin", "WebStart"]


@dataclass(frozen=True)
class WebStart:
    """Send the browser to ``location`` (302/303) with ``set_cookie`` as ``Set-Cookie``."""

    location: str
    set_cookie: str


@dataclass(frozen=True)
class WebDone:
    """The grant is stored: send the browser to ``location`` with ``clear_cookie``."""

    result: LoginResult
    location: str
    clear_cookie: str


class WebLogin:
    """The authorization code flow for a web app with a public redirect URI."""

    def __init__(
        self,
        *,
        provider: Provider,
        client: ClientCredentials,
        store: Store,
        redirect_uri: str,
        signing_key: str | bytes | Secret,
        allowed_next: Iterable[str] = (),
        default_next: str = "/",
        scopes: Iterable[str] | None = None,
        ttl: float = DEFAULT_TTL,
        cookie_name: str = "ctct_login",
        cookie_path: str = "/",
        secure: bool | None = None,
        pkce: PkceChoice = None,
        verify: bool = True,
        on_event: EventHandler | None = None,
        http: httpx2.Client | None = None,
        async_http: httpx2.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
        owns_store: bool = False,
    ) -> None:
        """``redirect_uri``: exactly as registered (it must reach the callback endpoint);
        ``allowed_next``: pages ``?next=`` may name (``default_next`` is always allowed);
        ``ttl``: seconds a started login stays completable; ``secure``: the cookie's
        ``Secure`` flag (default: when the redirect URI is https)."""
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise ConfigError(f"The web login's redirect URI {redirect_uri!r} is not a URL.")
        if not ttl > 0:
            raise ConfigError("The web login's ttl must be positive.")
        self.provider = provider
        self.client = client
        self.store = store
        self.redirect_uri = redirect_uri
        self.scopes = requested_scopes(scopes, provider.default_scopes, provider.offline_scope)
        self.ttl = ttl
        self.cookie_name = cookie_name
        self.cookie_path = cookie_path
        self.secure = parts.scheme == "https" if secure is None else secure
        self.pkce = uses_pkce(provider, client.confidential, pkce)
        self.verify = verify
        self.on_event = on_event
        self.timeout = timeout
        self.clock = clock
        self._signer = CookieSigner(signing_key)
        self._targets = RedirectAllowList(allowed_next, default_next)
        self._http = http
        self._owns_http = http is None
        self._async_http = async_http
        self._owns_async_http = async_http is None
        self._owns_store = owns_store
        self._verifier: JwtVerifier | None = None
        if verify and provider.jwks_uri is not None and provider.access_token_format != "opaque":
            self._verifier = JwtVerifier.for_provider(
                provider, client.client_id, clock=clock, leeway=leeway
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        signing_key: str | bytes | Secret | None = None,
        store: Store | None = None,
        **options: Any,
    ) -> WebLogin:
        """From the configured profile; the signing key defaults to
        ``$CTCT_WEB_SIGNING_KEY`` and the redirect URI to the configured one."""
        settings = settings or Settings.load()
        key = signing_key if signing_key is not None else os.environ.get(SIGNING_KEY_ENV)
        if not key:
            raise ConfigError(
                f"The web login needs a signing key for its cookie: set {SIGNING_KEY_ENV} to a "
                "long random value shared by every worker."
            )
        redirect_uri = options.pop("redirect_uri", None) or settings.redirect_uri
        if redirect_uri is None:
            raise ConfigError(
                "The web login needs the app's registered redirect URI: set CTCT_REDIRECT_URI "
                "(it must reach the callback endpoint)."
            )
        options.setdefault("scopes", settings.scopes)
        options.setdefault("timeout", settings.timeout)
        options.setdefault("leeway", settings.leeway)
        return cls(
            provider=settings.provider(),
            client=settings.client_credentials(),
            store=store if store is not None else open_store(settings.store),
            redirect_uri=redirect_uri,
            signing_key=key,
            owns_store=store is None,
            **options,
        )

    # -- start ------------------------------------------------------------------------------

    def start(self, profile: str, *, next: str | None = None) -> WebStart:
        """Begin a login for ``profile`` (chosen by the app, e.g. the signed-in tenant).

        ``next``: where to send the person afterwards; it must be on the allow-list
        (``FlowError`` code ``next_not_allowed`` otherwise: answer 400, never redirect).
        """
        login_id, pending, request_url = self._prepare(profile, next)
        self.store.put_once(NAMESPACE, login_id, pending.to_bytes(), self.ttl)
        return WebStart(request_url, self._cookie(self._signer.sign(login_id), self.ttl))

    async def astart(self, profile: str, *, next: str | None = None) -> WebStart:
        login_id, pending, request_url = self._prepare(profile, next)
        data = pending.to_bytes()
        await anyio.to_thread.run_sync(
            lambda: self.store.put_once(NAMESPACE, login_id, data, self.ttl)
        )
        return WebStart(request_url, self._cookie(self._signer.sign(login_id), self.ttl))

    def _prepare(self, profile: str, next: str | None) -> tuple[str, PendingWebLogin, str]:
        if not profile:
            raise ConfigError("The web login needs a profile to store the grant under.")
        target = self._targets.choose(next)
        request = authorization_request(
            self.provider,
            self.client.client_id,
            redirect_uri=self.redirect_uri,
            scopes=self.scopes,
            pkce=self.pkce,
        )
        pending = PendingWebLogin(
            state=request.state,
            code_verifier=request.code_verifier,
            profile=profile,
            next=target,
            redirect_uri=self.redirect_uri,
            scopes=self.scopes,
        )
        return self._signer.new_id(), pending, request.url

    # -- complete ---------------------------------------------------------------------------

    def complete(self, query: str, cookie_header: str | None) -> WebDone:
        """Finish the login the callback request belongs to: ``query`` is its raw query
        string, ``cookie_header`` its ``Cookie`` header. Raises ``FlowError``,
        ``AuthorizationDenied`` (the person said no) or a provider error."""
        login_id = self._login_id(cookie_header)
        pending = self._pending(self.store.take_once(NAMESPACE, login_id))
        manager, flow = self._flow(pending, query)
        return WebDone(run(flow, self._io(manager)), pending.next, self.clear_cookie)

    async def acomplete(self, query: str, cookie_header: str | None) -> WebDone:
        login_id = self._login_id(cookie_header)
        data = await anyio.to_thread.run_sync(self.store.take_once, NAMESPACE, login_id)
        pending = self._pending(data)
        manager, flow = self._flow(pending, query)
        return WebDone(await arun(flow, self._io(manager)), pending.next, self.clear_cookie)

    def _login_id(self, cookie_header: str | None) -> str:
        value = cookie_value(cookie_header, self.cookie_name)
        if not value:
            raise FlowError(
                "This browser has no login in progress (its login cookie is missing or "
                "expired): start the login again from the app.",
                code="no_login",
            )
        return self._signer.verify(value)

    def _pending(self, data: bytes | None) -> PendingWebLogin:
        if data is None:
            raise FlowError(
                f"This login expired (after {duration(self.ttl)}) or was already completed: start "
                "it again from the app.",
                code="expired_login",
            )
        return PendingWebLogin.from_bytes(data)

    def _flow(self, pending: PendingWebLogin, query: str) -> tuple[TokenManager, Flow[LoginResult]]:
        # The state check comes first: nothing from another login is acted on.
        code = code_from_query(query, pending.state)
        manager = TokenManager(
            provider=self.provider,
            client=self.client,
            store=self.store,
            profile=pending.profile,  # from the server-side record, never the query
            clock=self.clock,
            timeout=self.timeout,
        )
        ctx = FlowContext(
            provider=self.provider,
            client=self.client,
            profile=pending.profile,
            scopes=pending.scopes,
            clock=self.clock,
            verify=self.verify,
        )

        def flow() -> Flow[LoginResult]:
            tokens = yield from exchange(ctx, code, pending.redirect_uri, pending.code_verifier)
            return (yield from finish(ctx, tokens, "web"))

        return manager, flow()

    def _io(self, manager: TokenManager) -> Io:
        return Io(
            manager=manager,
            timeout=self.timeout,
            verifier=self._verifier,
            on_event=self.on_event,
            sleep=time.sleep,
            asleep=anyio.sleep,
            http=self._sync_http,
            async_http=self._async_client,
        )

    # -- cookies ----------------------------------------------------------------------------

    def _cookie(self, value: str, max_age: float) -> str:
        return set_cookie_header(
            self.cookie_name, value, max_age=max_age, path=self.cookie_path, secure=self.secure
        )

    @property
    def clear_cookie(self) -> str:
        """A ``Set-Cookie`` value that deletes the login cookie."""
        return self._cookie("", 0)

    # -- mountable endpoints ----------------------------------------------------------------

    def asgi_app(
        self,
        *,
        profile: AsgiProfile = "default",
        start_path: str = "/start",
        callback_path: str = "/callback",
    ) -> Starlette:
        """A Starlette app with the two endpoints; ``profile`` is a name or a function
        of the request (e.g. the signed-in tenant). Mount it where ``redirect_uri``
        points its callback."""
        from ctct.flows._web_asgi import build_asgi_app

        return build_asgi_app(
            self, profile=profile, start_path=start_path, callback_path=callback_path
        )

    def wsgi_app(
        self,
        *,
        profile: WsgiProfile = "default",
        start_path: str = "/start",
        callback_path: str = "/callback",
    ) -> WsgiApp:
        """The same endpoints as a WSGI application (``profile`` may read the environ)."""
        from ctct.flows._web_wsgi import build_wsgi_app

        return build_wsgi_app(
            self, profile=profile, start_path=start_path, callback_path=callback_path
        )

    # -- lifecycle --------------------------------------------------------------------------

    def _sync_http(self) -> httpx2.Client:
        if self._http is None:
            self._http = httpx2.Client()
        return self._http

    def _async_client(self) -> httpx2.AsyncClient:
        if self._async_http is None:
            self._async_http = httpx2.AsyncClient()
        return self._async_http

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None
        if self._owns_store:
            self.store.close()

    async def aclose(self) -> None:
        if self._owns_async_http and self._async_http is not None:
            await self._async_http.aclose()
            self._async_http = None
        self.close()

    def __repr__(self) -> str:
        return f"WebLogin(redirect_uri={self.redirect_uri!r})"


def query_pairs(query: str) -> dict[str, str]:
    """The first value of each parameter of a query string."""
    pairs: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        pairs.setdefault(name, value)
    return pairs
