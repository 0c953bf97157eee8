"""Timer mode and keep-alive against the emulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from ctct._timer import BackgroundRefresher, TimerPolicy, keep_alive, run_refresher
from ctct.errors import AuthorizationRequired
from tests.refresh.conftest import Env, MakeEnv

DAY = 86_400


def test_background_refresher_refreshes_before_expiry(make_env: MakeEnv) -> None:
    env = make_env(access_token_ttl=3)
    with env.manager() as manager:
        first = env.login(manager)
        env.emu.token_limiter.rate = 100.0  # the refresher may refresh every 2.7 s
        seen = {first.access_token.reveal()}  # type: ignore[union-attr]
        with BackgroundRefresher(manager, TimerPolicy(min_sleep=0.01)):
            deadline = time.time() + 7.0
            while time.time() < deadline:
                stored = manager.tokens()
                assert stored is not None
                # The stored token is never allowed to expire while the timer runs.
                assert stored.expires_at is not None
                assert stored.expires_at > env.clock()
                seen.add(stored.access_token.reveal())  # type: ignore[union-attr]
                time.sleep(0.1)
    assert env.refreshes() >= 2
    assert len(seen) >= 3


def test_async_refresher_task_refreshes_and_cancels_cleanly(make_env: MakeEnv) -> None:
    env = make_env(access_token_ttl=2)

    async def scenario() -> int:
        with env.manager() as manager:
            env.login(manager)
            env.emu.token_limiter.rate = 100.0
            task = asyncio.create_task(run_refresher(manager, TimerPolicy(min_sleep=0.01)))
            await asyncio.sleep(4.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return env.refreshes()

    assert asyncio.run(scenario()) >= 2


def test_keep_alive_saves_a_grant_that_would_die_unused(make_env: MakeEnv) -> None:
    env = make_env()
    with env.manager() as manager:
        env.login(manager)
        env.clock.advance(170 * DAY)
        assert keep_alive(manager) is True  # 10 days left < 30-day margin
        env.clock.advance(170 * DAY)  # 340 days after login, 170 after the keep-alive
        assert keep_alive(manager) is True
        env.clock.advance(1)
        assert keep_alive(manager) is False  # just refreshed: nothing to do
        assert manager.token()


def test_keep_alive_of_a_rejected_refresh_token_says_so(env: Env) -> None:
    with env.manager() as manager:
        env.login(manager)
        env.revoke_grant()
        env.clock.advance(1.1)  # the token endpoint allows 1 request/second
        # The access token is still valid, so refresh() returns it instead of raising.
        with pytest.raises(AuthorizationRequired, match="cannot be kept alive"):
            keep_alive(manager, margin=180 * DAY)
        assert manager.token()  # served until it expires


def test_without_keep_alive_the_grant_dies_after_180_idle_days(env: Env) -> None:
    with env.manager() as manager:
        env.login(manager)
        env.clock.advance(181 * DAY)
        with pytest.raises(AuthorizationRequired):
            manager.token()
