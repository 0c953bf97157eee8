"""``TokenManager``: a valid access token on every call, with exactly one refresh per
expiry across threads, asyncio tasks, processes and machines sharing a store.

The hot path (a fresh token already in memory) is one clock read and one comparison.
Everything else runs ``ctct._refresh.refresh_flow`` under the grant's lock, driven
either synchronously or on an event loop. Threads and tasks of one process share one
in-memory copy per grant (a process-wide registry), so building a manager per request,
as web frameworks tend to, does not multiply refreshes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import httpx2

from ctct import _oauth_http, _redact
from ctct._aio import sleep, to_thread
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._refresh import (
    ClearAttempt,
    Flow,
    ForeignAttempt,
    Grant,
    Load,
    Mark,
    Outcome,
    RecordAttempt,
    RefreshPolicy,
    Renew,
    Save,
    SetState,
    Snapshot,
    decode,
    lasts,
    not_logged_in,
    other_grant_hint,
    refresh_flow,
)
from ctct._sansio import Send, Sleep, TakeRate, Verify, adrive, drive
from ctct._settings import Settings
from ctct._tokens import TokenSet, TokenState
from ctct.errors import AuthorizationRequired, ConfigError, CtctError
from ctct.stores import (
    AccountState,
    Attempt,
    GrantKey,
    Lease,
    LeaseLost,
    Record,
    RecordUnreadable,
    Store,
    StoreError,
    StoreLockTimeout,
    open_store,
)
from ctct.stores.base import unreadable_fix

log = logging.getLogger("ctct.manager")

_NEVER: Final = float("inf")

MarkHook = Callable[[str, float], None]


@dataclass(frozen=True)
class _Cached:
    """What the hot path reads: swapped as one object, so readers never see a mix."""

    snapshot: Snapshot
    token: str
    header: str
    use_until: float  # refresh (or retry) at this time; the hot path serves before it


if TYPE_CHECKING:
    import asyncio

    from ctct._jwt import JwksCache, JwtVerifier


class _Shared:
    """Per-process state of one grant, shared by every manager for it."""

    def __init__(self) -> None:
        self.cached: _Cached | None = None
        self.thread_lock = threading.Lock()
        self.loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.backoff = 0.0
        self.retry_at = 0.0

    def loop_lock(self) -> asyncio.Lock:
        import asyncio

        loop = asyncio.get_running_loop()
        with self.thread_lock:
            lock = self.loop_locks.get(loop)
            if lock is None:
                lock = self.loop_locks[loop] = asyncio.Lock()
            return lock


_registry_lock = threading.Lock()
_registry: dict[tuple[str, str, GrantKey], _Shared] = {}
_jwks_caches: dict[str, JwksCache] = {}


def _shared_for(store: Store, key: GrantKey) -> _Shared:
    info = store.describe()
    ident = (info.backend, info.location, key)
    with _registry_lock:
        shared = _registry.get(ident)
        if shared is None:
            shared = _registry[ident] = _Shared()
        return shared


def _jwks_cache_for(jwks_uri: str) -> JwksCache:
    from ctct._jwt import JwksCache

    with _registry_lock:
        cache = _jwks_caches.get(jwks_uri)
        if cache is None:
            cache = _jwks_caches[jwks_uri] = JwksCache()
        return cache


class TokenManager:
    """Keeps one grant's access token valid. Safe to share between threads and tasks.

    ``token()`` / ``await atoken()`` return a valid access token, refreshing when it is
    due; ``unauthorized(token)`` handles an API 401 (refresh once if that token is still
    the current one). Build it from settings with ``TokenManager.from_settings()``.
    """

    def __init__(
        self,
        *,
        provider: Provider,
        client: ClientCredentials,
        store: Store,
        profile: str = "default",
        http: httpx2.Client | None = None,
        async_http: httpx2.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        policy: RefreshPolicy | None = None,
        timeout: float = _oauth_http.DEFAULT_TIMEOUT,
        leeway: float = 60.0,
        on_mark: MarkHook | None = None,
        owns_store: bool = False,
        process_cache: bool = True,
    ) -> None:
        """``process_cache=False``: keep this manager's in-memory copy to itself instead
        of sharing it with every manager of the grant in the process (for a service
        that refreshes thousands of grants once each and must not keep them all)."""
        self.provider = provider
        self.client = client
        self.store = store
        self.profile = profile
        self.key = GrantKey(profile, provider.storage_issuer, client.client_id)
        self.clock = clock
        self.policy = policy or RefreshPolicy()
        self.timeout = timeout
        self._sleep = sleep
        self._http = http
        self._owns_http = http is None
        self._async_http = async_http
        self._owns_async_http = async_http is None
        self._owns_store = owns_store
        self._on_mark = on_mark
        self._shared = _shared_for(store, self.key) if process_cache else _Shared()
        self._grant = Grant(self.key, provider, client, clock, self.policy, http_timeout=timeout)
        self._leeway = leeway
        self._verifier: JwtVerifier | None = None
        """Built on first use: a fresh token needs no verification, nor the JOSE stack."""

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, store: Store | None = None, **kwargs: Any
    ) -> TokenManager:
        """A manager for the configured profile (``Settings.load()`` when not given)."""
        settings = settings or Settings.load()
        if settings.client_id is None:
            raise ConfigError(
                "No client_id configured: set CTCT_CLIENT_ID (your Constant Contact API key) "
                "or client_id in the config file."
            )
        given_http: httpx2.Client | None = kwargs.pop("http", None)
        # No client unless discovery needs one now: building one loads the system's CA
        # certificates, and a fresh token needs no request (``_sync_http`` makes it).
        http = given_http
        if settings.needs_discovery:
            http = given_http or httpx2.Client()
            provider = _oauth_http.resolve_provider(settings, http)
        else:
            provider = settings.provider()
        owns_store = store is None
        manager = cls(
            provider=provider,
            client=ClientCredentials(settings.client_id, settings.client_secret),
            store=store if store is not None else open_store(settings.store),
            profile=settings.profile,
            http=http,
            timeout=settings.timeout,
            leeway=settings.leeway,
            policy=kwargs.pop("policy", None) or RefreshPolicy(margin=settings.refresh_margin),
            owns_store=owns_store,
            **kwargs,
        )
        manager._owns_http = given_http is None
        return manager

    # -- the hot path --------------------------------------------------------------------

    def authorization(self) -> str:
        """``Bearer <token>`` for the Authorization header, refreshed if due."""
        cached = self._shared.cached
        if cached is not None and self.clock() < cached.use_until:
            return cached.header
        return self._ensure().header

    def token(self) -> str:
        """A valid access token, refreshed if due."""
        cached = self._shared.cached
        if cached is not None and self.clock() < cached.use_until:
            return cached.token
        return self._ensure().token

    async def aauthorization(self) -> str:
        cached = self._shared.cached
        if cached is not None and self.clock() < cached.use_until:
            return cached.header
        return (await self._aensure()).header

    async def atoken(self) -> str:
        cached = self._shared.cached
        if cached is not None and self.clock() < cached.use_until:
            return cached.token
        return (await self._aensure()).token

    def current(self, *, min_valid: float = 0.0) -> TokenSet:
        """The tokens in use, refreshed first if the access token is due or would expire
        within ``min_valid`` seconds (one refresh however many callers ask at once)."""
        cached = self._usable(self._shared.cached, False, None, min_valid)
        if cached is not None:
            return cached.snapshot.tokens
        return self._ensure(min_valid=min_valid).snapshot.tokens

    async def acurrent(self, *, min_valid: float = 0.0) -> TokenSet:
        cached = self._usable(self._shared.cached, False, None, min_valid)
        if cached is not None:
            return cached.snapshot.tokens
        return (await self._aensure(min_valid=min_valid)).snapshot.tokens

    # -- explicit operations ---------------------------------------------------------------

    def refresh(
        self, *, force: bool = True, min_valid: float = 0.0, known: Record | None = None
    ) -> TokenSet:
        """Refresh now (``force``) or only if due (or expiring within ``min_valid``
        seconds); return the tokens in use afterwards. ``known``: the record the caller
        just read from the store, which saves reading it again before the lease (the
        refresh itself re-reads under the lease all the same).

        Unlike ``token()``, which quietly keeps serving a still-valid token when the
        provider fails for a moment, an explicit refresh that failed raises that error
        (``TransientProviderError`` or ``NetworkError``); the old tokens stay in use."""
        cached = self._ensure(force=force, raise_transient=True, min_valid=min_valid, known=known)
        return cached.snapshot.tokens

    async def arefresh(self, *, force: bool = True, min_valid: float = 0.0) -> TokenSet:
        cached = await self._aensure(force=force, raise_transient=True, min_valid=min_valid)
        return cached.snapshot.tokens

    def unauthorized(self, rejected_token: str) -> str | None:
        """The API refused ``rejected_token`` (HTTP 401): refresh once if it is still the
        current token. Returns the new Authorization header, or None when nothing newer
        can be had (the caller then reports the 401)."""
        try:
            cached = self._ensure(rejected=rejected_token)
        except AuthorizationRequired:
            return None
        return None if cached.token == rejected_token else cached.header

    async def aunauthorized(self, rejected_token: str) -> str | None:
        try:
            cached = await self._aensure(rejected=rejected_token)
        except AuthorizationRequired:
            return None
        return None if cached.token == rejected_token else cached.header

    def tokens(self) -> TokenSet | None:
        """The stored tokens (no refresh), or None when the profile has no grant."""
        record = self.store.load(self.key)
        return None if record is None else self._decode(record).tokens

    def not_logged_in(self) -> AuthorizationRequired:
        """The error for "no grant under this manager's key", naming a grant of this
        profile that the store holds under another client id or provider."""
        return not_logged_in(self.key, self._stored_keys())

    def other_grant_hint(self) -> str | None:
        """``there is a grant for this profile under client id X ...``, or None."""
        return other_grant_hint(self.key, self._stored_keys())

    def _stored_keys(self) -> list[GrantKey]:
        try:
            return self.store.keys()
        except CtctError:  # the hint is a courtesy: the error stands without it
            return []

    def held_secrets(self) -> _redact.Held:
        """What must never appear in a message: the grant's tokens (in memory and in the
        store) and the client secret. Error paths mask server text with it; the store
        is read here, so do not call it on a hot path."""
        cached = self._shared.cached
        try:
            stored = self.tokens()
        except CtctError:
            stored = None
        return _redact.Held(
            _redact.in_tokens(cached.snapshot.tokens if cached is not None else None),
            _redact.in_tokens(stored),
            self.client.client_secret,
        )

    replace_unreadable = False
    """Let ``save`` replace a stored record that cannot be read (a lost store key, an
    altered record) instead of failing: set it once the person agreed."""

    def save(self, tokens: TokenSet) -> None:
        """Store a new grant (after a login or an import), replacing any previous one."""
        with self.store.lock(self.key, self.policy.lock_timeout):
            try:
                current = self.store.load(self.key)
            except RecordUnreadable as unreadable:
                if not self.replace_unreadable:
                    raise unreadable from None  # never without the person's yes
                self.store.delete(self.key)
                current = None
            offset = self.store.clock_offset()
            version = self.store.save(
                self.key,
                tokens.to_json(offset),
                expected_version=None if current is None else current.version,
            )
        self._adopt(Snapshot(tokens, version, offset))

    def forget(self) -> bool:
        """Delete the stored grant of this profile (no server call)."""
        with self.store.lock(self.key, self.policy.lock_timeout):
            deleted = self.store.delete(self.key)
        self._shared.cached = None
        return deleted

    # -- slow path: sync ---------------------------------------------------------------------

    def _ensure(
        self,
        *,
        force: bool = False,
        rejected: str | None = None,
        raise_transient: bool = False,
        min_valid: float = 0.0,
        known: Record | None = None,
    ) -> _Cached:
        shared = self._shared
        with shared.thread_lock:
            cached = self._usable(shared.cached, force, rejected, min_valid)
            if cached is not None:
                return cached
            # Read without the grant lock first: another process may already have
            # refreshed, and a cold start usually finds a fresh token.
            if not force:
                record = known if known is not None else self.store.load(self.key)
                if record is None:
                    raise self.not_logged_in()
                cached = self._usable(self._adopt(self._decode(record)), force, rejected, min_valid)
                if cached is not None:
                    return cached
            acquired = self._lease_or_stored(force, rejected, min_valid)
            if isinstance(acquired, Snapshot):
                return self._serve_while_busy(acquired)
            with acquired as lease:
                flow = refresh_flow(
                    self._grant, force=force, rejected=rejected, min_valid=min_valid
                )
                outcome = self._run(flow, lease)
            return self._settle(outcome, raise_transient)

    def _run(self, flow: Flow, lease: Lease) -> Outcome:
        try:
            return drive(flow, lambda operation: self._execute(operation, lease))
        except CtctError as error:
            _redact.scrub(error, self.held_secrets())
            raise

    def _lease(self, timeout: float | None = None) -> Lease:
        return self.store.lease(
            self.key,
            duration=self.policy.lease_duration,
            timeout=self.policy.lock_timeout if timeout is None else timeout,
        )

    def _lease_or_stored(
        self, force: bool, rejected: str | None, min_valid: float
    ) -> Lease | Snapshot:
        """The grant's lease or, when another holder keeps it past ``lock_patience``
        (frozen, or on a hung disk) and the stored access token still serves, that token:
        the holder finishes the refresh meanwhile. Wait the full timeout only when nothing
        valid is left (or the caller insists on a refresh)."""
        policy = self.policy
        patience = min(policy.lock_patience, policy.lock_timeout)
        try:
            return self._lease(patience)
        except StoreLockTimeout:
            if patience >= policy.lock_timeout:
                raise
        record = None if force else self.store.load(self.key)
        if record is not None:
            snapshot = self._decode(record)
            if self._serves_while_busy(snapshot.tokens, rejected, min_valid):
                return snapshot  # the holder refreshes meanwhile
        return self._lease(policy.lock_timeout - patience)

    def _serves_while_busy(self, tokens: TokenSet, rejected: str | None, min_valid: float) -> bool:
        if tokens.access_token is None:
            return False
        if tokens.access_token.reveal() == rejected:
            return False  # the API just refused it: only a refresh helps
        now = self.clock()
        valid = self._grant.state(tokens, now) is not TokenState.EXPIRED
        return valid and lasts(tokens, now, min_valid)

    def _serve_while_busy(self, snapshot: Snapshot) -> _Cached:
        # Serve it until the recheck (or its expiry), then ask for the lease again.
        self._shared.retry_at = self.clock() + self.policy.busy_recheck
        cached = self._adopt(snapshot)
        if cached is None:  # expired in between: the caller reports it as if refused
            raise StoreLockTimeout(f"the lease of {self.key} is held by another worker")
        log.info(
            "profile %r: another worker holds the grant's lease; serving the stored access "
            "token meanwhile",
            self.profile,
        )
        return cached

    def _lease_step(self, operation: object, lease: Lease) -> Any:
        """The lease and attempt operations (store calls; the same for sync and async)."""
        if isinstance(operation, Renew):
            try:
                lease.renew()
            except LeaseLost:
                return 0.0
            return lease.remaining()
        if isinstance(operation, ForeignAttempt):
            attempt = self.store.load_attempt(self.key)
            return attempt if attempt is not None and attempt.fence != lease.fence else None
        if isinstance(operation, RecordAttempt):
            attempt = Attempt(lease.holder, operation.parent, lease.fence)
            self.store.record_attempt(self.key, attempt)
            return None
        if isinstance(operation, ClearAttempt):
            self.store.clear_attempt(self.key, lease.fence)
            return None
        if isinstance(operation, SetState):
            state = AccountState(operation.code, operation.reason, operation.detail.encode())
            try:
                self.store.set_state(self.key, state)
            except StoreError as error:  # the flag is a courtesy; the error is raised anyway
                log.warning("could not store the state of profile %r: %s", self.profile, error)
            return None
        raise TypeError(f"unknown refresh operation {operation!r}")

    def _execute(self, operation: object, lease: Lease) -> Any:
        if isinstance(operation, Renew | ForeignAttempt | RecordAttempt | ClearAttempt | SetState):
            return self._lease_step(operation, lease)
        if isinstance(operation, Load):
            return self.store.load(self.key)
        if isinstance(operation, Save):
            return self.store.save(
                self.key, operation.data, expected_version=operation.expected_version
            )
        if isinstance(operation, Send):
            return _oauth_http.send(self._sync_http(), operation.request, timeout=self.timeout)
        if isinstance(operation, TakeRate):
            return self.store.acquire_rate(operation.bucket, operation.rate, 1.0)
        if isinstance(operation, Sleep):
            self._sleep(operation.seconds)
            return None
        if isinstance(operation, Verify):
            verifier, jwks_uri = self._verification()
            http = self._sync_http()
            verifier.verify(
                operation.token,
                lambda: _oauth_http.fetch_jwks(http, jwks_uri, timeout=self.timeout),
                skew=operation.skew,
            )
            return None
        if isinstance(operation, Mark):
            if self._on_mark is not None:
                self._on_mark(operation.name, self.clock())
            return None
        raise TypeError(f"unknown refresh operation {operation!r}")

    # -- slow path: async --------------------------------------------------------------------

    async def _aensure(
        self,
        *,
        force: bool = False,
        rejected: str | None = None,
        raise_transient: bool = False,
        min_valid: float = 0.0,
    ) -> _Cached:
        shared = self._shared
        async with shared.loop_lock():
            cached = self._usable(shared.cached, force, rejected, min_valid)
            if cached is not None:
                return cached
            if not force:
                record = await to_thread(self.store.load, self.key)
                if record is None:
                    raise self.not_logged_in()
                cached = self._usable(self._adopt(self._decode(record)), force, rejected, min_valid)
                if cached is not None:
                    return cached
            # Not cancellable (anyio's default): a cancelled wait must not leave the
            # lease acquired by a thread nobody will release it from.
            acquired = await to_thread(self._lease_or_stored, force, rejected, min_valid)
            if isinstance(acquired, Snapshot):
                return self._serve_while_busy(acquired)
            lease = acquired
            try:
                flow = refresh_flow(
                    self._grant, force=force, rejected=rejected, min_valid=min_valid
                )
                outcome = await self._arun(flow, lease)
            finally:
                await to_thread(lease.release)
            return self._settle(outcome, raise_transient)

    async def _arun(self, flow: Flow, lease: Lease) -> Outcome:
        try:
            return await adrive(flow, lambda operation: self._aexecute(operation, lease))
        except CtctError as error:
            held = await to_thread(self.held_secrets)
            _redact.scrub(error, held)
            raise

    async def _aexecute(self, operation: object, lease: Lease) -> Any:
        if isinstance(operation, Renew | ForeignAttempt | RecordAttempt | ClearAttempt | SetState):
            return await to_thread(self._lease_step, operation, lease)
        if isinstance(operation, Load):
            return await to_thread(self.store.load, self.key)
        if isinstance(operation, Save):
            data, expected = operation.data, operation.expected_version
            return await to_thread(
                lambda: self.store.save(self.key, data, expected_version=expected)
            )
        if isinstance(operation, Send):
            return await _oauth_http.asend(
                self._async_client(), operation.request, timeout=self.timeout
            )
        if isinstance(operation, TakeRate):
            bucket, rate = operation.bucket, operation.rate
            return await to_thread(lambda: self.store.acquire_rate(bucket, rate, 1.0))
        if isinstance(operation, Sleep):
            await sleep(operation.seconds)
            return None
        if isinstance(operation, Verify):
            verifier, jwks_uri = self._verification()
            client = self._async_client()
            timeout = self.timeout

            async def fetch() -> bytes:
                return await _oauth_http.afetch_jwks(client, jwks_uri, timeout=timeout)

            await verifier.averify(operation.token, fetch, skew=operation.skew)
            return None
        return self._execute(operation, lease)  # Mark: no I/O

    # -- shared bookkeeping ------------------------------------------------------------------

    def _decode(self, record: Record) -> Snapshot:
        try:
            return decode(record)
        except RecordUnreadable as error:
            # The record cannot say whose it is; the way out must name this profile.
            error.message = error.message.replace(
                unreadable_fix(None), unreadable_fix(self.profile)
            )
            raise

    def _usable(
        self, cached: _Cached | None, force: bool, rejected: str | None, min_valid: float = 0.0
    ) -> _Cached | None:
        if cached is None or force:
            return None
        if rejected is not None:
            # The API refused ``rejected``; anything else we hold is newer.
            return cached if cached.token != rejected else None
        now = self.clock()
        if now >= cached.use_until or not lasts(cached.snapshot.tokens, now, min_valid):
            return None
        return cached

    def _adopt(self, snapshot: Snapshot) -> _Cached | None:
        """Make ``snapshot`` the in-memory copy if it holds a usable access token."""
        tokens = snapshot.tokens
        now = self.clock()
        shared = self._shared
        if tokens.access_token is None or self._grant.state(tokens, now) is TokenState.EXPIRED:
            shared.cached = None
            return None
        due = tokens.refresh_due_at(
            margin=self.policy.margin, max_fraction=self.policy.max_fraction
        )
        use_until = _NEVER if due is None else due
        if shared.retry_at > now and tokens.expires_at is not None:
            # Backing off after a transient failure: serve the still-valid token until
            # the next attempt (or its expiry, whichever is first).
            use_until = min(shared.retry_at, tokens.expires_at)
        token = tokens.access_token.reveal()
        cached = _Cached(snapshot, token, f"Bearer {token}", use_until)
        shared.cached = cached
        return cached

    def _settle(self, outcome: Outcome, raise_transient: bool = False) -> _Cached:
        shared = self._shared
        if outcome.transient_error is not None:
            shared.backoff = min(
                self.policy.backoff_max, max(self.policy.backoff_initial, shared.backoff * 2)
            )
            # Full jitter keeps a fleet of workers from retrying in lockstep.
            shared.retry_at = self.clock() + shared.backoff * (0.5 + random.random() / 2)
        else:
            shared.backoff = 0.0
            shared.retry_at = 0.0
        cached = self._adopt(outcome.snapshot)
        if raise_transient and outcome.transient_error is not None:
            raise outcome.transient_error
        if cached is None:
            raise AuthorizationRequired(
                f"Profile {self.profile!r} has no valid access token and it could not be "
                "refreshed: run `ctct auth login`.",
                code="no_access_token",
            )
        return cached

    def _verification(self) -> tuple[JwtVerifier, str]:
        provider = self.provider
        if provider.jwks_uri is None or provider.access_token_format == "opaque":
            raise ConfigError("this provider's access tokens cannot be verified (no JWKS URI)")
        if self._verifier is None:
            from ctct._jwt import JwtVerifier

            self._verifier = JwtVerifier.for_provider(
                provider,
                self.client.client_id,
                clock=self.clock,
                leeway=self._leeway,
                jwks_cache=_jwks_cache_for(provider.jwks_uri),
            )
        return self._verifier, provider.jwks_uri

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
        if self._owns_store:
            self.store.close()

    async def aclose(self) -> None:
        if self._owns_async_http and self._async_http is not None:
            await self._async_http.aclose()
            self._async_http = None
        self.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> TokenManager:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"TokenManager(profile={self.profile!r}, issuer={self.key.issuer!r})"
