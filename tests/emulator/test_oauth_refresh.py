"""The refresh_token grant: rotation, reuse under both policies, the grace period,
long-lived tokens, the 180-day idle expiry, scope narrowing and the refresh log."""

from __future__ import annotations

import hashlib

import pytest

from ctct.emulator.tokens import access_token_active
from tests.conftest import Running, StartEmulator
from tests.emulator.oauth_support import (
    CLIENT_ID,
    LONG_LIVED_APP,
    PUBLIC_APP,
    SECRET,
    assert_oauth_error,
    exchange,
    get_code,
    pkce_pair,
    refresh,
    start,
    tokens,
    verify_jwt,
)

LL_AUTH = (LONG_LIVED_APP.client_id, LONG_LIVED_APP.client_secret or "")
DAY = 86_400


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _jti(r: Running, access_token: str) -> str:
    jti: str = verify_jwt(r, access_token)["jti"]
    return jti


def _long_lived_tokens(r: Running) -> dict[str, str]:
    code = get_code(r, client_id=LONG_LIVED_APP.client_id)
    response = exchange(r, code, auth=LL_AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


@pytest.fixture
def r(start_emulator: StartEmulator) -> Running:
    return start(start_emulator)


def test_rotating_refresh_returns_a_new_token_and_kills_all_earlier_ones(r: Running) -> None:
    first = tokens(r)
    rt1 = first["refresh_token"]
    second = refresh(r, rt1)
    assert second.status_code == 200, second.text
    body = second.json()
    rt2 = body["refresh_token"]
    assert rt2 != rt1
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86_400
    assert body["scope"] == first["scope"]
    assert verify_jwt(r, body["access_token"])["cid"] == CLIENT_ID
    rt3 = refresh(r, rt2).json()["refresh_token"]
    for stale in (rt1, rt2):
        reused = refresh(r, stale)
        assert_oauth_error(reused, "invalid_grant")
        assert reused.json()["error_description"] == "The refresh token is invalid or expired."
    # Default policy "token": only those requests failed; the chain goes on.
    assert refresh(r, rt3).status_code == 200
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert grant["rotations"] == 3 and grant["revoked"] is False


def test_reuse_under_grant_policy_revokes_the_whole_grant(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, refresh_token_reuse="grant")
    first = tokens(r)
    rt1 = first["refresh_token"]
    second = refresh(r, rt1).json()
    rt2 = second["refresh_token"]
    assert_oauth_error(refresh(r, rt1), "invalid_grant")
    # The live token died with the grant, and so did every access token of it.
    assert_oauth_error(refresh(r, rt2), "invalid_grant")
    for access in (first["access_token"], second["access_token"]):
        assert not access_token_active(r.emulator, _jti(r, access))
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert grant["revoked"] is True and grant["refresh_token_sha256"] is None


def test_reuse_under_token_policy_keeps_access_tokens(r: Running) -> None:
    first = tokens(r)
    rt2 = refresh(r, first["refresh_token"]).json()["refresh_token"]
    assert_oauth_error(refresh(r, first["refresh_token"]), "invalid_grant")
    assert access_token_active(r.emulator, _jti(r, first["access_token"]))
    assert refresh(r, rt2).status_code == 200


def test_grace_period_hands_both_callers_the_current_token(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, refresh_token_grace_seconds=30)
    rt1 = tokens(r)["refresh_token"]
    winner = refresh(r, rt1).json()
    r.emulator.clock.advance(10)
    loser = refresh(r, rt1)
    assert loser.status_code == 200, loser.text
    loser_body = loser.json()
    # Both end up with the same live refresh token, and each gets a fresh access token.
    assert loser_body["refresh_token"] == winner["refresh_token"]
    assert loser_body["access_token"] != winner["access_token"]
    assert refresh(r, winner["refresh_token"]).status_code == 200
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert grant["rotations"] == 2


def test_grace_period_ends_and_covers_only_the_previous_token(
    start_emulator: StartEmulator,
) -> None:
    r = start(start_emulator, refresh_token_grace_seconds=30)
    rt1 = tokens(r)["refresh_token"]
    rt2 = refresh(r, rt1).json()["refresh_token"]
    r.emulator.clock.advance(31)
    assert_oauth_error(refresh(r, rt1), "invalid_grant")
    rt3 = refresh(r, rt2).json()["refresh_token"]
    # rt1 is two rotations old: no grace even right after the rotation.
    assert_oauth_error(refresh(r, rt1), "invalid_grant")
    assert refresh(r, rt2).json()["refresh_token"] == rt3


def test_grace_with_grant_policy_revokes_outside_the_window(
    start_emulator: StartEmulator,
) -> None:
    r = start(start_emulator, refresh_token_grace_seconds=5, refresh_token_reuse="grant")
    rt1 = tokens(r)["refresh_token"]
    rt2 = refresh(r, rt1).json()["refresh_token"]
    assert refresh(r, rt1).status_code == 200  # within grace
    r.emulator.clock.advance(6)
    assert_oauth_error(refresh(r, rt1), "invalid_grant")
    assert_oauth_error(refresh(r, rt2), "invalid_grant")  # grant revoked


def test_no_grace_by_default(r: Running) -> None:
    rt1 = tokens(r)["refresh_token"]
    assert refresh(r, rt1).status_code == 200
    assert_oauth_error(refresh(r, rt1), "invalid_grant")


def test_long_lived_token_is_returned_unchanged_every_time(r: Running) -> None:
    first = _long_lived_tokens(r)
    rt = first["refresh_token"]
    accesses = {first["access_token"]}
    for _ in range(3):
        response = refresh(r, rt, auth=LL_AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["refresh_token"] == rt
        accesses.add(response.json()["access_token"])
    assert len(accesses) == 4
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert grant["refresh_token_type"] == "long-lived" and grant["rotations"] == 0


def test_long_lived_idle_expiry_slides_with_use(r: Running) -> None:
    rt = _long_lived_tokens(r)["refresh_token"]
    for _ in range(3):
        r.emulator.clock.advance(170 * DAY)
        assert refresh(r, rt, auth=LL_AUTH).status_code == 200
    r.emulator.clock.advance(180 * DAY + 1)
    assert_oauth_error(refresh(r, rt, auth=LL_AUTH), "invalid_grant")


def test_rotating_token_expires_after_180_idle_days(r: Running) -> None:
    rt = tokens(r)["refresh_token"]
    r.emulator.clock.advance(179 * DAY)
    rt = refresh(r, rt).json()["refresh_token"]
    r.emulator.clock.advance(180 * DAY + 1)
    expired = refresh(r, rt)
    assert_oauth_error(expired, "invalid_grant")
    assert expired.json()["error_description"] == "The refresh token is invalid or expired."


def test_idle_ttl_is_configurable(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, refresh_token_idle_ttl=60)
    rt = tokens(r)["refresh_token"]
    r.emulator.clock.advance(59)
    rt = refresh(r, rt).json()["refresh_token"]
    r.emulator.clock.advance(61)
    assert_oauth_error(refresh(r, rt), "invalid_grant")


def test_scope_parameter_may_narrow_but_not_widen(r: Running) -> None:
    rt = tokens(r)["refresh_token"]
    wider = refresh(r, rt, scope="account_read campaign_data")
    assert_oauth_error(wider, "invalid_scope")
    # The refused request did not use up the rotating token.
    narrowed = refresh(r, rt, scope="account_read")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "account_read"
    assert verify_jwt(r, body["access_token"])["scp"] == ["account_read"]
    # The grant keeps its full scope for later refreshes.
    full = refresh(r, body["refresh_token"]).json()
    assert full["scope"] == "account_read contact_data offline_access"


def test_refresh_token_of_another_client_is_invalid_grant(r: Running) -> None:
    rt = tokens(r)["refresh_token"]
    assert_oauth_error(refresh(r, rt, auth=LL_AUTH), "invalid_grant")
    assert refresh(r, rt).status_code == 200


def test_unknown_refresh_token_and_missing_parameter(r: Running) -> None:
    assert_oauth_error(refresh(r, "not-a-token"), "invalid_grant")
    response = r.client.post(
        "/oauth2/default/v1/token", data={"grant_type": "refresh_token"}, auth=(CLIENT_ID, SECRET)
    )
    assert_oauth_error(response, "invalid_request")


def test_confidential_client_must_authenticate_to_refresh(r: Running) -> None:
    rt = tokens(r)["refresh_token"]
    response = refresh(r, rt, auth=None, client_id=CLIENT_ID)
    assert_oauth_error(response, "invalid_client", 401)
    assert refresh(r, rt).status_code == 200  # not used up by the refused request


def test_public_client_refreshes_with_client_id_only(r: Running) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(
        r, client_id=PUBLIC_APP.client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    body = exchange(
        r, code, auth=None, client_id=PUBLIC_APP.client_id, code_verifier=verifier
    ).json()
    response = refresh(r, body["refresh_token"], auth=None, client_id=PUBLIC_APP.client_id)
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] != body["refresh_token"]


def test_each_answered_refresh_is_logged_with_token_hashes(r: Running) -> None:
    rt1 = tokens(r)["refresh_token"]
    before = r.emulator.clock.now()
    rt2 = refresh(r, rt1).json()["refresh_token"]
    assert_oauth_error(refresh(r, rt1), "invalid_grant")  # failures are not logged
    (event,) = r.emulator.counters.events("refresh")
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert event["grant_id"] == grant["grant_id"]
    assert event["presented_sha256"] == _sha(rt1)
    assert event["issued_sha256"] == _sha(rt2) == grant["refresh_token_sha256"]
    assert before <= event["at"] <= r.emulator.clock.now()
    counts = r.emulator.counters.snapshot()["token_requests"]["refresh_token"]
    assert counts == {"success": 1, "invalid_grant": 1}


def test_long_lived_refresh_log_presented_equals_issued(r: Running) -> None:
    rt = _long_lived_tokens(r)["refresh_token"]
    refresh(r, rt, auth=LL_AUTH)
    (event,) = r.emulator.counters.events("refresh")
    assert event["presented_sha256"] == event["issued_sha256"] == _sha(rt)


def test_control_api_revokes_a_grant(r: Running) -> None:
    body = tokens(r)
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    response = r.client.post(f"/__emulator/grants/{grant['grant_id']}/revoke", json={})
    assert response.status_code == 200 and response.json()["revoked"] is True
    assert_oauth_error(refresh(r, body["refresh_token"]), "invalid_grant")
    assert not access_token_active(r.emulator, _jti(r, body["access_token"]))
    assert r.client.post("/__emulator/grants/grant_nope/revoke", json={}).status_code == 404
