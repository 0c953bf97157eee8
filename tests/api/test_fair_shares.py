"""Fair shares of one key's budget: a profile with a ``share`` or a ``daily_cap`` takes
from a bucket and a daily count of its own before the key's, so it cannot take more
than its share however much it asks, and the profiles without one keep the rest.
A fake clock drives a shared SQLite store here; tests/fleet/test_fair_shares.py runs
greedy and modest profiles on different hosts against a real emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctct.api import QuotaExceeded, RateLimits
from ctct.api.errors import InputError
from ctct.api.limits import RateLimiter, limits_from_env
from ctct.stores import Store, open_store


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(store: Store, clock: FakeTime, profile: str, limits: RateLimits) -> RateLimiter:
    return RateLimiter(store, "api:key", limits, clock=clock, sleep=clock.sleep, profile=profile)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def store(tmp_path: Path, clock: FakeTime) -> Store:
    return open_store(f"sqlite:///{tmp_path}/rate.db", clock=clock)


KEY = RateLimits(rate_per_second=4.0, margin=0.0, daily_quota=100)


def test_a_share_caps_the_profile_rate(store: Store, clock: FakeTime) -> None:
    greedy = limiter(store, clock, "bulk", KEY.with_changes(share=0.5))
    for _ in range(5):
        greedy.acquire()
    # One at once, then one every 0.5 s: half of the key's 4/s, however often it asks.
    assert clock.now == pytest.approx(1_002.0)


def test_a_greedy_profile_leaves_the_others_their_share(store: Store, clock: FakeTime) -> None:
    greedy = limiter(store, clock, "bulk", KEY.with_changes(share=0.5))
    modest = limiter(store, clock, "web", KEY)
    # One second at a time: the greedy profile takes every token it is allowed, then the
    # other profile finds the key's bucket with the rest.
    taken = {"bulk": 0, "web": 0}
    for _ in range(10):
        second = clock.now + 1.0
        while True:
            greedy.acquire()
            if clock.now >= second:
                break
            taken["bulk"] += 1
        modest.acquire()
        taken["web"] += 1
        clock.now = max(clock.now, second)
    assert taken["bulk"] <= 10 * 2 + 1  # at most half of 4/s
    assert taken["web"] == 10


def test_a_daily_cap_stops_only_that_profile(store: Store, clock: FakeTime) -> None:
    fast = KEY.with_changes(rate_per_second=8.0)
    capped = limiter(store, clock, "bulk", fast.with_changes(daily_cap=3))
    for _ in range(3):
        capped.acquire()
    with pytest.raises(QuotaExceeded) as caught:
        capped.acquire()
    assert caught.value.local and "'bulk' has used its daily share" in caught.value.message
    # The key's count went up by the three requests sent only: the others go on.
    other = limiter(store, clock, "web", fast)
    for _ in range(97):
        other.acquire()
    with pytest.raises(QuotaExceeded, match="for this API key"):
        other.acquire()


def test_a_share_is_also_a_share_of_the_day(store: Store, clock: FakeTime) -> None:
    limits = KEY.with_changes(daily_quota=10, share=0.3)
    assert limits.profile_daily_cap == 3
    assert limits.with_changes(daily_cap=2).profile_daily_cap == 2
    capped = limiter(store, clock, "bulk", limits)
    for _ in range(3):
        capped.acquire()
    with pytest.raises(QuotaExceeded, match="daily share"):
        capped.acquire()


def test_without_a_profile_the_share_is_not_applied(store: Store, clock: FakeTime) -> None:
    plain = RateLimiter(
        store, "api:key", KEY.with_changes(share=0.5), clock=clock, sleep=clock.sleep
    )
    for _ in range(5):
        plain.acquire()
    assert clock.now == pytest.approx(1_001.0)


def test_shares_from_the_environment() -> None:
    limits = limits_from_env(KEY, {"CTCT_API_SHARE": "0.25", "CTCT_API_DAILY_CAP": "500"})
    assert (limits.share, limits.daily_cap) == (0.25, 500)
    for name, value in (("CTCT_API_SHARE", "1.5"), ("CTCT_API_SHARE", "0")):
        with pytest.raises(InputError, match=r"CTCT_API_SHARE must be a fraction in \(0, 1\]"):
            limits_from_env(KEY, {name: value})
    with pytest.raises(InputError, match="CTCT_API_DAILY_CAP must be a positive number"):
        limits_from_env(KEY, {"CTCT_API_DAILY_CAP": "-3"})
    with pytest.raises(ValueError, match="share must be in"):
        RateLimits(share=2.0)
