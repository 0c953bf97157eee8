"""Token revocation (RFC 7009) at /oauth2/default/v1/revoke."""

from __future__ import annotations

import httpx2
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from ctct import _cc
from ctct.emulator.tokens import access_token_active
from tests.conftest import Running, StartEmulator
from tests.emulator.oauth_support import (
    CLIENT_ID,
    LONG_LIVED_APP,
    PUBLIC_APP,
    SECRET,
    assert_oauth_error,
    basic,
    exchange,
    get_code,
    pkce_pair,
    refresh,
    start,
    tokens,
    verify_jwt,
)


@pytest.fixture
def r(start_emulator: StartEmulator) -> Running:
    return start(start_emulator)


def revoke(
    r: Running, token: str, auth: tuple[str, str] | None = (CLIENT_ID, SECRET), **extra: str
) -> httpx2.Response:
    return r.client.post(_cc.REVOKE_PATH, data={"token": token, **extra}, auth=basic(auth))


def _active(r: Running, access_token: str) -> bool:
    return access_token_active(r.emulator, verify_jwt(r, access_token)["jti"])


def test_revoking_a_refresh_token_revokes_its_whole_grant(r: Running) -> None:
    first = tokens(r)
    second = refresh(r, first["refresh_token"]).json()
    other_grant = tokens(r)
    response = revoke(r, second["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200 and response.content == b""
    assert_oauth_error(refresh(r, second["refresh_token"]), "invalid_grant")
    assert not _active(r, first["access_token"])
    assert not _active(r, second["access_token"])
    # Another grant of the same user and app is untouched.
    assert _active(r, other_grant["access_token"])
    assert refresh(r, other_grant["refresh_token"]).status_code == 200
    revoked = [g for g in r.client.get("/__emulator/grants").json()["grants"] if g["revoked"]]
    assert len(revoked) == 1


def test_revoking_an_access_token_revokes_only_that_token(r: Running) -> None:
    first = tokens(r)
    second = refresh(r, first["refresh_token"]).json()
    assert revoke(r, first["access_token"], token_type_hint="access_token").status_code == 200
    assert not _active(r, first["access_token"])
    assert _active(r, second["access_token"])
    assert refresh(r, second["refresh_token"]).status_code == 200


def test_a_wrong_hint_does_not_prevent_revocation(r: Running) -> None:
    body = tokens(r)
    assert revoke(r, body["refresh_token"], token_type_hint="access_token").status_code == 200
    assert_oauth_error(refresh(r, body["refresh_token"]), "invalid_grant")
    other = tokens(r)
    assert revoke(r, other["access_token"], token_type_hint="refresh_token").status_code == 200
    assert not _active(r, other["access_token"])


@pytest.mark.parametrize("token", ["unknown-token", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_unknown_tokens_get_200(r: Running, token: str) -> None:
    response = revoke(r, token)
    assert response.status_code == 200


def test_tokens_of_another_client_are_not_revoked(r: Running) -> None:
    body = tokens(r)
    other = (LONG_LIVED_APP.client_id, LONG_LIVED_APP.client_secret or "")
    assert revoke(r, body["refresh_token"], auth=other).status_code == 200
    assert revoke(r, body["access_token"], auth=other).status_code == 200
    assert _active(r, body["access_token"])
    assert refresh(r, body["refresh_token"]).status_code == 200


def test_a_forged_access_token_does_not_revoke_the_real_one(r: Running) -> None:
    body = tokens(r)
    claims = verify_jwt(r, body["access_token"])
    header = jose_jwt.decode(body["access_token"], r.emulator.keys.key_set()).header
    forged = jose_jwt.encode(
        {"alg": "RS256", "kid": header["kid"]}, claims, RSAKey.generate_key(2048)
    )
    assert revoke(r, forged).status_code == 200
    assert _active(r, body["access_token"])


def test_bad_client_authentication_is_401(r: Running) -> None:
    body = tokens(r)
    response = revoke(r, body["refresh_token"], auth=(CLIENT_ID, "wrong"))
    assert_oauth_error(response, "invalid_client", 401)
    assert "www-authenticate" in response.headers
    unauthenticated = revoke(r, body["refresh_token"], auth=None, client_id=CLIENT_ID)
    assert_oauth_error(unauthenticated, "invalid_client", 401)
    assert refresh(r, body["refresh_token"]).status_code == 200  # nothing was revoked


def test_missing_token_is_invalid_request(r: Running) -> None:
    response = r.client.post(_cc.REVOKE_PATH, data={}, auth=(CLIENT_ID, SECRET))
    assert_oauth_error(response, "invalid_request")


def test_public_client_revokes_with_client_id_only(r: Running) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(
        r, client_id=PUBLIC_APP.client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    body = exchange(
        r, code, auth=None, client_id=PUBLIC_APP.client_id, code_verifier=verifier
    ).json()
    response = revoke(r, body["refresh_token"], auth=None, client_id=PUBLIC_APP.client_id)
    assert response.status_code == 200
    assert not _active(r, body["access_token"])


def test_device_grant_revokes_without_a_secret(r: Running) -> None:
    start_body = r.client.post(
        _cc.DEVICE_AUTHORIZE_PATH, data={"client_id": CLIENT_ID, "scope": "offline_access"}
    ).json()
    r.client.post("/__emulator/device/approve", json={"user_code": start_body["user_code"]})
    body = r.client.post(
        _cc.TOKEN_PATH,
        data={
            "grant_type": _cc.DEVICE_CODE_GRANT,
            "device_code": start_body["device_code"],
            "client_id": CLIENT_ID,
        },
    ).json()
    assert revoke(r, body["access_token"], auth=None, client_id=CLIENT_ID).status_code == 200
    assert not _active(r, body["access_token"])
    assert revoke(r, body["refresh_token"], auth=None, client_id=CLIENT_ID).status_code == 200
    assert_oauth_error(
        refresh(r, body["refresh_token"], auth=None, client_id=CLIENT_ID), "invalid_grant"
    )


def test_revocation_does_not_touch_the_token_throttle(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, token_rate_per_second=1.0)
    body = tokens(r)
    for _ in range(3):
        assert revoke(r, "unknown").status_code == 200
    assert revoke(r, body["refresh_token"]).status_code == 200
