"""What a login tells its caller while it runs (events) and when it ends (``LoginResult``).

Events are plain frozen dataclasses passed to one ``on_event`` callable, so a CLI can
``match`` on them and print, and a web UI can forward them. None carries a token, a
code or a verifier: only what the person must see (user code, URLs) and what the
caller should report (scopes that differ from the request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from ctct._tokens import TokenSet
from ctct._wording import duration

FlowName = Literal["device", "browser", "paste", "import", "web"]


def requested_scopes(
    scopes: Iterable[str] | None, default: Iterable[str], offline: str | None
) -> tuple[str, ...]:
    """The scopes a login asks for: ``scopes`` (else the provider's defaults), always
    with the provider's offline scope (``offline_access``), in order, without repeats.

    Without ``offline_access`` Constant Contact issues no refresh token, and the grant
    dies with its first access token: the whole point of ctct is lost, so it is added
    even when the caller forgot it.
    """
    chosen = list(scopes) if scopes is not None else list(default)
    if offline is not None:
        chosen.append(offline)
    return tuple(dict.fromkeys(s for s in chosen if s))


@dataclass(frozen=True)
class WaitingForOtherLogin:
    """Another login for this profile holds the login lock; this one waits (up to
    ``timeout`` seconds) instead of fighting it over ports and device codes."""

    profile: str
    timeout: float

    @property
    def message(self) -> str:
        return (
            f"Another login for profile {self.profile!r} is in progress; waiting up to "
            f"{duration(self.timeout)} for it to finish."
        )


@dataclass(frozen=True)
class OtherLoginFinished:
    """The login this one waited for has ended. ``tokens`` is the grant it stored, or
    None when it stored nothing (it failed or was cancelled: this login goes ahead)."""

    profile: str
    tokens: TokenSet | None


@dataclass(frozen=True)
class DeviceCodeIssued:
    """Show the person ``user_code`` and ``verification_uri`` (RFC 8628 3.3); a QR code
    of ``verification_uri_complete`` (see ``qr_text``) saves typing on a phone."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float


@dataclass(frozen=True)
class PollingSlowedDown:
    """The poll interval grew: ``slow_down`` from the provider (+5 s, RFC 8628 3.5), or
    a transient failure (``transient``: 429, 5xx, network) that doubles it."""

    interval: float
    reason: Literal["slow_down", "transient"]


@dataclass(frozen=True)
class AuthorizationUrlReady:
    """The authorization URL the person must open. ``browser_opened``: True/False for
    the browser flow (False: the opener failed, show the URL), None for the paste flow
    (the person opens it wherever they like)."""

    url: str
    redirect_uri: str
    flow: Literal["browser", "paste"]
    browser_opened: bool | None


@dataclass(frozen=True)
class WaitingForCallback:
    """The loopback server listens on ``redirect_uri`` for ``timeout`` seconds."""

    redirect_uri: str
    timeout: float


@dataclass(frozen=True)
class ScopesDiffer:
    """The provider granted other scopes than those requested (the person may have
    unticked some, or the app is not allowed them)."""

    requested: frozenset[str]
    granted: frozenset[str]

    @property
    def missing(self) -> frozenset[str]:
        return self.requested - self.granted

    @property
    def extra(self) -> frozenset[str]:
        return self.granted - self.requested

    @property
    def message(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"not granted: {' '.join(sorted(self.missing))}")
        if self.extra:
            parts.append(f"granted without being requested: {' '.join(sorted(self.extra))}")
        return "The granted scopes differ from the requested ones (" + "; ".join(parts) + ")."


@dataclass(frozen=True, repr=False)
class LoginResult:
    """A finished login: the grant is already stored (durably) under ``profile``.

    ``reused`` is True when this call waited for another login of the same profile and
    returns the grant that one stored instead of starting a flow of its own.
    """

    profile: str
    flow: FlowName
    tokens: TokenSet
    requested_scopes: frozenset[str]
    granted_scopes: frozenset[str]
    reused: bool = False
    subject: str | None = field(default=None)

    @property
    def scopes_differ(self) -> bool:
        return bool(self.requested_scopes) and self.requested_scopes != self.granted_scopes

    @property
    def scope_difference(self) -> ScopesDiffer | None:
        """The difference as an event-like object (None when the scopes match)."""
        if not self.scopes_differ:
            return None
        return ScopesDiffer(self.requested_scopes, self.granted_scopes)

    def __repr__(self) -> str:
        return (
            f"LoginResult(profile={self.profile!r}, flow={self.flow!r}, "
            f"granted_scopes={sorted(self.granted_scopes)!r}, reused={self.reused!r}, "
            f"tokens={self.tokens!r})"
        )


@dataclass(frozen=True)
class LoginCompleted:
    """The grant is stored; the same ``LoginResult`` the call returns."""

    result: LoginResult


LoginEvent = (
    WaitingForOtherLogin
    | OtherLoginFinished
    | DeviceCodeIssued
    | PollingSlowedDown
    | AuthorizationUrlReady
    | WaitingForCallback
    | ScopesDiffer
    | LoginCompleted
)

EventHandler = Callable[[LoginEvent], None]
