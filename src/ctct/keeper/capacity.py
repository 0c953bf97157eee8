"""How many accounts one application can keep fresh, and how full a plan is.

The token endpoint allows ``rate`` refreshes per second per application (CC: 1). A
keep-fresh account whose access tokens live ``L`` seconds and are refreshed ``lead``
seconds early needs one refresh every ``L - lead`` seconds. The keeper spends only its
own share of the endpoint, ``rate x (1 - margin) x (1 - headroom)``: ``margin`` is the
limiter's safety margin (the shared bucket runs slightly under the server's rate) and
``headroom`` is left for workers' just-in-time refreshes and for logins. So an
application can keep about ``rate x (1 - margin) x (1 - headroom) x (L - lead)``
accounts fresh: CC with 24-hour tokens, a 2% margin and a 5-minute lead gives about
84,000 x (1 - headroom).

Keep-alive accounts (refreshed only so their refresh token does not idle out, e.g.
weekly) need one refresh per ``keep_alive_interval`` each: small, but counted.

Everything here is pure arithmetic on numbers the caller passes in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_MARGIN = 0.02
DEFAULT_HEADROOM = 0.05


@dataclass(frozen=True)
class Budget:
    """The keeper's share of one application's token endpoint."""

    rate: float
    """Refreshes per second the provider allows this application (CC: 1)."""
    margin: float = DEFAULT_MARGIN
    headroom: float = DEFAULT_HEADROOM
    count_in_daily_quota: bool = False
    """Whether token-endpoint calls count against the API's daily quota (CC: unknown)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be a positive number, got {self.rate!r}")
        for name in ("margin", "headroom"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")

    @property
    def shared_rate(self) -> float:
        """The shared bucket's rate: what every client of the app may spend together."""
        return self.rate * (1.0 - self.margin)

    @property
    def keeper_rate(self) -> float:
        """The keeper's sub-limit, leaving ``headroom`` to workers and logins."""
        return self.shared_rate * (1.0 - self.headroom)

    def accounts(self, interval: float) -> int:
        """Keep-fresh accounts that fit when each needs a refresh every ``interval`` s."""
        if not interval > 0:
            return 0
        return math.floor(self.keeper_rate * interval)


def demand(intervals: Iterable[float]) -> float:
    """Refreshes per second needed by accounts refreshed every ``interval`` seconds each."""
    total = 0.0
    for interval in intervals:
        total += 1.0 / interval if interval > 0 else math.inf
    return total


@dataclass(frozen=True)
class Utilization:
    """How much of the keeper's share a plan uses (per application)."""

    client_id: str
    demand: float
    """Planned refreshes per second (keep-fresh and keep-alive accounts together)."""
    capacity: float
    """The keeper's sub-limit in refreshes per second."""

    @property
    def ratio(self) -> float:
        """Planned over capacity: 0-1 when it fits, above 1 when overloaded."""
        return self.demand / self.capacity if self.capacity > 0 else math.inf

    @property
    def overloaded(self) -> bool:
        return self.demand > self.capacity

    def describe(self) -> str:
        per_day = self.demand * 86_400
        cap_day = self.capacity * 86_400
        return (
            f"client {self.client_id}: {per_day:,.0f} refreshes/day planned of "
            f"{cap_day:,.0f} the keeper may spend ({self.ratio:.0%})"
        )
