"""Account states and reasons: what the status page, `keeper status` and events say.

A state is stored in plaintext next to the grant (an index: the status page filters by
it); its reason is a short code or phrase of ours, never server text (that stays inside
the encrypted record).
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    OK = "ok"
    REFRESHING = "refreshing"
    AT_RISK = "at_risk"
    """Transient failures, and the access token is due soon."""
    NEEDS_LOGIN = "needs_login"
    """The server rejected the refresh token: a person must connect the account again."""
    APP_ERROR = "app_error"
    """``invalid_client``: the application's secret was regenerated or revoked."""
    PAUSED = "paused"
    SHED = "shed"
    """Kept alive only: more keep-fresh accounts than the token endpoint allows."""
    DISCONNECTED = "disconnected"
    """An operator disconnected it (revoked and forgot the grant)."""

    @classmethod
    def parse(cls, code: str | None) -> State | None:
        """The state for a stored code (None for none or one this version does not know)."""
        if code is None:
            return None
        try:
            return cls(code)
        except ValueError:
            return None


class LoginReason(enum.Enum):
    """Why a grant needs a new login. Inferred, and labelled as such where shown."""

    IDLE_EXPIRED = "idle_expired"
    """The refresh token was unused past the provider's idle lifetime."""
    ROTATION_LOST = "rotation_lost"
    """A refresh was sent and its answer never saved (a holder died or paused): the
    rotated refresh token was lost in flight."""
    REJECTED = "rejected"
    """Revoked, or any other rejection."""
    NO_REFRESH_TOKEN = "no_refresh_token"


def infer_login_reason(
    *,
    attempt_in_doubt: bool,
    idle_deadline: float | None,
    now: float,
) -> LoginReason:
    """The likeliest cause of an ``invalid_grant`` (a guess: the server does not say)."""
    if attempt_in_doubt:
        return LoginReason.ROTATION_LOST
    if idle_deadline is not None and now >= idle_deadline:
        return LoginReason.IDLE_EXPIRED
    return LoginReason.REJECTED


#: states after which the keeper does not try to refresh on its own
STOPPED = frozenset({State.NEEDS_LOGIN, State.PAUSED})
#: states that an operator or a receiver is told about when entered
ANNOUNCED = frozenset({State.NEEDS_LOGIN, State.APP_ERROR, State.AT_RISK})
