"""Which keep-fresh accounts to keep when they do not all fit (pure).

When the accounts of one application need more refreshes than the keeper's share of
the token endpoint allows, the keeper still keeps *every* refresh token from idling out
(a lost grant costs a person a new login), keeps as many keep-fresh accounts as fit and
sheds the rest to keep-alive. The kept set must be the same from one tick to the next
and on every replica, or every account would take turns going stale: the order is by
weight (higher first), then by when the account was connected (older first, so a new
connection never displaces an existing one), then by profile name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SHED_REASON = "shed: over capacity"
HYSTERESIS = 0.05
"""A kept account stays kept until demand exceeds capacity by this fraction, so jitter
in measured token lifetimes cannot make the boundary account come and go."""


@dataclass(frozen=True)
class Candidate:
    """One account that asked for keep-fresh."""

    profile: str
    obtained_at: float
    fresh_interval: float
    """Seconds between refreshes when kept fresh."""
    alive_interval: float
    """Seconds between refreshes when only kept alive."""
    weight: float = 1.0


@dataclass(frozen=True)
class Decision:
    kept: frozenset[str]
    shed: frozenset[str]
    demand: float
    """Refreshes per second the decision needs (kept fresh + everyone's keep-alive)."""
    needed: float
    """Refreshes per second keeping everyone fresh would need."""


def order(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.weight, c.obtained_at, c.profile))


def decide(
    candidates: Iterable[Candidate],
    capacity: float,
    base_demand: float = 0.0,
    kept_before: frozenset[str] | None = None,
) -> Decision:
    """Keep the longest prefix of ``order(candidates)`` that fits in ``capacity``.

    ``base_demand`` is what other accounts (keep-alive by policy) already need. Every
    candidate's keep-alive demand is reserved first; keeping one fresh adds the
    difference. An account in ``kept_before`` stays kept up to ``HYSTERESIS`` over
    capacity (a newcomer must fit under it).
    """
    ranked = order(candidates)
    demand = base_demand + sum(1.0 / c.alive_interval for c in ranked)
    needed = demand + sum(1.0 / c.fresh_interval - 1.0 / c.alive_interval for c in ranked)
    kept: list[str] = []
    shed: list[str] = []
    for candidate in ranked:
        extra = 1.0 / candidate.fresh_interval - 1.0 / candidate.alive_interval
        room = capacity
        if kept_before is not None and candidate.profile in kept_before:
            room = capacity * (1.0 + HYSTERESIS)
        if not shed and demand + extra <= room:
            demand += extra
            kept.append(candidate.profile)
        else:
            # Once one is shed, all after it are: the kept set is a prefix of a stable
            # order, so it cannot churn as small accounts squeeze into gaps.
            shed.append(candidate.profile)
    return Decision(frozenset(kept), frozenset(shed), demand, needed)
