"""The keeper's pure planning: capacity, phase-spread schedules, shedding, signatures."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections import Counter

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.errors import ConfigError
from ctct.keeper.capacity import Budget, Utilization, demand
from ctct.keeper.schedule import Policy, Reason, Timing, on_phase, plan, steady_interval
from ctct.keeper.shedding import Candidate, decide
from ctct.keeper.webhooks import Signer, new_secret

DAY = 86_400.0


def tokens(received: float, lifetime: float, *, used_at: float | None = None) -> TokenSet:
    return TokenSet(
        issuer="https://issuer.example",
        client_id="client",
        access_token=Secret("access"),
        refresh_token=Secret("refresh"),
        expires_at=received + lifetime,
        received_at=received,
        obtained_at=received,
        refresh_token_used_at=received if used_at is None else used_at,
    )


def test_capacity_matches_the_issue_figure_for_constant_contact() -> None:
    # CC: 1 refresh/s, 24 h tokens, 2% margin, 5-minute lead -> about 84,000 accounts.
    budget = Budget(rate=1.0, margin=0.02, headroom=0.0)
    assert budget.accounts(DAY - 300) == 84_378
    with_headroom = Budget(rate=1.0, margin=0.02, headroom=0.05)
    assert with_headroom.accounts(DAY - 300) == int(84_378 * 0.95)


def test_budget_refuses_nonsense() -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rate"):
            Budget(rate=bad)
    with pytest.raises(ValueError, match="headroom"):
        Budget(rate=1.0, headroom=1.0)


def test_utilization_ratio_and_overload() -> None:
    budget = Budget(rate=1.0, margin=0.0, headroom=0.0)
    fits = Utilization("c", demand([100.0] * 50), budget.keeper_rate)
    assert fits.ratio == pytest.approx(0.5) and not fits.overloaded
    over = Utilization("c", demand([100.0] * 150), budget.keeper_rate)
    assert over.ratio == pytest.approx(1.5) and over.overloaded
    assert "150%" in over.describe()


TIMING = Timing(guard=10.0, worker_margin=30.0, max_fraction=0.1, idle_margin=DAY)


def test_keep_fresh_plans_before_the_worker_due_time_minus_the_guard() -> None:
    t = tokens(1_000.0, 3_600.0)
    planned = plan(t, ident="a", policy=Policy.KEEP_FRESH, timing=TIMING, idle_ttl=None, now=1_000)
    assert planned is not None and planned.reason is Reason.ACCESS
    worker_due = t.refresh_due_at(margin=30.0, max_fraction=0.1)
    assert worker_due is not None
    assert planned.deadline == worker_due - TIMING.guard
    assert t.received_at < planned.at <= planned.deadline


def test_accounts_connected_together_are_spread_over_the_cycle() -> None:
    # 2,000 accounts logged in in the same second must not all come due in one second.
    received, lifetime = 10_000.0, 3_600.0
    slots: Counter[int] = Counter()
    for i in range(2_000):
        p = plan(
            tokens(received, lifetime),
            ident=f"acct-{i}",
            policy=Policy.KEEP_FRESH,
            timing=TIMING,
            idle_ttl=None,
            now=received,
        )
        assert p is not None
        slots[int((p.at - received) // 60)] += 1  # one-minute bins
    # A uniform spread puts ~34 per minute; a bunch would put hundreds in one bin.
    assert len(slots) >= 55
    assert max(slots.values()) < 80


@pytest.mark.parametrize("rounding", [-1.0, -0.3, 0.0, 0.4, 2.5])
def test_steady_state_refreshes_once_per_cycle_even_with_expiry_rounding(rounding: float) -> None:
    # After a refresh at the planned time, the next one is one cycle later, never "again
    # at once": the new token's expiry may be rounded a second early (Date-header skew).
    lifetime = 600.0
    now = 0.0
    t = tokens(now, lifetime)
    times = []
    for _ in range(20):
        p = plan(t, ident="steady", policy=Policy.KEEP_FRESH, timing=TIMING, idle_ttl=None, now=now)
        assert p is not None
        assert p.at <= p.deadline
        now = max(now, p.at)
        times.append(now)
        t = tokens(now, lifetime + rounding)
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    cycle = steady_interval(lifetime + rounding - 30.0 - 10.0)
    assert min(gaps) > 0.9 * cycle, gaps


def test_on_phase_lies_within_the_last_period_before_the_deadline() -> None:
    for fraction in (0.0, 0.25, 0.999):
        at = on_phase(1_000.0, 500.0, fraction)
        assert 500.0 < at <= 1_000.0


def test_keep_alive_plans_within_the_interval_and_before_the_idle_deadline() -> None:
    idle_ttl = 180 * DAY
    t = tokens(0.0, DAY)
    p = plan(t, ident="rare", policy=Policy.KEEP_ALIVE, timing=TIMING, idle_ttl=idle_ttl, now=0.0)
    assert p is not None and p.reason is Reason.KEEP_ALIVE
    assert 0.0 < p.at <= 7 * DAY
    # A refresh token last used 175 days ago: the idle deadline wins.
    old = tokens(0.0, DAY, used_at=-175 * DAY)
    p = plan(old, ident="rare", policy=Policy.KEEP_ALIVE, timing=TIMING, idle_ttl=idle_ttl, now=0.0)
    assert p is not None
    assert p.at <= 5 * DAY - TIMING.idle_margin


def test_unknown_history_or_expired_token_plans_now_and_no_refresh_token_plans_nothing() -> None:
    t = tokens(0.0, 600.0)
    imported = TokenSet.imported(issuer="i", client_id="c", now=50.0, refresh_token="r")
    p = plan(imported, ident="x", policy=Policy.KEEP_FRESH, timing=TIMING, idle_ttl=DAY, now=50.0)
    assert p is not None and p.reason is Reason.NOW and p.at == 50.0
    p = plan(t, ident="x", policy=Policy.KEEP_FRESH, timing=TIMING, idle_ttl=None, now=700.0)
    assert p is not None and p.reason is Reason.NOW
    from dataclasses import replace

    assert (
        plan(
            replace(t, refresh_token=None),
            ident="x",
            policy=Policy.KEEP_FRESH,
            timing=TIMING,
            idle_ttl=None,
            now=0.0,
        )
        is None
    )


def candidates(n: int, start: float = 0.0) -> list[Candidate]:
    return [Candidate(f"p{i:04d}", start + i, 100.0, 10_000.0) for i in range(n)]


def test_shedding_keeps_a_stable_prefix_and_reserves_every_keep_alive() -> None:
    # capacity 1/s; each fresh account costs 0.01/s, each alive 0.0001/s.
    everyone = candidates(150)
    decision = decide(everyone, capacity=1.0)
    assert decision.needed > 1.0
    assert decision.demand <= 1.0
    assert len(decision.kept) + len(decision.shed) == 150
    # Oldest connections are kept; the same set every time, whatever the input order.
    assert decision.kept == decide(list(reversed(everyone)), capacity=1.0).kept
    assert "p0000" in decision.kept and "p0149" in decision.shed
    # A newer connection never displaces a kept one.
    more = decide([*everyone, Candidate("aaa-new", 10_000.0, 100.0, 10_000.0)], capacity=1.0)
    # (its keep-alive reservation may at most push out the last kept account)
    assert "aaa-new" in more.shed
    assert more.kept <= decision.kept and len(decision.kept - more.kept) <= 1


def test_weight_goes_first() -> None:
    heavy = Candidate("zz-heavy", 1e9, 100.0, 10_000.0, weight=5.0)
    decision = decide([*candidates(150), heavy], capacity=1.0)
    assert "zz-heavy" in decision.kept


def test_signatures_verify_with_the_reference_library_and_every_secret() -> None:
    old, new = new_secret(), new_secret()
    body = json.dumps({"type": "needs_login", "profile": "acme"}).encode()
    now = time.time()
    headers = Signer([new, old]).headers("evt_1", now, body)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "needs_login", "profile": "acme"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    tampered = {**headers, "webhook-id": "evt_2"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body, tampered)


def test_a_malformed_secret_is_refused_without_echoing_it() -> None:
    bad = "whsec_" + base64.b64encode(b"short").decode()
    with pytest.raises(ConfigError) as info:
        Signer([bad])
    assert bad not in str(info.value) and "short" not in str(info.value)
    with pytest.raises(ConfigError):
        Signer([])


def test_the_boundary_account_does_not_flap_when_lifetimes_jitter() -> None:
    # Measured lifetimes move by the Date header's rounding; without hysteresis the last
    # kept account would be shed and re-kept on alternate scans.
    def people(interval: float) -> list[Candidate]:
        return [Candidate(f"p{i:03d}", float(i), interval, 10_000.0) for i in range(20)]

    first = decide(people(100.0), capacity=0.1)
    assert len(first.kept) == 9  # 9 x 0.0099 fits in 0.1, 10 would not
    jitter = decide(people(97.0), capacity=0.1, kept_before=first.kept)
    assert jitter.kept == first.kept  # 3% shorter intervals: still the same 9
    much = decide(people(80.0), capacity=0.1, kept_before=first.kept)
    assert much.kept < first.kept  # a real change still sheds
    # A newcomer is only kept if it fits under capacity itself.
    assert decide(people(100.0), capacity=0.1, kept_before=frozenset()).kept == first.kept
