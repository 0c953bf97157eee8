"""The refresh engine's logic, written once and free of I/O.

``refresh_flow`` is a generator: it yields *operations* (load the record, send a
request, take a rate-limit token, sleep, save, verify) and receives their results;
the sync and async drivers in ``ctct._manager`` carry them out. The driver holds the
grant's *lease* (store protocol v2: threads, tasks, processes and hosts) for the whole
flow, so the sequence is the one every correct implementation converged on:

1. re-read the store: another worker may have refreshed while we waited for the lease;
   look for an attempt a vanished holder left behind (the stored refresh token may then
   already be spent: "in doubt");
2. refresh only if the token is still due (or the caller insists, or the API refused it);
3. wait for the token endpoint's shared rate limit (CC: 1 request/second per client);
4. renew the lease and send only if it has time left for the whole rest (HTTP timeout
   and save); record the attempt first; on ``invalid_grant`` re-read the store before
   concluding that the user must log in again (another worker may have rotated the token
   under us) and, if the attempt was in doubt, say "rotation lost in flight";
5. save the new pair durably, compare-and-swap on the version, *before* anything uses
   the new access token (on a lost compare-and-swap, lineage decides: ``ctct._lineage``);
   then verify it.

Transient failures (5xx, 429, timeouts, garbled bodies, network errors) while the old
access token is still valid keep serving the old one: the driver backs off and tries
again later. The refresh token is discarded only when the server rejected it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

from ctct._cc import provider_label
from ctct._lineage import decide, fingerprint
from ctct._oauth_requests import ClientCredentials, parse_token_response, refresh_request
from ctct._provider import Provider
from ctct._sansio import Send, Sleep, TakeRate, Verify
from ctct._tokens import (
    DEFAULT_MAX_MARGIN_FRACTION,
    DEFAULT_REFRESH_MARGIN,
    TokenSet,
    TokenState,
)
from ctct.errors import (
    AuthorizationRequired,
    ClientRejected,
    CtctError,
    NetworkError,
    TokenValidationError,
    TransientProviderError,
)
from ctct.stores.base import Attempt, GrantKey, Record, StoreConflict

log = logging.getLogger("ctct.refresh")

DEFAULT_LOCK_TIMEOUT: Final = 60.0
_IN_DOUBT_CODES: Final = frozenset({"timeout", "garbled"})
"""Transport failures after which the server may have answered (and rotated)."""
DEFAULT_LEASE: Final = 60.0


@dataclass(frozen=True)
class RefreshPolicy:
    """When to refresh and how hard to try. Times in seconds."""

    margin: float = DEFAULT_REFRESH_MARGIN
    max_fraction: float = DEFAULT_MAX_MARGIN_FRACTION
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    lock_patience: float = 1.0
    """Wait this long for a lease another holder keeps before serving the stored access
    token, if it is still valid (a frozen or slow holder must not become an outage)."""
    busy_recheck: float = 5.0
    """Then serve it this long before asking for the lease again."""
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    max_rate_wait: float = 30.0
    """Give up waiting for the token endpoint's rate limit after this long."""
    lease_duration: float = DEFAULT_LEASE
    """How long the grant's lease lasts between renewals (must outlast one HTTP timeout)."""
    save_margin: float = 5.0
    """Lease time kept for the save after a response (on top of the HTTP timeout)."""


# -- operations the flow yields ---------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """Read the grant's record. Result: ``Record | None``."""


@dataclass(frozen=True)
class Save:
    """Compare-and-swap write. Result: the new version (``StoreConflict`` is thrown in)."""

    data: bytes
    expected_version: int | None


@dataclass(frozen=True)
class Renew:
    """Renew the grant's lease. Result: seconds it has left (0.0 if it was lost)."""


@dataclass(frozen=True)
class ForeignAttempt:
    """Result: the refresh attempt another lease holder recorded and never cleared."""


@dataclass(frozen=True)
class RecordAttempt:
    """Record that we are about to send a refresh with the refresh token ``parent``."""

    parent: str


@dataclass(frozen=True)
class ClearAttempt:
    """Our attempt is settled (saved, or answered with an error)."""


@dataclass(frozen=True)
class SetState:
    """Store the account state (``AccountState`` codes)."""

    code: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Mark:
    """A point in the flow worth timing (e.g. from the response to the durable write)."""

    name: str


Operation = (
    Load
    | Save
    | Send
    | TakeRate
    | Sleep
    | Verify
    | Mark
    | Renew
    | ForeignAttempt
    | RecordAttempt
    | ClearAttempt
    | SetState
)


@dataclass(frozen=True)
class Snapshot:
    """A grant's tokens as read from (or written to) the store at ``version``."""

    tokens: TokenSet
    version: int
    store_offset: float = 0.0
    """The store's ``clock_offset()`` when read: what ``tokens`` are written back with."""


@dataclass(frozen=True)
class Outcome:
    """What a flow ends with: the tokens to serve, and whether a transient failure
    means the caller should back off before trying again."""

    snapshot: Snapshot
    refreshed: bool
    transient_error: CtctError | None = None


@dataclass(frozen=True)
class Grant:
    """Everything the flow needs to know about one grant."""

    key: GrantKey
    provider: Provider
    client: ClientCredentials
    clock: Callable[[], float]
    policy: RefreshPolicy = RefreshPolicy()
    http_timeout: float = 30.0

    @property
    def rate_bucket(self) -> str:
        return f"token-endpoint:{self.provider.storage_issuer}:{self.client.client_id}"

    @property
    def token_rate(self) -> float | None:
        return self.provider.token_rate_per_second

    def state(self, tokens: TokenSet, now: float) -> TokenState:
        return tokens.state(now, margin=self.policy.margin, max_fraction=self.policy.max_fraction)

    def verifies_jwts(self, token: str) -> bool:
        if self.provider.jwks_uri is None or self.provider.access_token_format == "opaque":
            return False
        return self.provider.access_token_format == "jwt" or token.count(".") == 2


Flow = Generator[Operation, Any, Outcome]


def not_logged_in(key: GrantKey, stored: Iterable[GrantKey] = ()) -> AuthorizationRequired:
    """No grant under ``key``. ``stored``: the store's keys, to point out a grant of
    this profile filed under another client id or provider (a setting that differs
    from the login's) instead of sending the person to log in again."""
    where = provider_label(key.issuer)
    hint = other_grant_hint(key, stored)
    return AuthorizationRequired(
        f"No stored grant for profile {key.profile!r} with {where} and client id "
        f"{key.client_id}: " + (hint or "run `ctct auth login` (or `ctct auth import`) first."),
        code="no_grant",
    )


def other_grant_hint(key: GrantKey, stored: Iterable[GrantKey]) -> str | None:
    """``there is a grant for this profile under client id X ...``, or None."""
    same_profile = [k for k in stored if k.profile == key.profile and k != key]
    for other in same_profile:
        if other.issuer == key.issuer:
            return (
                f"there is a grant for this profile under client id {other.client_id}. "
                f"Set CTCT_CLIENT_ID={other.client_id} (or client_id in the config file) to "
                "use it, or run `ctct auth login` to log in with this client id."
            )
    for other in same_profile:
        if other.client_id == key.client_id:
            return (
                f"there is a grant for this profile with {provider_label(other.issuer)}: "
                "check CTCT_BASE_URL / CTCT_ISSUER (the settings it was logged in with), or "
                "run `ctct auth login`."
            )
    return None


def lasts(tokens: TokenSet, now: float, min_valid: float) -> bool:
    """Whether the access token stays valid for ``min_valid`` more seconds (an unknown
    expiry counts as lasting: the provider gave no lifetime)."""
    if min_valid <= 0 or tokens.expires_at is None:
        return True
    return tokens.expires_at - now >= min_valid


def decode(record: Record) -> Snapshot:
    # The one place records become tokens: their times onto this host's clock.
    return Snapshot(
        TokenSet.from_json(record.data, record.clock_offset), record.version, record.clock_offset
    )


def refresh_flow(
    grant: Grant,
    *,
    force: bool = False,
    rejected: str | None = None,
    allow_transient_fallback: bool = True,
    min_valid: float = 0.0,
) -> Flow:
    """Refresh the grant if (still) needed. Run it with the grant's lock held.

    ``force``: refresh even if the stored token is fresh. ``rejected``: the access token
    the API just refused; refresh only if it is still the stored one.
    ``allow_transient_fallback``: on a transient failure, return the old access token
    while it is valid instead of raising. ``min_valid``: a fresh token that expires within
    this many seconds counts as due (a caller that needs the token for a long job).
    """
    record = yield Load()
    if record is None:
        raise not_logged_in(grant.key)
    current = decode(record)
    tokens = current.tokens
    now = grant.clock()
    stored_access = tokens.access_token.reveal() if tokens.access_token is not None else None

    if rejected is not None and stored_access is not None and stored_access != rejected:
        # Another worker already replaced the token the API refused.
        return Outcome(current, refreshed=False)
    if (
        not force
        and rejected is None
        and grant.state(tokens, now) is TokenState.FRESH
        and lasts(tokens, now, min_valid)
    ):
        return Outcome(current, refreshed=False)
    if tokens.refresh_token is None:
        if grant.state(tokens, now) is not TokenState.EXPIRED and rejected is None:
            return Outcome(current, refreshed=False)
        raise AuthorizationRequired(
            f"The grant for profile {grant.key.profile!r} has no refresh token left: "
            "run `ctct auth login` to authorize again.",
            code="no_refresh_token",
        )

    if grant.token_rate is not None:
        waited = 0.0
        while True:
            wait = yield TakeRate(grant.rate_bucket, grant.token_rate)
            if wait <= 0:
                break
            if waited + wait > grant.policy.max_rate_wait:
                return _transient(
                    grant,
                    current,
                    now,
                    allow_transient_fallback,
                    _rate_wait_error(grant),
                )
            waited += wait
            yield Sleep(wait)

    # Another holder recorded sending this refresh token and vanished (died, or paused
    # past its lease): the server may already have rotated it.
    foreign: Attempt | None = yield ForeignAttempt()
    parent = fingerprint(tokens.refresh_token) or ""
    in_doubt = foreign if foreign is not None and foreign.parent == parent else None
    if in_doubt is not None:
        log.warning(
            "profile %r: a refresh with the stored refresh token was started by %s and never "
            "finished; it may already be spent",
            grant.key.profile,
            in_doubt.holder,
        )

    # Send only while the lease outlasts the whole rest of the flow: a holder whose lease
    # ran out must not send a refresh token another holder may be sending too.
    left = yield Renew()
    if left < grant.http_timeout + grant.policy.save_margin:
        return _transient(
            grant, current, grant.clock(), allow_transient_fallback, _lease_error(grant)
        )
    yield RecordAttempt(parent)
    request = refresh_request(grant.provider, grant.client, tokens.refresh_token)
    try:
        response = yield Send(request)
        yield Mark("response")
        received_at = grant.clock()
        new_tokens = parse_token_response(
            response,
            provider=grant.provider,
            client_id=grant.client.client_id,
            received_at=received_at,
            previous=tokens,
        )
    except AuthorizationRequired as refused:
        yield ClearAttempt()
        if isinstance(refused, ClientRejected):
            # invalid_client: the app's credentials, not the grant; keep the refresh token.
            raise refused
        return (yield from _after_invalid_grant(grant, current, refused, rejected, in_doubt))
    except CtctError as error:
        # A network error, a timeout or a garbled answer may have reached the server,
        # which may have rotated the token: the attempt stays so the next holder knows.
        # An answer that says why not means not.
        answered = not isinstance(error, NetworkError)
        if error.code in _IN_DOUBT_CODES:
            answered = False
        if answered:
            yield ClearAttempt()
        if not error.retryable:
            raise  # e.g. unauthorized_client: the refresh token is kept, the message says why
        return _transient(grant, current, grant.clock(), allow_transient_fallback, error)

    new_tokens = new_tokens.with_subject(tokens.subject)
    try:
        saved = yield from _save(grant, current, new_tokens)
    except _Dropped as dropped:
        yield ClearAttempt()
        return Outcome(dropped.stored, refreshed=False)
    yield ClearAttempt()
    yield Mark("saved")
    if in_doubt is not None:
        yield SetState("ok", "recovered")
    access = new_tokens.access_token.reveal() if new_tokens.access_token is not None else ""
    if access and grant.verifies_jwts(access):
        try:
            yield Verify(access, new_tokens.clock_skew)
        except TokenValidationError:
            # Keep the new refresh token (the old one is spent), drop the access token
            # that failed verification so nobody uses it.
            yield from _save(grant, saved, replace(new_tokens, access_token=None))
            raise
    log.info("refreshed the grant for profile %r", grant.key.profile)
    return Outcome(saved, refreshed=True)


def _save(grant: Grant, current: Snapshot, tokens: TokenSet) -> Generator[Operation, Any, Snapshot]:
    """Write ``tokens`` over ``current`` (its version, and this host's store offset)."""
    expected, offset = current.version, current.store_offset
    data = tokens.to_json(offset)
    try:
        version = yield Save(data, expected)
    except StoreConflict:
        # Someone wrote the record while we held the lease: a login or import (which skip
        # the lease), or a holder that took over a lease we held too long. Lineage decides
        # whether our tokens, the newest the server gave *us*, may replace what is there.
        yield Mark("conflict")
        latest = yield Load()
        stored = decode(latest) if latest is not None else None
        decision = decide(tokens, stored.tokens if stored is not None else None)
        if decision == "ours" and latest is not None:
            return Snapshot(tokens, latest.version, offset)
        if decision != "write" or latest is None:
            log.warning(
                "profile %r: refreshed tokens dropped, the stored record is kept (%s)",
                grant.key.profile,
                _DROP_REASONS.get(decision, decision),
            )
            if stored is None:
                raise not_logged_in(grant.key) from None
            raise _Dropped(stored) from None
        log.warning("the grant for profile %r changed during a refresh", grant.key.profile)
        version = yield Save(data, latest.version)
        if stored is not None and tokens.parent and stored.tokens.spent == tokens.parent:
            # Another holder took our lease while we were paused or cut off, resent our
            # parent and had it rejected (flagging the account "rotation lost"): the
            # rotation was not lost, ours are the live tokens. A provider that revokes
            # the whole grant on reuse makes the next refresh say so.
            log.warning(
                "profile %r: another holder resent the refresh token of this refresh and "
                "was refused; the tokens of this refresh replace the spent record",
                grant.key.profile,
            )
            yield SetState("ok", "recovered", "resent refresh token refused")
    return Snapshot(tokens, version, offset)


_DROP_REASONS = {
    "deleted": "the grant was removed meanwhile",
    "other_grant": "a newer login replaced the grant",
    "double_send": "double_send: another holder also refreshed with the same refresh token "
    "and saved first",
    "newer": "the stored record is newer",
}


class _Dropped(Exception):
    """Our refreshed tokens lost to the stored record (see ``_save``)."""

    def __init__(self, stored: Snapshot) -> None:
        super().__init__("refreshed tokens dropped")
        self.stored = stored


def _after_invalid_grant(
    grant: Grant,
    current: Snapshot,
    error: AuthorizationRequired,
    rejected: str | None,
    in_doubt: Attempt | None = None,
) -> Generator[Operation, Any, Outcome]:
    # Another worker (one that does not share our lock, or a previous run of this
    # process) may have rotated the refresh token: trust the store over the error.
    reread = yield Load()
    if reread is not None and reread.version != current.version:
        newer = decode(reread)
        if newer.tokens.refresh_token != current.tokens.refresh_token:
            return Outcome(newer, refreshed=False)
    # The server rejected this refresh token: only now is it safe to forget it. The
    # access token, if still valid, keeps working until it expires.
    spent = replace(
        current.tokens,
        refresh_token=None,
        spent=fingerprint(current.tokens.refresh_token),
    )
    try:
        saved = yield from _save(grant, current, spent)
    except _Dropped as dropped:
        return Outcome(dropped.stored, refreshed=False)
    if in_doubt is not None:
        # The refresh token was sent by a holder that vanished before saving the answer:
        # the rotation it caused is lost. Flag the account: never silently dead.
        detail = f"attempt by {in_doubt.holder}"
        yield SetState("needs_login", "rotation_lost", detail)
    else:
        yield SetState("needs_login", "rejected", error.code or "invalid_grant")
    if rejected is None and grant.state(spent, grant.clock()) is not TokenState.EXPIRED:
        log.warning(
            "the refresh token of profile %r was rejected%s; the current access token "
            "works until it expires, then `ctct auth login` is needed",
            grant.key.profile,
            " (rotation lost in flight)" if in_doubt is not None else "",
        )
        return Outcome(saved, refreshed=False)
    if in_doubt is not None:
        raise AuthorizationRequired(
            f"Profile {grant.key.profile!r} needs a new login: rotation lost in flight (a "
            f"refresh started by {in_doubt.holder} was sent with this refresh token and its "
            "answer was never stored, so the server had already rotated it). Run "
            "`ctct auth login` to authorize again.",
            code="rotation_lost",
        ) from None
    raise AuthorizationRequired(
        f"The provider rejected the refresh token of profile {grant.key.profile!r} "
        f"({error.code or 'invalid_grant'}): it expired, was revoked, or was already used. "
        "Run `ctct auth login` to authorize again.",
        code=error.code or "invalid_grant",
    ) from None


def _transient(
    grant: Grant, current: Snapshot, now: float, fallback: bool, error: CtctError
) -> Outcome:
    if fallback and grant.state(current.tokens, now) is not TokenState.EXPIRED:
        log.warning(
            "refreshing profile %r failed for now (%s); the current access token is still "
            "valid and stays in use",
            grant.key.profile,
            error.message,
        )
        return Outcome(current, refreshed=False, transient_error=error)
    raise error


def _lease_error(grant: Grant) -> CtctError:
    return TransientProviderError(
        f"The lease on the grant of profile {grant.key.profile!r} ran out before the refresh "
        "could be sent safely (the store or this process was too slow); retry.",
        code="lease_expired",
    )


def _rate_wait_error(grant: Grant) -> CtctError:
    return TransientProviderError(
        f"The token endpoint's rate limit kept us waiting more than "
        f"{grant.policy.max_rate_wait:g} s; retry later.",
        code="rate_limited",
    )
