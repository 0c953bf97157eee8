"""Connecting and reconnecting accounts from the status page: the authorization code
flow with the page's public redirect URI, built from the web login's pieces.

``start`` keeps the state, the PKCE verifier and what to do with the grant in the
shared store (single use, with a TTL) and binds it to the browser with a signed cookie,
so the callback works on any replica. ``complete`` checks the callback, exchanges the
code, verifies the token, reads the account summary (its name and CC account id), and
only then stores the grant:

- *connect*: a new profile (or one an operator disconnected);
- *reconnect*: a profile whose grant the provider rejected. The new grant must be for
  the same CC account (``ui_accounts.same_account``), otherwise it is refused and
  revoked at the provider, unless the operator explicitly allowed another account. A
  reconnect sets the state ``ok``, plans a refresh and emits ``recovered``.

Reconnect links (``make_reconnect_link``) let a customer with no operator login do the
same for one profile, once: the link's record is taken from the store when used.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from ctct._jwt import AccessTokenClaims, JwtVerifier
from ctct._manager import TokenManager
from ctct._refresh import decode
from ctct._revocation import revoke_grant
from ctct._tokens import TokenSet
from ctct.errors import ConfigError, CtctError, FlowError, StoreError
from ctct.flows._code import authorization_request, code_from_query, exchange, uses_pkce
from ctct.flows._common import FlowContext
from ctct.flows._events import requested_scopes
from ctct.flows._run import Flow, Io, Verify, run
from ctct.flows._web_state import (
    CookieSigner,
    PendingWebLogin,
    cookie_value,
    set_cookie_header,
)
from ctct.keeper import events
from ctct.keeper.apps import App
from ctct.keeper.states import State
from ctct.keeper.ui_accounts import (
    AccountInfo,
    Identity,
    Match,
    grant_identity,
    same_account,
    save_info,
)
from ctct.stores import AccountState, GrantKey, Store

if TYPE_CHECKING:
    from ctct.keeper.service import Keeper

log = logging.getLogger("ctct.keeper.ui")

LOGIN_NAMESPACE: Final = "ctct-keeper-connect"
LINK_NAMESPACE: Final = "ctct-keeper-reconnect-link"
LOGIN_TTL: Final = 600.0
DEFAULT_LINK_TTL: Final = 72 * 3_600.0
MAX_LINK_TTL: Final = 30 * 86_400.0
LOGIN_COOKIE: Final = "ctct_keeper_login"
CALLBACK_PATH: Final = "/callback"
LINK_PATH: Final = "/r/"
_FORMAT: Final = 1

Mode = Literal["connect", "reconnect"]
Via = Literal["page", "link"]


class Refused(CtctError):
    """The page will not do it; ``message`` says why and what to do."""

    exit_code = 3


class AccountMismatch(Refused):
    """A reconnect came back for another CC account (the new grant was revoked)."""


@dataclass(frozen=True)
class PendingConnect:
    """What ``start`` keeps in the store until the callback (sealed, single use)."""

    login: PendingWebLogin
    mode: Mode
    issuer: str
    client_id: str
    override: bool
    via: Via

    @property
    def key(self) -> GrantKey:
        return GrantKey(self.login.profile, self.issuer, self.client_id)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "format": _FORMAT,
                "login": self.login.to_bytes().decode(),
                "mode": self.mode,
                "issuer": self.issuer,
                "client_id": self.client_id,
                "override": self.override,
                "via": self.via,
            }
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingConnect:
        try:
            record = json.loads(data)
            if record["format"] != _FORMAT or record["mode"] not in ("connect", "reconnect"):
                raise ValueError("format")
            return cls(
                login=PendingWebLogin.from_bytes(str(record["login"]).encode()),
                mode=record["mode"],
                issuer=str(record["issuer"]),
                client_id=str(record["client_id"]),
                override=record["override"] is True,
                via="link" if record["via"] == "link" else "page",
            )
        except (ValueError, KeyError, TypeError):
            raise StoreError(
                "A pending connection record is unreadable (written by another ctct version?); "
                "start again from the status page."
            ) from None


@dataclass(frozen=True)
class Started:
    """Send the browser to ``location`` (303) with ``set_cookie``."""

    location: str
    set_cookie: str


@dataclass(frozen=True)
class Connected:
    key: GrantKey
    mode: Mode
    via: Via
    info: AccountInfo
    match: Match | None
    """For a reconnect: how the new grant matched the old one."""
    previous: str | None
    """The state before (a reconnect)."""


# -- reconnect links ---------------------------------------------------------------------


def make_reconnect_link(
    store: Store, key: GrantKey, ttl: float = DEFAULT_LINK_TTL, *, public_url: str
) -> str:
    """A single-use URL that lets whoever opens it reconnect ``key``'s account (for the
    same CC account only), valid for ``ttl`` seconds. For customers with no operator
    login; send it to the account's owner."""
    if not 0 < ttl <= MAX_LINK_TTL:
        raise ConfigError(
            f"A reconnect link lives between 1 second and {MAX_LINK_TTL / 86_400:g} days."
        )
    if store.load(key) is None:
        raise ConfigError(f"No connected account {key.profile!r} to reconnect.")
    link_id = secrets.token_urlsafe(24)
    body = {"profile": key.profile, "issuer": key.issuer, "client_id": key.client_id}
    store.put_once(LINK_NAMESPACE, link_id, json.dumps(body).encode(), ttl)
    return public_url.rstrip("/") + LINK_PATH + link_id


def take_reconnect_link(store: Store, link_id: str) -> GrantKey:
    """The account a link is for; the link is used up by this call."""
    if not link_id or len(link_id) > 200:
        raise Refused("This reconnect link is not valid.", code="bad_link")
    data = store.take_once(LINK_NAMESPACE, link_id)
    if data is None:
        raise Refused(LINK_USED, code="link_used")
    body = json.loads(data)
    return GrantKey(str(body["profile"]), str(body["issuer"]), str(body["client_id"]))


LINK_USED: Final = (
    "This reconnect link was already used or has expired: each link works once. Ask for a new one."
)


# -- the flow ----------------------------------------------------------------------------


class Connector:
    """Starts and completes connections for one keeper replica's status page."""

    def __init__(
        self,
        keeper: Keeper,
        *,
        redirect_uri: str,
        signing_key: bytes,
        secure: bool,
        clock: Callable[[], float] = time.time,
        ttl: float = LOGIN_TTL,
    ) -> None:
        self.keeper = keeper
        self.redirect_uri = redirect_uri
        self.secure = secure
        self.clock = clock
        self.ttl = ttl
        self._signer = CookieSigner(signing_key)

    @property
    def store(self) -> Store:
        return self.keeper.store

    def app_for(self, issuer: str, client_id: str) -> App:
        app = self.keeper.apps.for_key(GrantKey("-", issuer, client_id))
        if app is None:
            raise Refused(
                f"No [[apps]] entry for client {client_id} in the keeper configuration.",
                code="no_app",
            )
        return app

    # -- start ------------------------------------------------------------------------------

    def start(self, key: GrantKey, *, mode: Mode, override: bool = False, via: Via) -> Started:
        app = self.app_for(key.issuer, key.client_id)
        if mode == "connect":
            self._check_free(key)
        elif self.store.load(key) is None:
            raise Refused(
                f"Profile {key.profile!r} has no grant to reconnect: connect it as a new "
                "account instead.",
                code="nothing_to_reconnect",
            )
        provider = app.provider
        scopes = requested_scopes(None, provider.default_scopes, provider.offline_scope)
        request = authorization_request(
            provider,
            app.config.client_id,
            redirect_uri=self.redirect_uri,
            scopes=scopes,
            # The provider profile's policy (CC: PKCE only without a secret, as a strict
            # CC refuses PKCE from a confidential app).
            pkce=uses_pkce(provider, app.client.confidential),
        )
        pending = PendingConnect(
            login=PendingWebLogin(
                state=request.state,
                code_verifier=request.code_verifier,
                profile=key.profile,
                next="/",
                redirect_uri=self.redirect_uri,
                scopes=scopes,
            ),
            mode=mode,
            issuer=key.issuer,
            client_id=key.client_id,
            override=override and via == "page",
            via=via,
        )
        login_id = self._signer.new_id()
        self.store.put_once(LOGIN_NAMESPACE, login_id, pending.to_bytes(), self.ttl)
        return Started(request.url, self._cookie(self._signer.sign(login_id), self.ttl))

    def _check_free(self, key: GrantKey) -> None:
        if self.store.load(key) is None:
            return
        state = self.store.load_state(key)
        if state is not None and state.code == State.DISCONNECTED.value:
            return
        raise Refused(
            f"Profile {key.profile!r} is already connected. Use Reconnect on its row if it "
            "needs a new login, or choose another profile name.",
            code="already_connected",
        )

    # -- complete ---------------------------------------------------------------------------

    def complete(self, query: str, cookie_header: str | None) -> Connected:
        """Finish the connection this callback belongs to (blocking: run it in a thread)."""
        value = cookie_value(cookie_header, LOGIN_COOKIE)
        if not value:
            raise FlowError(
                "This browser has no connection in progress (its cookie is missing or "
                "expired): start again from the status page.",
                code="no_login",
            )
        login_id = self._signer.verify(value)
        data = self.store.take_once(LOGIN_NAMESPACE, login_id)
        if data is None:
            raise FlowError(
                f"This connection expired (after {self.ttl:g} s) or was already completed: "
                "start again.",
                code="expired_login",
            )
        pending = PendingConnect.from_bytes(data)
        # The state check comes first: nothing from another login is acted on.
        code = code_from_query(query, pending.login.state)
        key = pending.key
        app = self.app_for(key.issuer, key.client_id)
        manager = self._manager(key, app)
        tokens, claims = self._exchange(manager, app, pending, code)
        info, tokens = self._account(app, key, tokens, claims, pending.via)
        new = Identity(info.platform_user_id, info.account_id)
        match: Match | None = None
        previous: str | None = None
        if pending.mode == "reconnect":
            old = grant_identity(self.store, key)
            match = same_account(old, new)
            if match in ("different", "unknown") and not pending.override:
                raise self._mismatch(app, key, tokens, old, new, match)
            state = self.store.load_state(key)
            previous = state.code if state is not None else None
        else:
            try:
                self._check_free(key)  # again: another connection may have won meanwhile
            except Refused:
                self._revoke(app, tokens)
                raise
        manager.save(tokens)
        save_info(self.store, key, info)
        now = self.clock()
        self.store.set_state(key, AccountState(State.OK.value, ""))
        self.store.schedule(key, self.store.now())
        if pending.mode == "reconnect":
            events.emit(
                self.store,
                "recovered",
                key,
                now,
                {"previous": previous or State.OK.value, "via": "reconnect", "match": match},
            )
        log.info(
            "profile %s %s through the status page (%s)",
            key.profile,
            "reconnected" if pending.mode == "reconnect" else "connected",
            pending.via,
        )
        return Connected(key, pending.mode, pending.via, info, match, previous)

    def _manager(self, key: GrantKey, app: App) -> TokenManager:
        return TokenManager(
            provider=app.provider,
            client=app.client,
            store=self.store,
            profile=key.profile,
            http=self.keeper.http,
            clock=self.clock,
            timeout=self.keeper.config.http_timeout,
            process_cache=False,
        )

    def _exchange(
        self, manager: TokenManager, app: App, pending: PendingConnect, code: Any
    ) -> tuple[TokenSet, AccessTokenClaims | None]:
        ctx = FlowContext(
            provider=app.provider,
            client=app.client,
            profile=pending.login.profile,
            scopes=pending.login.scopes,
            clock=self.clock,
        )

        def flow() -> Flow[tuple[TokenSet, AccessTokenClaims | None]]:
            login = pending.login
            tokens = yield from exchange(ctx, code, login.redirect_uri, login.code_verifier)
            access = tokens.access_token.reveal() if tokens.access_token is not None else ""
            claims: AccessTokenClaims | None = None
            if access and ctx.verifies(access):
                claims = yield Verify(access)
                tokens = tokens.with_subject(claims.subject)
            return tokens, claims

        verifier = None
        if app.provider.jwks_uri is not None and app.provider.access_token_format != "opaque":
            verifier = JwtVerifier.for_provider(
                app.provider, app.config.client_id, clock=self.clock
            )
        http = self.keeper.http
        io = Io(
            manager=manager,
            timeout=self.keeper.config.http_timeout,
            verifier=verifier,
            on_event=None,
            sleep=time.sleep,
            asleep=_no_async_sleep,
            http=lambda: http,
            async_http=_no_async_http,
        )
        return run(flow(), io)

    def _account(
        self,
        app: App,
        key: GrantKey,
        tokens: TokenSet,
        claims: AccessTokenClaims | None,
        via: Via,
    ) -> tuple[AccountInfo, TokenSet]:
        platform_user_id = None
        if claims is not None:
            value = claims.claims.get("platform_user_id")
            platform_user_id = value if isinstance(value, str) and value else None
        summary, tokens = fetch_summary(self.store, app, key, tokens, self.clock)
        name = summary.get("organization_name")
        account_id = summary.get("encoded_account_id")
        info = AccountInfo(
            name=name if isinstance(name, str) and name else None,
            account_id=account_id if isinstance(account_id, str) and account_id else None,
            platform_user_id=platform_user_id,
            connected_at=self.clock(),
            via=via,
        )
        return info, tokens

    def _mismatch(
        self,
        app: App,
        key: GrantKey,
        tokens: TokenSet,
        old: Identity,
        new: Identity,
        match: Match,
    ) -> AccountMismatch:
        failure = self._revoke(app, tokens)
        revoked = (
            "The new authorization was revoked at the provider."
            if failure is None
            else "The new authorization could not be revoked; remove it in the CC account's "
            "connected apps."
        )
        why = (
            "the previous grant's account is unknown, so it cannot be shown to be the same"
            if match == "unknown"
            else f"it was for {old.describe()}, the sign-in was for {new.describe()}"
        )
        log.warning("a reconnect of %s was refused: another CC account", key.profile)
        return AccountMismatch(
            f"Reconnecting {key.profile!r} was refused: the sign-in was not for the same "
            f"Constant Contact account ({why}). {revoked} Sign in as a user of the account "
            "this profile was connected to; an operator can allow another account "
            "explicitly on the status page.",
            code="account_mismatch",
        )

    def _revoke(self, app: App, tokens: TokenSet) -> CtctError | None:
        """Revoke a grant we will not keep (so no orphan stays authorized at CC)."""
        http, timeout = self.keeper.http, self.keeper.config.http_timeout
        return revoke_grant(app.provider, app.client, http, tokens, timeout)

    # -- cookies ----------------------------------------------------------------------------

    def _cookie(self, value: str, max_age: float) -> str:
        return set_cookie_header(
            LOGIN_COOKIE, value, max_age=max_age, path=CALLBACK_PATH, secure=self.secure
        )

    @property
    def clear_cookie(self) -> str:
        return self._cookie("", 0)


def fetch_summary(
    store: Store, app: App, key: GrantKey, tokens: TokenSet, clock: Callable[[], float]
) -> tuple[dict[str, Any], TokenSet]:
    """``GET /account/summary`` with the new tokens before they are stored (through the
    API client, so the call takes its share of the app's shared API rate limit), and the
    tokens after it (refreshed if the API refused the new access token). An empty
    summary when it fails: the connection goes ahead without a name."""
    from ctct.api import Client
    from ctct.stores.memory import MemoryStore

    if app.provider.api_base_url is None:
        return {}, tokens
    # The tokens live in a private store until the identity is checked.
    scratch = MemoryStore(name=f"keeper-ui-{secrets.token_hex(6)}")
    manager = TokenManager(
        provider=app.provider,
        client=app.client,
        store=scratch,
        profile=key.profile,
        clock=clock,
        process_cache=False,
    )
    try:
        manager.save(tokens)
        with Client(manager, rate_store=store) as client:
            summary: dict[str, Any] = {**client.account.summary()}
    except CtctError as error:
        log.warning(
            "the account summary of %s could not be read: %s",
            key.profile,
            error.code or type(error).__name__,
        )
        summary = {}
    else:
        record = scratch.load(manager.key)
        if record is not None:
            tokens = decode(record).tokens
    finally:
        manager.close()
        scratch.close()
    return (summary if isinstance(summary, dict) else {}), tokens


async def _no_async_sleep(seconds: float) -> None:  # pragma: no cover - sync driver only
    raise RuntimeError("the status page drives the flow synchronously")


def _no_async_http() -> Any:  # pragma: no cover - sync driver only
    raise RuntimeError("the status page drives the flow synchronously")
