"""CC's per-API-key limits: 4 requests/second (429 throttled) and a daily quota
(429 quota_exceeded) that resets at 00:00 UTC. The per-second check comes first, and a
request it refuses does not consume the daily quota."""

from __future__ import annotations

import httpx2

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import auth, ok, too_many

PRIVILEGES = "/v3/account/user/privileges"
OTHER_APP = "9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e"


def _get(running: Running, headers: dict[str, str]) -> httpx2.Response:
    return running.client.get(PRIVILEGES, headers=headers)


def test_fifth_request_within_a_second_is_throttled(start_emulator: StartEmulator) -> None:
    running = start_emulator()  # CC's defaults: 4/s, burst 4
    headers = auth(running.emulator)
    for _ in range(4):  # the bucket starts full
        ok(_get(running, headers), "UserPrivilegesResource")
    # A few milliseconds have passed, not the 250 ms a new token takes; allow some slack
    # for a slow machine rather than sleeping.
    statuses = []
    for _ in range(10):
        response = _get(running, headers)
        statuses.append(response.status_code)
        if response.status_code == 429:
            too_many(response, "throttled")
            break
    assert 429 in statuses
    running.emulator.clock.advance(1.0)  # a second later the bucket has refilled
    ok(_get(running, headers), "UserPrivilegesResource")


def test_limits_are_per_api_key_not_per_token_or_user(start_emulator: StartEmulator) -> None:
    running = start_emulator(api_rate_per_second=2.0)
    emu = running.emulator
    alice, bob = auth(emu), auth(emu, "bob@example.com")
    other_app = auth(emu, client_id=OTHER_APP)
    ok(_get(running, alice), "UserPrivilegesResource")
    ok(_get(running, bob), "UserPrivilegesResource")
    # Two users, one key: the key's 2 requests are spent.
    too_many(_get(running, auth(emu)), "throttled")
    ok(_get(running, other_app), "UserPrivilegesResource")


def test_throttled_requests_do_not_consume_the_daily_quota(start_emulator: StartEmulator) -> None:
    running = start_emulator(api_rate_per_second=2.0, api_daily_quota=5)
    emu, headers = running.emulator, auth(running.emulator)
    client_id = emu.config.default_app.client_id
    answered = throttled = 0
    while True:
        response = _get(running, headers)
        if response.status_code == 200:
            answered += 1
            continue
        body = response.json()
        if body["error_key"] == "throttled":
            throttled += 1
            emu.clock.advance(1.0)
            continue
        too_many(response, "quota_exceeded")
        break
    assert throttled >= 2  # 5 answers at 2/s needed at least two refills
    assert answered == 5
    assert emu.api_quota.used(client_id) == 5


def test_daily_quota_resets_at_midnight_utc(start_emulator: StartEmulator) -> None:
    running = start_emulator(api_rate_per_second=1000.0, api_daily_quota=3)
    emu, headers = running.emulator, auth(running.emulator)
    for _ in range(3):
        ok(_get(running, headers), "UserPrivilegesResource")
    too_many(_get(running, headers), "quota_exceeded")
    too_many(_get(running, headers), "quota_exceeded")
    # Move to 30 s before the next 00:00 UTC: still the same day, still refused
    # (a reset 24 h after the first request would be a different rule).
    midnight = emu.api_quota.reset_time()
    assert midnight % 86_400 == 0
    until_midnight = midnight - emu.clock.now()
    if until_midnight > 60:
        emu.clock.advance(until_midnight - 30)
        too_many(_get(running, headers), "quota_exceeded")
    emu.clock.advance(midnight - emu.clock.now() + 0.001)
    # The access token was minted for 24 h; mint a fresh one for the new day.
    headers = auth(emu)
    for _ in range(3):
        ok(_get(running, headers), "UserPrivilegesResource")
    too_many(_get(running, headers), "quota_exceeded")


def test_quota_is_checked_before_scope_and_counts_refusals(start_emulator: StartEmulator) -> None:
    # A request the gateway admits counts, whatever the service then answers (403 here).
    running = start_emulator(api_rate_per_second=1000.0, api_daily_quota=2)
    no_scope = auth(running.emulator, scopes=())
    assert running.client.get("/v3/contacts", headers=no_scope).status_code == 403
    assert running.client.get("/v3/contacts", headers=no_scope).status_code == 403
    too_many(running.client.get("/v3/contacts", headers=no_scope), "quota_exceeded")
