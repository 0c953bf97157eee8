"""A machine whose clock is 2 minutes off, either way, against an emulator over a real
socket: the device login verifies its token, refreshes (forced and at expiry) and an
import verify theirs and keep them, API calls work, sync and async. ctct's clock is the emulator's
plus the skew, injected (no production setting moves it)."""

from __future__ import annotations

import anyio
import pytest

from ctct._manager import TokenManager
from ctct.api import AsyncClient, Client, RateLimits
from ctct.flows import DeviceCodeIssued, Login, LoginEvent
from ctct.stores import open_store
from tests.flows.conftest import FlowEnv, MakeEnv

TTL = 60  # short enough that a clock 120 s ahead would see every new token as expired
FAST = RateLimits(rate_per_second=1_000.0, daily_quota=None)


def skewed_manager(env: FlowEnv, local_offset: float, profile: str = "default") -> TokenManager:
    def local() -> float:
        return env.clock() + local_offset

    manager = TokenManager(
        provider=env.provider,
        client=env.client,
        store=open_store(env.store_url, clock=local),
        profile=profile,
        clock=local,
        sleep=env.clock.sleep,  # CC's 1 request/s at the token endpoint: virtual waits
        owns_store=True,
    )
    env.managers.append(manager)
    return manager


@pytest.mark.parametrize("local_offset", [-120.0, 120.0])
def test_login_refresh_and_api_with_a_skewed_clock(make_env: MakeEnv, local_offset: float) -> None:
    # safety: src/ctct/_jwt.py: now += _clock.usable_offset(skew)
    # safety: src/ctct/_tokens.py: skew = (server_now + 1.0) - received_at
    env = make_env(access_token_ttl=TTL, token_rate_per_second=100.0)
    manager = skewed_manager(env, local_offset)

    def approve(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    with Login(manager, on_event=approve, sleep=env.clock.sleep) as login:
        result = login.device()
    assert result.subject is not None  # the access token was verified
    assert result.tokens.clock_skew == pytest.approx(-local_offset, abs=1.1)

    with Client(manager, limits=FAST, clock=manager.clock) as client:
        assert client.account.summary()["encoded_account_id"]
        refreshed = manager.refresh()  # forced: a new token, verified before use
        assert refreshed.access_token is not None
        assert refreshed.access_token != result.tokens.access_token
        env.clock.advance(TTL + 1)  # expired: the next call refreshes by itself
        assert client.account.summary()["encoded_account_id"]
    assert env.token_requests("refresh_token") == {"success": 2}
    stored = manager.tokens()
    assert stored is not None and stored.access_token is not None  # never dropped
    assert stored.clock_skew == pytest.approx(-local_offset, abs=1.1)

    async def async_calls() -> None:
        async with AsyncClient(manager, limits=FAST, clock=manager.clock) as client:
            env.clock.advance(1.1)  # the async driver really sleeps for the rate limit
            await manager.arefresh()
            assert (await client.account.summary())["encoded_account_id"]

    anyio.run(async_calls)
    assert env.token_requests("refresh_token") == {"success": 3}

    # An imported refresh token is verified by one refresh, on the provider's clock too.
    current = manager.tokens()
    assert current is not None and current.refresh_token is not None
    with Login(skewed_manager(env, local_offset, "imported")) as importer:
        imported = importer.import_tokens(current.refresh_token)
    assert imported.tokens.access_token is not None
    assert env.token_requests("refresh_token") == {"success": 4}
    api = env.emu.counters.snapshot()["api_requests"]
    assert api["GET /v3/account/summary"] == {"200": 3}  # no 401: every token was good
