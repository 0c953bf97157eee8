"""The token model: what a grant holds, when it expires, and how it is stored.

Expiry is absolute (epoch seconds on the local clock; records of other hosts are read
onto it with the store's clock, ``ctct._store_clock``), never a relative
``expires_in`` that would "never expire" once reloaded from disk. The rule
(``compute_expiry``) takes the earlier of

* receipt time + ``expires_in``, and
* the JWT ``exp`` converted to the local clock with the skew seen in the response's
  ``Date`` header.

``Date`` has one-second granularity and is truncated, so when the server wrote
``Date: D`` its clock read somewhere in ``[D, D + 1)``. ctct takes the upper end,
``skew = (D + 1) - receipt time``: an over-estimate of the server's clock makes the
local expiry earlier, never later, so the error (at most one second plus latency)
always falls on the safe side. No usable ``Date`` keeps the skew measured before (a
refresh inherits its grant's), else 0.

The skew is stored with the grant and is the one offset every comparison with the
provider's timestamps uses: JWT verification applies it too (``ctct._clock`` bounds it).

The ``exp`` read here is not verified: it can only make the expiry *earlier*, so a
forged value cannot extend a token's life. Verification is ``ctct._jwt``'s job.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, TypeGuard

from ctct._clock import MAX_CLOCK_OFFSET, describe_offset, duration, offset_in_range
from ctct._lineage import fingerprint, new_grant_id
from ctct._peek import peek_claims
from ctct._secret import MASK, Secret, as_secret
from ctct._store_clock import shift
from ctct.errors import AuthorizationRequired, StoreError, TransientProviderError

FORMAT_VERSION: Final = 1
DEFAULT_REFRESH_MARGIN: Final = 300.0
"""Refresh this many seconds before expiry (5 minutes) ..."""
DEFAULT_MAX_MARGIN_FRACTION: Final = 0.1
"""... but never earlier than this fraction of the token's lifetime before expiry, so a
10-second token is refreshed 1 second before it expires, not on every call."""

log = logging.getLogger("ctct.tokens")

RefreshTokenType = Literal["rotating", "long-lived"]


class TokenState(enum.Enum):
    """Where a token set stands at a given moment."""

    FRESH = "fresh"
    REFRESH_DUE = "refresh_due"  # still valid, but inside the refresh margin
    EXPIRED = "expired"  # no usable access token: refresh (or log in) before any call


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One grant's tokens and the timestamps status needs. Immutable; use ``replace``.

    Times are epoch seconds on the local clock (a record written on another host's
    clock is moved onto ours when read: ``ctct._store_clock``). ``issuer`` is the provider's
    ``storage_issuer``: with ``client_id`` it is the key the grant is stored under.
    """

    issuer: str
    client_id: str
    access_token: Secret | None
    refresh_token: Secret | None
    expires_at: float | None
    """``None``: the provider gave no lifetime; use the token until it is refused."""
    received_at: float
    """When the current access token arrived."""
    obtained_at: float
    """When the grant was first obtained (login or import)."""
    scopes: frozenset[str] = frozenset()
    token_type: str = "Bearer"
    id_token: Secret | None = None
    last_refresh_at: float | None = None
    refresh_token_used_at: float | None = None
    """Last time the provider issued or accepted the refresh token: the start of the idle
    window (CC: 180 days) after which it dies unused."""
    refresh_token_type: RefreshTokenType | None = None
    clock_skew: float = 0.0
    """Server clock minus local clock, as measured from the provider's ``Date`` (seconds;
    positive: this machine's clock is behind). Stored, so a fresh process verifies the
    stored token with it; applied within ``ctct._clock.MAX_CLOCK_OFFSET``."""
    subject: str | None = None
    grant_id: str | None = None
    """The grant's identity, random, set at login or import; kept by every refresh."""
    parent: str | None = None
    """Fingerprint of the refresh token these tokens were obtained with (None: a login)."""
    spent: str | None = None
    """Fingerprint of a refresh token the server rejected (set when it is dropped)."""

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_token_response(
        cls,
        body: Mapping[str, Any],
        *,
        issuer: str,
        client_id: str,
        received_at: float,
        date_header: str | None = None,
        requested_scopes: Iterable[str] = (),
        previous: TokenSet | None = None,
    ) -> TokenSet:
        """Build from a successful token-endpoint JSON body (RFC 6749 section 5.1).

        ``previous`` is the set being refreshed: it supplies the refresh token when the
        provider sends none, tells rotating from long-lived refresh tokens, and keeps
        ``obtained_at``. Raises ``TransientProviderError`` for a malformed body.
        """
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise TransientProviderError("The token response has no access_token.")
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TransientProviderError(
                "The token response's token_type is not Bearer; ctct only uses bearer tokens."
            )
        expires_in = body.get("expires_in")
        if expires_in is not None and (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
            or expires_in < 0
        ):
            raise TransientProviderError("The token response's expires_in is not a number.")
        refresh = body.get("refresh_token")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            raise TransientProviderError("The token response's refresh_token is not a string.")
        id_token = body.get("id_token")
        scope = body.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise TransientProviderError("The token response's scope is not a string.")

        claims = peek_claims(access) or {}
        expires_at, skew = compute_expiry(
            received_at=received_at,
            expires_in=expires_in,
            jwt_exp=claims.get("exp"),
            date_header=date_header,
            previous_skew=previous.clock_skew if previous is not None else 0.0,
        )
        # RFC 6749 5.1: an absent scope means "as requested"; CC's JWTs also carry scp.
        if scope is not None:
            scopes = frozenset(scope.split())
        elif isinstance(claims.get("scp"), list):
            scopes = frozenset(s for s in claims["scp"] if isinstance(s, str))
        elif previous is not None and not requested_scopes:
            scopes = previous.scopes
        else:
            scopes = frozenset(requested_scopes)

        rt_type: RefreshTokenType | None = None
        new_refresh = Secret(refresh) if refresh else None
        if previous is not None:
            rt_type = previous.refresh_token_type
            if new_refresh is None:
                # RFC 6749 6: the provider may keep the old refresh token valid.
                new_refresh = previous.refresh_token
            elif previous.refresh_token is not None:
                rt_type = "long-lived" if new_refresh == previous.refresh_token else "rotating"
        return cls(
            issuer=issuer,
            client_id=client_id,
            access_token=Secret(access),
            refresh_token=new_refresh,
            expires_at=expires_at,
            received_at=received_at,
            obtained_at=previous.obtained_at if previous is not None else received_at,
            scopes=scopes,
            token_type="Bearer",
            id_token=Secret(id_token) if isinstance(id_token, str) and id_token else None,
            last_refresh_at=received_at if previous is not None else None,
            refresh_token_used_at=received_at if new_refresh is not None else None,
            refresh_token_type=rt_type,
            clock_skew=skew,
            subject=(previous.subject if previous is not None else None),
            grant_id=(previous.grant_id if previous is not None else None) or new_grant_id(),
            parent=fingerprint(previous.refresh_token) if previous is not None else None,
        )

    @classmethod
    def imported(
        cls,
        *,
        issuer: str,
        client_id: str,
        now: float,
        refresh_token: str | Secret | None = None,
        access_token: str | Secret | None = None,
        expires_at: float | None = None,
        scopes: Iterable[str] = (),
        refresh_token_type: RefreshTokenType | None = None,
    ) -> TokenSet:
        """Tokens the user already has (e.g. ``CTCT_REFRESH_TOKEN`` in a container).

        With a refresh token alone the state is ``EXPIRED``: refresh before any call.
        An access token's expiry comes from ``expires_at``, else from its JWT ``exp``
        (unverified: the refresh engine verifies before use); an opaque one without
        ``expires_at`` has an unknown expiry. The refresh token's idle window is
        unknown, so ``refresh_token_used_at`` stays ``None``.
        """
        if refresh_token is None and access_token is None:
            raise ValueError("import needs a refresh token, an access token, or both")
        access = as_secret(access_token) if access_token is not None else None
        granted = frozenset(scopes)
        if access is not None:
            claims = peek_claims(access.reveal()) or {}
            exp = claims.get("exp")
            if expires_at is None and _is_number(exp):
                expires_at = float(exp)
            if not granted and isinstance(claims.get("scp"), list):
                granted = frozenset(s for s in claims["scp"] if isinstance(s, str))
        return cls(
            issuer=issuer,
            client_id=client_id,
            access_token=access,
            refresh_token=as_secret(refresh_token) if refresh_token is not None else None,
            expires_at=expires_at,
            received_at=now,
            obtained_at=now,
            scopes=granted,
            refresh_token_type=refresh_token_type,
            grant_id=new_grant_id(),
        )

    # -- state ----------------------------------------------------------------------

    @property
    def lifetime(self) -> float | None:
        """Seconds from receipt to expiry of the current access token, if known."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - self.received_at)

    def refresh_due_at(
        self,
        *,
        margin: float = DEFAULT_REFRESH_MARGIN,
        max_fraction: float = DEFAULT_MAX_MARGIN_FRACTION,
    ) -> float | None:
        """When to start refreshing: ``expires_at - min(margin, max_fraction * lifetime)``."""
        if self.expires_at is None:
            return None
        lifetime = self.lifetime or 0.0
        return self.expires_at - min(margin, max_fraction * lifetime)

    def state(
        self,
        now: float,
        *,
        margin: float = DEFAULT_REFRESH_MARGIN,
        max_fraction: float = DEFAULT_MAX_MARGIN_FRACTION,
    ) -> TokenState:
        """``FRESH``, ``REFRESH_DUE`` or ``EXPIRED`` at ``now`` (epoch seconds)."""
        if self.access_token is None:
            return TokenState.EXPIRED
        if self.expires_at is None:
            return TokenState.FRESH
        if now >= self.expires_at:
            return TokenState.EXPIRED
        due = self.refresh_due_at(margin=margin, max_fraction=max_fraction)
        if due is not None and now >= due:
            return TokenState.REFRESH_DUE
        return TokenState.FRESH

    def refresh_token_idle_deadline(self, idle_ttl: float | None) -> float | None:
        """When the refresh token dies if unused (``None`` if unknown)."""
        if idle_ttl is None or self.refresh_token is None or self.refresh_token_used_at is None:
            return None
        return self.refresh_token_used_at + idle_ttl

    def missing_scopes(self, required: Iterable[str]) -> frozenset[str]:
        """The scopes in ``required`` this grant lacks (empty when all are granted)."""
        return missing_scopes(self.scopes, required)

    def authorization_header(self) -> str:
        """``Bearer <access token>`` for an API call. Raises if there is no access token."""
        if self.access_token is None:
            raise AuthorizationRequired(
                "There is no access token yet: refresh the grant before calling the API."
            )
        return f"Bearer {self.access_token.reveal()}"

    def with_subject(self, subject: str | None) -> TokenSet:
        return replace(self, subject=subject)

    # -- representation -------------------------------------------------------------

    def __repr__(self) -> str:
        def shown(secret: Secret | None) -> str:
            return MASK if secret is not None else "None"

        return (
            f"TokenSet(issuer={self.issuer!r}, client_id={self.client_id!r}, "
            f"access_token={shown(self.access_token)}, "
            f"refresh_token={shown(self.refresh_token)}, expires_at={self.expires_at!r}, "
            f"scopes={sorted(self.scopes)!r}, refresh_token_type={self.refresh_token_type!r})"
        )

    __str__ = __repr__

    # -- serialization ----------------------------------------------------------------

    def to_json(self, store_offset: float = 0.0) -> bytes:
        """Bytes for the store (which encrypts them); contains the tokens in clear.

        ``store_offset``: the store's ``clock_offset()`` here, written with the times so
        a host whose clock differs reads them on its own (``ctct._store_clock``)."""

        def reveal(secret: Secret | None) -> str | None:
            return secret.reveal() if secret is not None else None

        record = {
            "format": FORMAT_VERSION,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "access_token": reveal(self.access_token),
            "refresh_token": reveal(self.refresh_token),
            "id_token": reveal(self.id_token),
            "token_type": self.token_type,
            "expires_at": self.expires_at,
            "received_at": self.received_at,
            "obtained_at": self.obtained_at,
            "scopes": sorted(self.scopes),
            "last_refresh_at": self.last_refresh_at,
            "refresh_token_used_at": self.refresh_token_used_at,
            "refresh_token_type": self.refresh_token_type,
            "clock_skew": self.clock_skew,
            "store_offset": store_offset,
            "subject": self.subject,
            "grant_id": self.grant_id,
            "parent": self.parent,
            "spent": self.spent,
        }
        return json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, reader_offset: float = 0.0) -> TokenSet:
        """Parse ``to_json`` output, its times moved onto this host's clock
        (``reader_offset``: the store's ``clock_offset()`` here, as ``Record`` has it).
        Raises ``StoreError`` for anything else."""
        try:
            record = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise _unreadable("is not valid JSON") from None
        if not isinstance(record, dict):
            raise _unreadable("is not a JSON object")
        version = record.get("format")
        if version != FORMAT_VERSION:
            raise StoreError(
                f"A stored token record has format {version!r}; this ctct reads format "
                f"{FORMAT_VERSION}. Upgrade ctct, or log in again to replace the record."
            )
        try:
            rt_type = record["refresh_token_type"]
            if rt_type not in (None, "rotating", "long-lived"):
                raise TypeError("refresh_token_type")
            scopes = record["scopes"]
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise TypeError("scopes")
            skew = 0.0  # records written before the offset was stored
            if record.get("clock_skew") is not None:
                # The offset measured by whichever process stored the token: a fresh
                # process verifies it on the provider's clock too.
                skew = _required_time(record["clock_skew"])
            # Times on the writer's clock, moved onto ours (records written before the
            # offset was stored: 0, where they were written).
            moved = 0.0
            writer = record.get("store_offset")
            moved = shift(0.0 if writer is None else _required_time(writer), reader_offset)
            return cls(
                issuer=_str(record["issuer"]),
                client_id=_str(record["client_id"]),
                access_token=_secret(record["access_token"]),
                refresh_token=_secret(record["refresh_token"]),
                id_token=_secret(record.get("id_token")),
                token_type=_str(record["token_type"]),
                expires_at=_time(record["expires_at"], moved),
                received_at=_required_time(record["received_at"]) + moved,
                obtained_at=_required_time(record["obtained_at"]) + moved,
                scopes=frozenset(scopes),
                last_refresh_at=_time(record["last_refresh_at"], moved),
                refresh_token_used_at=_time(record["refresh_token_used_at"], moved),
                refresh_token_type=rt_type,
                # provider's clock minus ours: our clock is ``moved`` ahead of the writer's
                clock_skew=skew - moved,
                subject=None if record.get("subject") is None else _str(record["subject"]),
                grant_id=_optional_str(record.get("grant_id")),
                parent=_optional_str(record.get("parent")),
                spent=_optional_str(record.get("spent")),
            )
        except (KeyError, TypeError) as exc:
            raise StoreError(
                f"A stored token record is missing or has a bad field ({exc}); log in again."
            ) from None


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)


def compute_expiry(
    *,
    received_at: float,
    expires_in: float | None,
    jwt_exp: object = None,
    date_header: str | None = None,
    previous_skew: float = 0.0,
) -> tuple[float | None, float]:
    """``(expires_at, skew)`` by the rule in the module docstring.

    ``skew`` is server clock minus local clock (``previous_skew`` without a usable
    ``Date``).
    """
    skew = previous_skew if math.isfinite(previous_skew) else 0.0
    server_now = parse_http_date(date_header)
    if server_now is not None:
        skew = (server_now + 1.0) - received_at
        if not offset_in_range(skew):
            # Neutral wording: an emulator's clock may have been advanced on purpose.
            log.warning(
                "%s (from the token response's Date header), more than the %s ctct corrects "
                "for: tokens may fail verification",
                describe_offset(skew),
                duration(MAX_CLOCK_OFFSET),
            )
    candidates: list[float] = []
    if expires_in is not None:
        candidates.append(received_at + float(expires_in))
    if _is_number(jwt_exp):
        candidates.append(float(jwt_exp) - skew)
    return (min(candidates) if candidates else None), skew


def parse_http_date(value: str | None) -> float | None:
    """Epoch seconds of an HTTP ``Date`` header, or ``None`` if absent or unparsable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is not trusted
        return None
    return parsed.timestamp()


def missing_scopes(granted: Iterable[str], required: Iterable[str]) -> frozenset[str]:
    """The scopes in ``required`` that are not in ``granted``."""
    return frozenset(required) - frozenset(granted)


def require_scopes(token: TokenSet, required: Iterable[str]) -> None:
    """Raise ``AuthorizationRequired`` (code ``insufficient_scope``) naming what is missing."""
    missing = token.missing_scopes(required)
    if missing:
        names = " ".join(sorted(missing))
        raise AuthorizationRequired(
            f"This grant lacks the {'scope' if len(missing) == 1 else 'scopes'} {names}: log "
            "in again asking for them "
            f"(e.g. `ctct auth login --scopes '{names}'`).",
            code="insufficient_scope",
        )


def _is_number(value: object) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _secret(value: object) -> Secret | None:
    return None if value is None else Secret(_str(value))


def _time(value: object, moved: float = 0.0) -> float | None:
    return None if value is None else _required_time(value) + moved


def _required_time(value: object) -> float:
    if not _is_number(value):
        raise TypeError("expected a number")
    return float(value)


def _unreadable(what: str) -> StoreError:
    from ctct.stores.base import RecordUnreadable, unreadable_fix

    return RecordUnreadable(
        f"A stored token record {what} (altered, or a corrupt store?): {unreadable_fix(None)}."
    )
