"""Per-key limits: the daily quota (local count and the server's), its reset at
00:00 UTC, and pacing at CC's 4/s without a single 429."""

from __future__ import annotations

import threading

import anyio
import pytest

from ctct.api import QuotaExceeded, RateLimits
from ctct.api.errors import next_utc_midnight
from ctct.api.limits import RateLimiter
from ctct.stores import open_store
from tests.api.conftest import MakeApiEnv


def test_local_daily_count_stops_at_the_quota(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(limits=RateLimits(rate_per_second=1_000.0, daily_quota=5), api_daily_quota=5)
    client = env.client()
    for _ in range(5):
        client.account.summary()
    with pytest.raises(QuotaExceeded) as caught:
        client.account.summary()
    error = caught.value
    assert error.local and error.reset_at == next_utc_midnight(env.clock())
    assert "resets at" in error.message and error.exit_code == 15
    assert env.statuses() == {"200": 5}  # the sixth never left this process
    # Another client of the same key, sharing the store, is stopped too.
    with pytest.raises(QuotaExceeded):
        env.client().contacts.count()


def test_server_quota_is_not_retried_and_remembered(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(
        limits=RateLimits(rate_per_second=1_000.0, daily_quota=100), api_daily_quota=3
    )
    client = env.client()
    for _ in range(3):
        client.account.summary()
    with pytest.raises(QuotaExceeded) as caught:
        client.account.summary()
    assert not caught.value.local
    assert caught.value.reset_at == next_utc_midnight(env.clock())
    with pytest.raises(QuotaExceeded) as again:
        client.account.summary()
    assert again.value.local  # remembered: the server is not asked again today
    assert env.statuses() == {"200": 3, "429": 1}


def test_the_quota_resets_at_midnight_utc(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(limits=RateLimits(rate_per_second=1_000.0, daily_quota=2), api_daily_quota=2)
    client = env.client()
    client.account.summary()
    client.account.summary()
    with pytest.raises(QuotaExceeded) as caught:
        client.account.summary()
    env.handle.advance_clock(caught.value.reset_at - env.clock() + 1)
    assert client.account.summary()["encoded_account_id"]
    assert env.statuses() == {"200": 3}


def test_async_client_stops_at_the_quota(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(
        limits=RateLimits(rate_per_second=1_000.0, daily_quota=2), api_daily_quota=50
    )

    async def main() -> None:
        async with env.async_client() as client:
            await client.account.summary()
            await client.account.summary()
            with pytest.raises(QuotaExceeded):
                await client.account.summary()

    anyio.run(main)
    assert env.statuses() == {"200": 2}


def test_threads_at_cc_rate_never_get_throttled(make_api_env: MakeApiEnv) -> None:
    # CC's real numbers on both sides; the emulator's bucket has burst = rate.
    env = make_api_env(limits=RateLimits(), api_rate_per_second=4.0)
    client = env.client()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2):
                client.account.summary()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert env.statuses() == {"200": 8}


def test_async_tasks_at_cc_rate_never_get_throttled(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(limits=RateLimits(), api_rate_per_second=4.0)

    async def main() -> None:
        async with env.async_client() as client, anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(client.account.summary)

    anyio.run(main)
    assert env.statuses() == {"200": 8}


def test_limiter_paces_with_burst_one(tmp_path: object) -> None:
    # A fake clock drives the shared bucket: sleeps advance it, nothing waits for real.
    now = [1_000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    store = open_store(f"sqlite:///{tmp_path}/rate.db", clock=lambda: now[0])
    limiter = RateLimiter(
        store,
        "api:test",
        RateLimits(rate_per_second=4.0, margin=0.0, daily_quota=None),
        clock=lambda: now[0],
        sleep=sleep,
    )
    for _ in range(9):
        limiter.acquire()
    assert now[0] == pytest.approx(1_002.0)  # 1 at once, then one every 0.25 s
    store.close()


def test_limits_from_the_provider_and_partner() -> None:
    from ctct._provider import Provider

    cc = RateLimits.for_provider(Provider.constant_contact())
    assert (cc.rate_per_second, cc.daily_quota) == (4.0, 10_000)
    assert cc.effective_rate == pytest.approx(3.92)
    partner = RateLimits.partner()
    assert (partner.rate_per_second, partner.daily_quota) == (10.0, 250_000)
    with pytest.raises(ValueError, match="rate_per_second"):
        RateLimits(rate_per_second=0)
