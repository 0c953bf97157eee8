"""The keeper's status page (``ctct keeper run --ui-listen HOST:PORT | --ui-socket PATH``).

An operator sees every account (state and reason, name, access-token expiry,
refresh-token idle deadline, last and next refresh, last error), filters by state,
reads the plan against the token endpoint's capacity, pauses, resumes, disconnects,
connects new accounts and reconnects dead ones. Customers with a reconnect link
reconnect their own account, once.

The page shows customer data and loopback is no boundary, so in every mode:

- the ``Host`` header must be on the allow-list (DNS rebinding), for every request;
- every POST carries the CSRF token bound to the browser's session;
- an operator logs in unless the UI listens on a unix socket (mode 0600: the socket's
  permissions are the boundary) or ``--no-auth`` is given;
- session cookies are signed with a secret from a file every replica shares;
- strict security headers: a CSP with no script at all, no framing, no referrer.

No page ever holds a token. ``ui_app`` builds the Starlette app; ``ui_serve.serve_ui`` binds the
listener and serves it with uvicorn in a background thread (``ui_serve``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctct.errors import AuthorizationDenied, ConfigError, CtctError
from ctct.flows._web_state import set_cookie_header
from ctct.keeper import actions
from ctct.keeper.states import State
from ctct.keeper.ui_accounts import account_page, account_row, find_ref
from ctct.keeper.ui_auth import (
    SECURITY_HEADERS,
    SESSION_COOKIE,
    HostAllowList,
    OperatorCheck,
    Session,
    Sessions,
)
from ctct.keeper.ui_connect import (
    CALLBACK_PATH,
    AccountMismatch,
    Connected,
    Connector,
    Refused,
    take_reconnect_link,
)
from ctct.keeper.ui_pages import (
    CSS,
    STYLESHEET_PATH,
    AppChoice,
    Chrome,
    PlanPicture,
    continue_page,
    disconnect_page,
    link_page,
    login_page,
    message_page,
    status_page,
)
from ctct.stores import GrantKey

if TYPE_CHECKING:
    from ctct.keeper.service import Keeper

log = logging.getLogger("ctct.keeper.ui")

LOGIN_RATE: Final = 1.0
LOGIN_BURST: Final = 10.0
_PROFILE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
_FORM_LIMIT: Final = 16 * 1024

Handler = Callable[[Request], Awaitable[Response]]


# -- the guard in front of everything ------------------------------------------------------


class Guard:
    """Refuses a ``Host`` not on the allow-list, and puts the security headers on every
    response (refusals included)."""

    def __init__(self, app: ASGIApp, hosts: HostAllowList, headers: dict[str, str]) -> None:
        self.app = app
        self.hosts = hosts
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in headers.items():
                    out[name] = value
            await send(message)

        target = self.app
        if not self.hosts.allows(Headers(scope=scope).get("host")):
            target = _refuse_host
        await target(scope, receive, send_with_headers)


async def _refuse_host(scope: Scope, receive: Receive, send: Send) -> None:
    log.warning("refused a request with a Host header not on the UI's allow-list")
    response = PlainTextResponse(
        "This host name is not on the keeper UI's allow-list (--allowed-host).",
        status_code=421,
    )
    await response(scope, receive, send)


# -- the app -----------------------------------------------------------------------------


@dataclass
class _Ctx:
    session: Session
    set_cookie: str | None

    @property
    def operator(self) -> bool:
        return self.session.operator


class StatusUi:
    """The routes; one per replica."""

    def __init__(
        self,
        keeper: Keeper,
        *,
        auth: OperatorCheck | None,
        sessions: Sessions,
        public_url: str | None,
        login_key: bytes,
        secure: bool,
        clock: Callable[[], float],
    ) -> None:
        self.keeper = keeper
        self.auth = auth
        self.sessions = sessions
        self.secure = secure
        self.clock = clock
        self.cookie_name = ("__Host-" if secure else "") + SESSION_COOKIE
        self.public_url = public_url
        self.connector: Connector | None = None
        if public_url is not None:
            self.connector = Connector(
                keeper,
                redirect_uri=public_url.rstrip("/") + CALLBACK_PATH,
                signing_key=login_key,
                secure=secure,
                clock=clock,
            )

    # -- sessions --------------------------------------------------------------------------

    def _ctx(self, request: Request) -> _Ctx:
        session = self.sessions.read(request.cookies.get(self.cookie_name))
        if session is not None:
            return _Ctx(session, None)
        session = self.sessions.new(operator=self.auth is None)
        return _Ctx(session, self._cookie(session))

    def _cookie(self, session: Session) -> str:
        # Lax: the provider's redirect back (a top-level GET) keeps the operator logged
        # in; cross-site POSTs never carry it (and need the CSRF token anyway).
        value = self.sessions.cookie(session)
        ttl = self.sessions.ttl
        return set_cookie_header(self.cookie_name, value, max_age=ttl, path="/", secure=self.secure)

    def _chrome(self, ctx: _Ctx) -> Chrome:
        return Chrome(self.sessions.csrf_token(ctx.session), ctx.operator, self.auth is not None)

    def _html(self, ctx: _Ctx, html: str, status: int = 200) -> Response:
        response = HTMLResponse(html, status_code=status)
        if ctx.set_cookie is not None:
            response.headers.append("set-cookie", ctx.set_cookie)
        return response

    def _redirect(self, ctx: _Ctx, location: str) -> Response:
        response = RedirectResponse(location, status_code=303)
        if ctx.set_cookie is not None:
            response.headers.append("set-cookie", ctx.set_cookie)
        return response

    def _message(
        self, ctx: _Ctx, status: int, title: str, message: str, *, kind: str = "error"
    ) -> Response:
        chrome = self._chrome(ctx)
        page = message_page(title, message, kind=kind, chrome=chrome, back=ctx.operator)
        return self._html(ctx, page, status)

    def _login_required(self, request: Request, ctx: _Ctx) -> Response:
        if request.method == "GET":
            return self._redirect(ctx, "/login")
        return self._message(ctx, 401, "Log in first", "This action needs an operator login.")

    async def _form(self, request: Request, ctx: _Ctx) -> dict[str, str] | Response:
        """The POSTed form, once its CSRF token matched the session's."""
        if int(request.headers.get("content-length") or 0) > _FORM_LIMIT:
            return self._message(ctx, 413, "Too large", "The form is too large.")
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not self.sessions.csrf_ok(ctx.session, values.get("csrf")):
            return self._csrf_refused(ctx)
        return values

    def _csrf_refused(self, ctx: _Ctx) -> Response:
        log.warning("refused a POST without this session's CSRF token")
        return self._message(
            ctx,
            403,
            "Refused",
            "This form did not come from this page (its CSRF token is missing or wrong): "
            "reload the status page and try again.",
        )

    def operator_only(self, handler: Callable[[Request, _Ctx], Awaitable[Response]]) -> Handler:
        async def guarded(request: Request) -> Response:
            ctx = self._ctx(request)
            if not ctx.operator:
                return self._login_required(request, ctx)
            return await handler(request, ctx)

        return guarded

    def anyone(self, handler: Callable[[Request, _Ctx], Awaitable[Response]]) -> Handler:
        async def open_(request: Request) -> Response:
            return await handler(request, self._ctx(request))

        return open_

    # -- pages -----------------------------------------------------------------------------

    async def stylesheet(self, request: Request) -> Response:
        return Response(CSS, media_type="text/css", headers={"cache-control": "max-age=3600"})

    async def index(self, request: Request, ctx: _Ctx) -> Response:
        state = request.query_params.get("state") or None
        try:
            page = int(request.query_params.get("page") or 1)
        except ValueError:
            page = 1
        notice = _NOTICES.get(request.query_params.get("done") or "")
        html = await run_in_threadpool(self._status_html, ctx, state, page, notice)
        return self._html(ctx, html)

    def _status_html(self, ctx: _Ctx, state: str | None, page: int, notice: str | None) -> str:
        keeper = self.keeper
        accounts = account_page(keeper.store, keeper.apps, keeper.config, state=state, page=page)
        now = self.clock()
        offset = keeper.store.now() - now
        plan = self._plan(now, offset)
        can_connect = None
        if self.connector is None:
            can_connect = (
                "Connecting needs the page's public URL (--public-url), registered as the "
                "app's redirect URI with /callback."
            )
        return status_page(
            self._chrome(ctx),
            accounts,
            state=state,
            plan=plan,
            apps=self._app_choices(),
            can_connect=can_connect,
            now=now,
            server_offset=offset,
            notice=notice,
        )

    def _plan(self, now: float, offset: float) -> PlanPicture:
        keeper = self.keeper
        view = keeper.planner.view
        capacity = sum(u.capacity for u in view.utilization.values())
        if not view.utilization:
            from ctct.keeper.capacity import Budget

            cfg = keeper.config
            for app in keeper.apps.all():
                if app.token_rate is not None:
                    budget = Budget(rate=app.token_rate, margin=cfg.margin, headroom=cfg.headroom)
                    capacity += budget.keeper_rate
        if view.scanned_at:
            upcoming: list[float] = list(view.upcoming)
        else:
            store = keeper.store
            upcoming = [due - offset for _, due in store.due(limit=len(store.keys()) + 16)]
        shed: dict[str, int] = {}
        for key in view.shed:
            shed[key.client_id] = shed.get(key.client_id, 0) + 1
        return PlanPicture(
            upcoming,
            dict(view.utilization),
            view.scanned_at,
            capacity,
            overloaded=dict(view.snapshot.overloaded),
            shed_by_client=shed,
        )

    def _app_choices(self) -> list[AppChoice]:
        return [
            AppChoice(_app_ref(a.provider.storage_issuer, a.config.client_id), a.config.client_id)
            for a in self.keeper.apps.all()
        ]

    # -- login -----------------------------------------------------------------------------

    async def login_form(self, request: Request, ctx: _Ctx) -> Response:
        if ctx.operator:
            return self._redirect(ctx, "/")
        return self._html(ctx, login_page(self._chrome(ctx)))

    async def login(self, request: Request, ctx: _Ctx) -> Response:
        form = await self._form(request, ctx)
        if isinstance(form, Response):
            return form
        if self.auth is None:
            return self._redirect(ctx, "/")
        wait = await run_in_threadpool(
            self.keeper.store.acquire_rate, "keeper-ui-login", LOGIN_RATE, LOGIN_BURST
        )
        if wait > 0:
            page = login_page(self._chrome(ctx), error="Too many attempts: wait and try again.")
            return self._html(ctx, page, 429)
        given = form.get("password", "")
        if not await run_in_threadpool(self.auth.matches, given):
            log.warning("a failed operator login on the status page")
            return self._html(ctx, login_page(self._chrome(ctx), error="Wrong password."), 401)
        # A new session id at login: a session planted before it is worth nothing after.
        session = self.sessions.new(operator=True)
        return self._redirect(_Ctx(session, self._cookie(session)), "/")

    async def logout(self, request: Request, ctx: _Ctx) -> Response:
        form = await self._form(request, ctx)
        if isinstance(form, Response):
            return form
        session = self.sessions.new(operator=self.auth is None)
        return self._redirect(_Ctx(session, self._cookie(session)), "/login")

    # -- actions -----------------------------------------------------------------------------

    async def action(self, request: Request, ctx: _Ctx) -> Response:
        form = await self._form(request, ctx)
        if isinstance(form, Response):
            return form
        verb = request.path_params["verb"]
        key = await run_in_threadpool(find_ref, self.keeper.store, form.get("account", ""))
        if key is None:
            return self._message(ctx, 404, "No such account", "That account is not in the store.")
        try:
            if verb == "reconnect":
                return await self._reconnect(request, ctx, key, form.get("override") == "yes")
            await run_in_threadpool(self._act, verb, key)
        except CtctError as error:
            return self._message(ctx, 409, "Not done", error.message)
        return self._redirect(ctx, f"/?done={verb}")

    def _act(self, verb: str, key: GrantKey) -> None:
        keeper = self.keeper
        if verb == "pause":
            actions.pause(keeper.store, key, self.clock)
        elif verb == "resume":
            actions.resume(keeper.store, key, self.clock)
        elif verb == "disconnect":
            failure = actions.disconnect(keeper.store, key, keeper.apps, keeper.http)
            if failure is not None:
                raise Refused(
                    f"Not disconnected: revoking the grant at the provider failed "
                    f"({failure.message}); nothing was forgotten. Try again, or use "
                    "`ctct keeper disconnect --force`.",
                    code="revoke_failed",
                )
        else:
            raise Refused(f"Unknown action {verb!r}.", code="unknown_action")

    async def disconnect_confirm(self, request: Request, ctx: _Ctx) -> Response:
        ref = request.query_params.get("account", "")
        store = self.keeper.store
        key = await run_in_threadpool(find_ref, store, ref)
        if key is None:
            return self._message(ctx, 404, "No such account", "That account is not in the store.")
        row = await run_in_threadpool(account_row, store, self.keeper.apps, self.keeper.config, key)
        return self._html(ctx, disconnect_page(self._chrome(ctx), row))

    async def _reconnect(
        self, request: Request, ctx: _Ctx, key: GrantKey, override: bool
    ) -> Response:
        connector = self._connector(request, ctx)
        if isinstance(connector, Response):
            return connector
        state = await run_in_threadpool(self.keeper.store.load_state, key)
        if state is None or state.code != State.NEEDS_LOGIN.value:
            return self._message(
                ctx,
                409,
                "Not needed",
                f"Profile {key.profile!r} does not need a login (state "
                f"{state.code if state else 'ok'}).",
            )
        started = await run_in_threadpool(
            lambda: connector.start(key, mode="reconnect", override=override, via="page")
        )
        return self._to_provider(ctx, started.location, started.set_cookie)

    def _connector(self, request: Request, ctx: _Ctx) -> Connector | Response:
        """The connector, or why connecting cannot start from this request."""
        if self.connector is None:
            return self._message(ctx, 409, "Not available", _NO_PUBLIC_URL)
        elsewhere = self._elsewhere(request, ctx)
        return self.connector if elsewhere is None else elsewhere

    def _elsewhere(self, request: Request, ctx: _Ctx) -> Response | None:
        """Connecting works only from the public URL: the provider sends the browser
        back there, and the cookie that binds the login to it is set here."""
        # Host names only: behind a TLS proxy the scheme and port seen here differ.
        public = urlsplit(self.public_url or "").hostname
        if public is not None and request.url.hostname == public:
            return None
        return self._message(
            ctx,
            409,
            "Use the public address",
            f"Connecting accounts works from this page's public address: open "
            f"{self.public_url} and try there (the provider sends the browser back to it).",
        )

    def _to_provider(self, ctx: _Ctx, location: str, set_cookie: str) -> Response:
        # A page that moves on by itself, not a redirect: the CSP's form-action 'self'
        # also covers every redirect after a form POST, and the provider's own login
        # may hop across its hosts.
        response = self._html(ctx, continue_page(location))
        response.headers.append("set-cookie", set_cookie)
        return response

    async def connect(self, request: Request, ctx: _Ctx) -> Response:
        form = await self._form(request, ctx)
        if isinstance(form, Response):
            return form
        connector = self._connector(request, ctx)
        if isinstance(connector, Response):
            return connector
        profile = form.get("profile", "").strip()
        if not _PROFILE.fullmatch(profile):
            return self._message(
                ctx,
                400,
                "Not a profile name",
                "A profile name starts with a letter or digit and holds only letters, digits "
                "and . _ @ + - (at most 200).",
            )
        app = next(
            (
                a
                for a in self.keeper.apps.all()
                if _app_ref(a.provider.storage_issuer, a.config.client_id) == form.get("app")
            ),
            None,
        )
        if app is None:
            return self._message(ctx, 400, "No such application", "Choose a configured app.")
        key = GrantKey(profile, app.provider.storage_issuer, app.config.client_id)
        try:
            started = await run_in_threadpool(
                lambda: connector.start(key, mode="connect", via="page")
            )
        except CtctError as error:
            return self._message(ctx, 409, "Not connected", error.message)
        return self._to_provider(ctx, started.location, started.set_cookie)

    # -- reconnect links ---------------------------------------------------------------------

    async def link_form(self, request: Request, ctx: _Ctx) -> Response:
        # Nothing is read or used up here: mail scanners that open links burn nothing.
        return self._html(ctx, link_page(self._chrome(ctx), request.path_params["link"]))

    async def link_use(self, request: Request, ctx: _Ctx) -> Response:
        form = await self._form(request, ctx)
        if isinstance(form, Response):
            return form
        connector = self._connector(request, ctx)
        if isinstance(connector, Response):
            return connector
        link_id = request.path_params["link"]
        try:
            key = await run_in_threadpool(take_reconnect_link, self.keeper.store, link_id)
            started = await run_in_threadpool(
                lambda: connector.start(key, mode="reconnect", via="link")
            )
        except CtctError as error:
            return self._message(ctx, 410, "Link not usable", error.message)
        return self._to_provider(ctx, started.location, started.set_cookie)

    # -- the callback ------------------------------------------------------------------------

    async def callback(self, request: Request, ctx: _Ctx) -> Response:
        connector = self.connector
        if connector is None:
            return self._message(ctx, 404, "Not available", _NO_PUBLIC_URL)
        query, cookie = request.url.query, request.headers.get("cookie")
        try:
            done = await run_in_threadpool(connector.complete, query, cookie)
        except AccountMismatch as error:
            response = self._message(ctx, 409, "Reconnect refused", error.message)
        except AuthorizationDenied:
            response = self._message(
                ctx, 403, "Not connected", "The sign-in was declined at Constant Contact."
            )
        except CtctError as error:
            log.info("a connection through the status page failed: %s", error.code)
            response = self._message(ctx, 400, "Not connected", error.message)
        else:
            response = self._message(ctx, 200, *_done_text(done), kind="success")
        response.headers.append("set-cookie", connector.clear_cookie)
        return response


def _done_text(done: Connected) -> tuple[str, str]:
    name = f" ({done.info.name})" if done.info.name else ""
    if done.mode == "connect":
        return "Connected", f"Profile {done.key.profile!r}{name} is connected and kept fresh."
    other_user = (
        " A different user of the same Constant Contact account signed in."
        if done.match == "same_account"
        else ""
    )
    override = (
        " The operator allowed a different Constant Contact account."
        if done.match in ("different", "unknown")
        else ""
    )
    who = "Your account" if done.via == "link" else f"Profile {done.key.profile!r}{name}"
    return "Reconnected", f"{who} is reconnected.{other_user}{override}"


_NOTICES: Final = {
    "pause": "Paused: the keeper no longer refreshes it (workers still can).",
    "resume": "Resumed: planned at once.",
    "disconnect": "Disconnected: revoked at the provider and forgotten.",
}
_NO_PUBLIC_URL: Final = (
    "Connecting and reconnecting need the page's public URL (--public-url), registered "
    "as the app's redirect URI with /callback."
)


def _app_ref(issuer: str, client_id: str) -> str:
    return hashlib.sha256(f"{issuer}\x00{client_id}".encode()).hexdigest()[:16]


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hashlib.sha256(b"ctct-keeper-ui\x00" + purpose + b"\x00" + secret).digest()


def ui_app(
    keeper: Keeper,
    *,
    allowed_hosts: Iterable[str],
    auth: OperatorCheck | None,
    session_secret: bytes,
    public_url: str | None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The status page for ``keeper``.

    ``allowed_hosts``: host names the ``Host`` header may carry (ports ignored);
    ``auth``: the operator check, or None for no login (a unix socket, ``--no-auth``);
    ``session_secret``: at least 32 bytes, the same file on every replica;
    ``public_url``: the page's address as browsers reach it (``https://...`` in
    production; no path), whose ``/callback`` is registered as the apps' redirect URI.
    None disables connecting and reconnecting.
    """
    if public_url is not None:
        public_url = check_public_url(public_url)
    hosts = HostAllowList(allowed_hosts)
    if not hosts.hosts:
        raise ConfigError("The keeper UI needs at least one allowed host name.")
    if len(session_secret) < 32:
        raise ConfigError(
            "The UI session secret must be at least 32 bytes; create one with "
            "`ctct keeper new-ui-secret FILE` and give every replica the same file."
        )
    # Per mode: a session made where no login is asked never counts where one is.
    mode = b"sessions-open" if auth is None else b"sessions-login"
    sessions = Sessions(_derive(session_secret, mode), clock)
    secure = public_url is not None and public_url.startswith("https://")
    ui = StatusUi(
        keeper,
        auth=auth,
        sessions=sessions,
        public_url=public_url,
        login_key=_derive(session_secret, b"login-cookie"),
        secure=secure,
        clock=clock,
    )
    op, anyone = ui.operator_only, ui.anyone
    routes = [
        Route("/", op(ui.index), methods=["GET"]),
        Route(STYLESHEET_PATH, ui.stylesheet, methods=["GET"]),
        Route("/login", anyone(ui.login_form), methods=["GET"]),
        Route("/login", anyone(ui.login), methods=["POST"]),
        Route("/logout", anyone(ui.logout), methods=["POST"]),
        Route("/accounts/disconnect", op(ui.disconnect_confirm), methods=["GET"]),
        Route("/accounts/{verb:str}", op(ui.action), methods=["POST"]),
        Route("/connect", op(ui.connect), methods=["POST"]),
        Route("/r/{link:str}", anyone(ui.link_form), methods=["GET"]),
        Route("/r/{link:str}", anyone(ui.link_use), methods=["POST"]),
        Route(CALLBACK_PATH, anyone(ui.callback), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Guard, hosts=hosts, headers=dict(SECURITY_HEADERS))
    return app


def check_public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The UI's public URL {url!r} is not an http(s) URL.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"The UI's public URL {url!r} has a path: serve the page at the root of its "
            "host name (a path prefix is not supported)."
        )
    return f"{parts.scheme}://{parts.netloc}"
