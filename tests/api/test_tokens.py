"""The client uses the token core for every request: refresh when due, and one
refresh-and-replay after a 401."""

from __future__ import annotations

import anyio

from tests.api.conftest import ApiEnv, MakeApiEnv


def refreshes(env: ApiEnv) -> int:
    counters = env.handle.counters()["token_requests"].get("refresh_token", {})
    return sum(n for outcome, n in counters.items() if outcome in ("ok", "success"))


def test_expired_token_is_refreshed_before_the_request(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(access_token_ttl=600)
    client = env.client()
    client.account.summary()
    env.handle.advance_clock(601)
    assert client.account.summary()["encoded_account_id"]
    assert refreshes(env) == 1
    assert env.statuses() == {"200": 2}  # no 401 was needed


def test_a_refused_token_is_refreshed_and_the_request_replayed(make_api_env: MakeApiEnv) -> None:
    env = make_api_env()
    client = env.client()
    client.account.summary()
    # Retiring the signing key makes the emulator refuse every token it issued.
    env.handle.rotate_keys(retire_old=True)
    assert client.account.summary()["encoded_account_id"]
    assert refreshes(env) == 1
    assert env.api_counts()["GET /v3/account/summary"] == {"200": 2, "401": 1}


def test_async_replay(make_api_env: MakeApiEnv) -> None:
    env = make_api_env()

    async def main() -> None:
        async with env.async_client() as client:
            await client.account.summary()
            env.handle.rotate_keys(retire_old=True)
            assert (await client.account.summary())["encoded_account_id"]

    anyio.run(main)
    assert refreshes(env) == 1
    assert env.api_counts()["GET /v3/account/summary"] == {"200": 2, "401": 1}
