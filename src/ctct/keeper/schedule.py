"""When the keeper refreshes one grant (pure: every time is passed in).

Two deadlines bound a grant:

- *keep-fresh*: the keeper must be done before a worker would find the token due, so it
  plans no later than the worker's due time minus ``guard`` (the limiter's longest wait,
  the HTTP timeout and one scheduling tick);
- *keep-alive*: the refresh token must be used before its idle deadline (CC: 180 days
  after its last use), with ``idle_margin`` to spare, and at least every
  ``keep_alive_interval`` so a revoked grant is noticed within that interval.

Refreshing every grant exactly at its deadline would keep bunches bunched: accounts
connected in the same minute would come due in the same second, every day. Instead each
grant gets a stable *phase* (from a hash of its key) and is refreshed at the latest
moment before its deadline that falls on its phase of a cycle slightly shorter than the
token's useful life. The first refresh after a login may come up to one cycle early;
after that each grant is refreshed once per cycle, on its own phase, so refreshes spread
evenly over the day whatever the order accounts were connected in. The cycle is shorter
than the useful life by a small ``slack``, so rounding in a new token's expiry can never
make its next phase slot fall on the moment it was refreshed.
"""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass
from typing import Final

from ctct._tokens import DEFAULT_MAX_MARGIN_FRACTION, DEFAULT_REFRESH_MARGIN, TokenSet

DAY: Final = 86_400.0
DEFAULT_KEEP_ALIVE_INTERVAL: Final = 7 * DAY
DEFAULT_IDLE_MARGIN: Final = 7 * DAY
MIN_SLACK: Final = 2.0
SLACK_FRACTION: Final = 0.002


class Policy(enum.Enum):
    """What the keeper does for one account."""

    KEEP_FRESH = "keep-fresh"
    """Refresh before every access-token expiry, so workers always find a fresh token."""
    KEEP_ALIVE = "keep-alive"
    """Refresh only so the refresh token never idles out (rarely used accounts)."""


@dataclass(frozen=True)
class Timing:
    """The numbers that place a grant's refresh. Seconds."""

    guard: float
    """Limiter's longest wait + HTTP timeout + one scheduling tick."""
    worker_margin: float = DEFAULT_REFRESH_MARGIN
    max_fraction: float = DEFAULT_MAX_MARGIN_FRACTION
    keep_alive_interval: float = DEFAULT_KEEP_ALIVE_INTERVAL
    idle_margin: float = DEFAULT_IDLE_MARGIN

    def __post_init__(self) -> None:
        for name in ("guard", "worker_margin", "keep_alive_interval", "idle_margin"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.keep_alive_interval <= 0:
            raise ValueError("keep_alive_interval must be positive")


class Reason(enum.Enum):
    """Why a grant is planned when it is."""

    ACCESS = "access"  # before the access token's worker due time
    IDLE = "idle"  # before the refresh token's idle deadline
    KEEP_ALIVE = "keep-alive"  # the keep-alive interval
    NOW = "now"  # nothing usable or unknown history: refresh at once


@dataclass(frozen=True)
class Planned:
    at: float
    """When to refresh (epoch seconds on the caller's clock); may be in the past."""
    deadline: float
    """The latest moment the refresh may start without a worker or the idle clock
    catching up."""
    reason: Reason
    interval: float | None
    """Steady-state seconds between refreshes of this grant (None: not periodic)."""


def phase_fraction(ident: str) -> float:
    """A stable number in [0, 1) for ``ident`` (the same on every replica and run)."""
    digest = hashlib.sha256(ident.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def slack_for(cycle: float) -> float:
    return min(cycle / 4.0, max(MIN_SLACK, SLACK_FRACTION * cycle))


def on_phase(deadline: float, cycle: float, fraction: float) -> float:
    """The latest time <= ``deadline`` on phase ``fraction`` of a ``cycle - slack`` period.

    ``cycle`` is the time from the current token's receipt to ``deadline``; the result
    lies in ``(deadline - period, deadline]``, i.e. after the token was received.
    """
    if not cycle > 0:
        return deadline
    period = cycle - slack_for(cycle)
    phase = fraction * period
    return deadline - ((deadline - phase) % period)


def steady_interval(cycle: float) -> float:
    """Seconds between refreshes once a grant is on its phase."""
    return cycle - slack_for(cycle) if cycle > 0 else 0.0


def plan(
    tokens: TokenSet,
    *,
    ident: str,
    policy: Policy,
    timing: Timing,
    idle_ttl: float | None,
    now: float,
) -> Planned | None:
    """When to refresh this grant next, or None when there is nothing to refresh with.

    ``ident`` names the grant stably (e.g. ``GrantKey.digest()``), ``idle_ttl`` is the
    provider's refresh-token idle lifetime (None if it has none).
    """
    if tokens.refresh_token is None:
        return None
    fraction = phase_fraction(ident)
    candidates: list[Planned] = []

    idle_deadline = tokens.refresh_token_idle_deadline(idle_ttl)
    if idle_ttl is not None and idle_deadline is None:
        # An imported refresh token: its idle clock is unknown; one refresh tells.
        return Planned(now, now, Reason.NOW, None)
    used_at = tokens.refresh_token_used_at or tokens.received_at
    if idle_deadline is not None:
        candidates.append(
            Planned(idle_deadline - timing.idle_margin, idle_deadline, Reason.IDLE, None)
        )

    if policy is Policy.KEEP_FRESH and tokens.expires_at is not None:
        if tokens.access_token is None or now >= tokens.expires_at:
            return Planned(now, now, Reason.NOW, None)
        due = tokens.refresh_due_at(margin=timing.worker_margin, max_fraction=timing.max_fraction)
        assert due is not None  # expires_at is set
        deadline = due - timing.guard
        cycle = deadline - tokens.received_at
        if cycle <= 0:
            # The token lives shorter than the guard: refresh as soon as it arrives.
            candidates.append(Planned(tokens.received_at, deadline, Reason.ACCESS, None))
        else:
            at = on_phase(deadline, cycle, fraction)
            candidates.append(Planned(at, deadline, Reason.ACCESS, steady_interval(cycle)))
    else:
        deadline = used_at + timing.keep_alive_interval
        if idle_deadline is not None:
            deadline = min(deadline, idle_deadline - timing.idle_margin)
        cycle = deadline - used_at
        at = on_phase(deadline, cycle, fraction) if cycle > 0 else deadline
        candidates.append(
            Planned(at, deadline, Reason.KEEP_ALIVE, steady_interval(cycle) if cycle > 0 else None)
        )
    return min(candidates, key=lambda p: p.at)
