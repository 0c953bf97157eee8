"""The token endpoint's code grant and its cross-cutting rules: client authentication,
parameters in the query string or the body, PKCE, code lifetime, the 1/s throttle,
counters, and the tokens themselves checked with PyJWT against the JWKS."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote_plus

import jwt
import pytest

from ctct import _cc
from ctct.emulator import AppConfig
from ctct.emulator.tokens import access_token_active
from tests.conftest import Running, StartEmulator
from tests.emulator.oauth_support import (
    CLIENT_ID,
    LONG_LIVED_APP,
    ODD_APP,
    PUBLIC_APP,
    REDIRECT,
    SECRET,
    assert_oauth_error,
    exchange,
    get_code,
    pkce_pair,
    start,
    tokens,
    verify_jwt,
)

ALICE = "alice@example.com"
ALICE_ID = "0b9d2f4e-1a3c-4e5f-8a7b-000000000001"


@pytest.fixture
def r(start_emulator: StartEmulator) -> Running:
    return start(start_emulator)


def test_code_with_basic_auth_returns_tokens_cc_clients_can_verify(r: Running) -> None:
    code = get_code(r)
    response = exchange(r, code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86_400
    assert body["scope"] == "account_read contact_data offline_access"
    assert len(body["refresh_token"]) >= 40
    assert "id_token" not in body

    claims = verify_jwt(r, body["access_token"])
    assert claims["iss"] == _cc.ISSUER
    assert claims["aud"] == _cc.AUDIENCE
    assert claims["cid"] == CLIENT_ID
    assert claims["sub"] == ALICE
    assert claims["platform_user_id"] == ALICE_ID
    assert claims["scp"] == ["account_read", "contact_data", "offline_access"]
    assert claims["exp"] - claims["iat"] == 86_400
    assert claims["jti"]
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    assert kid in {k["kid"] for k in r.client.get(_cc.JWKS_PATH).json()["keys"]}
    assert access_token_active(r.emulator, claims["jti"])


def test_jwks_publishes_rs256_signing_keys(r: Running) -> None:
    response = r.client.get(_cc.JWKS_PATH)
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert {"n", "e", "kid"} <= set(key) and "d" not in key


def test_code_with_client_secret_post(r: Running) -> None:
    code = get_code(r)
    response = exchange(r, code, auth=None, client_id=CLIENT_ID, client_secret=SECRET)
    assert response.status_code == 200, response.text
    assert verify_jwt(r, response.json()["access_token"])["cid"] == CLIENT_ID


def test_code_with_every_parameter_in_the_query_string_and_empty_body(r: Running) -> None:
    code = get_code(r)
    # CC's own support example: POST .../token?code=...&redirect_uri=...&grant_type=...
    response = r.client.post(
        _cc.TOKEN_PATH,
        params={"code": code, "redirect_uri": REDIRECT, "grant_type": "authorization_code"},
        auth=(CLIENT_ID, SECRET),
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


def test_token_alias_path_answers_too(r: Running) -> None:
    code = get_code(r)
    response = r.client.post(
        _cc.TOKEN_ALIAS_PATH,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(CLIENT_ID, SECRET),
    )
    assert response.status_code == 200, response.text


def test_query_and_body_parameters_merge(r: Running) -> None:
    code = get_code(r)
    response = r.client.post(
        _cc.TOKEN_PATH,
        params={"grant_type": "authorization_code"},
        data={"code": code, "redirect_uri": REDIRECT},
        auth=(CLIENT_ID, SECRET),
    )
    assert response.status_code == 200, response.text


def test_conflicting_query_and_body_values_are_invalid_request(r: Running) -> None:
    code = get_code(r)
    response = r.client.post(
        _cc.TOKEN_PATH,
        params={"grant_type": "refresh_token"},
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(CLIENT_ID, SECRET),
    )
    assert_oauth_error(response, "invalid_request")


def test_json_body_is_refused_with_a_hint(r: Running) -> None:
    response = r.client.post(
        _cc.TOKEN_PATH, json={"grant_type": "authorization_code"}, auth=(CLIENT_ID, SECRET)
    )
    assert_oauth_error(response, "invalid_request")
    assert "x-www-form-urlencoded" in response.json()["error_description"]


def test_basic_credentials_are_form_urlencoded_before_base64(r: Running) -> None:
    code = get_code(r, client_id=ODD_APP.client_id)
    secret = ODD_APP.client_secret or ""
    raw = f"{quote_plus(ODD_APP.client_id)}:{quote_plus(secret)}"
    header = "Basic " + base64.b64encode(raw.encode()).decode()
    response = r.client.post(
        _cc.TOKEN_PATH,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": header},
    )
    assert response.status_code == 200, response.text
    assert verify_jwt(r, response.json()["access_token"])["cid"] == ODD_APP.client_id


def test_public_client_with_pkce(r: Running) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(
        r,
        client_id=PUBLIC_APP.client_id,
        code_challenge=challenge,
        code_challenge_method="S256",
        scope="account_read offline_access openid",
        nonce="n-0S6_WzA2Mj",
    )
    response = exchange(r, code, auth=None, client_id=PUBLIC_APP.client_id, code_verifier=verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"]
    assert verify_jwt(r, body["access_token"])["cid"] == PUBLIC_APP.client_id
    id_claims = verify_jwt(r, body["id_token"], audience=PUBLIC_APP.client_id)
    assert id_claims["iss"] == _cc.ISSUER
    assert id_claims["sub"] == ALICE_ID
    assert id_claims["nonce"] == "n-0S6_WzA2Mj"
    assert id_claims["exp"] > id_claims["iat"]


def test_pkce_from_confidential_client_is_checked_too(r: Running) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(r, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(r, code, code_verifier=verifier).status_code == 200


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 50, "short"])
def test_pkce_verifier_missing_or_wrong_is_invalid_grant(r: Running, verifier: str | None) -> None:
    _, challenge = pkce_pair()
    code = get_code(
        r, client_id=PUBLIC_APP.client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    extra = {"code_verifier": verifier} if verifier else {}
    response = exchange(r, code, auth=None, client_id=PUBLIC_APP.client_id, **extra)
    assert_oauth_error(response, "invalid_grant")
    assert "PKCE" in response.json()["error_description"]


def test_verifier_without_challenge_is_invalid_grant(r: Running) -> None:
    verifier, _ = pkce_pair()
    assert_oauth_error(exchange(r, get_code(r), code_verifier=verifier), "invalid_grant")


def test_code_is_single_use(r: Running) -> None:
    code = get_code(r)
    assert exchange(r, code).status_code == 200
    second = exchange(r, code)
    assert_oauth_error(second, "invalid_grant")
    assert "authorization code" in second.json()["error_description"]


def test_code_expires_after_five_minutes(r: Running) -> None:
    code = get_code(r)
    r.emulator.clock.advance(301)
    assert_oauth_error(exchange(r, code), "invalid_grant")


def test_code_is_good_until_its_ttl(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, authorization_code_ttl=30)
    code = get_code(r)
    r.emulator.clock.advance(29)
    assert exchange(r, code).status_code == 200
    late = get_code(r)
    r.emulator.clock.advance(31)
    assert_oauth_error(exchange(r, late), "invalid_grant")


@pytest.mark.parametrize("redirect_uri", [None, "http://127.0.0.1:9/callback", "https://localhost"])
def test_redirect_uri_must_equal_the_authorize_one(r: Running, redirect_uri: str | None) -> None:
    code = get_code(r)
    response = exchange(r, code, redirect_uri=redirect_uri)
    assert_oauth_error(response, "invalid_grant")
    assert "redirect_uri" in response.json()["error_description"]


def test_loopback_any_port_uri_must_be_repeated_exactly(r: Running) -> None:
    uri = "http://127.0.0.1:50123/callback"
    code = get_code(r, redirect_uri=uri)
    assert exchange(r, code, redirect_uri=uri).status_code == 200


def test_code_of_another_client_is_invalid_grant(r: Running) -> None:
    code = get_code(r)
    other = exchange(r, code, auth=(LONG_LIVED_APP.client_id, "long-lived-secret"))
    assert_oauth_error(other, "invalid_grant")
    assert exchange(r, code).status_code == 200  # not burned by the other client


def test_no_offline_access_no_refresh_token(r: Running) -> None:
    body = tokens(r, scope="account_read contact_data")
    assert "refresh_token" not in body
    assert body["scope"] == "account_read contact_data"


def test_openid_adds_an_id_token(r: Running) -> None:
    body = tokens(r, scope="openid account_read")
    claims = verify_jwt(r, body["id_token"], audience=CLIENT_ID)
    assert claims["sub"] == ALICE_ID


@pytest.mark.parametrize(
    ("auth", "extra", "basic_challenge"),
    [
        ((CLIENT_ID, "wrong-secret"), {}, True),
        (("no-such-client", "x"), {}, True),
        (None, {"client_id": CLIENT_ID, "client_secret": "wrong"}, False),
        (None, {"client_id": CLIENT_ID}, False),  # confidential client without its secret
        (None, {}, False),
        ((PUBLIC_APP.client_id, "a-secret-it-does-not-have"), {}, True),
    ],
)
def test_bad_client_authentication_is_401_invalid_client(
    r: Running, auth: tuple[str, str] | None, extra: dict[str, str], basic_challenge: bool
) -> None:
    code = get_code(r)
    response = exchange(r, code, auth=auth, **extra)
    assert_oauth_error(response, "invalid_client", 401)
    if basic_challenge:
        assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert SECRET not in response.text


def test_malformed_basic_header_is_invalid_client(r: Running) -> None:
    response = r.client.post(
        _cc.TOKEN_PATH,
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
        headers={"Authorization": "Basic !!!not-base64"},
    )
    assert_oauth_error(response, "invalid_client", 401)
    assert "www-authenticate" in response.headers


def test_basic_and_post_together_is_invalid_request(r: Running) -> None:
    response = exchange(r, get_code(r), client_secret=SECRET)
    assert_oauth_error(response, "invalid_request")


def test_client_secret_post_rejected_when_switched_off(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, allow_client_secret_post=False)
    code = get_code(r)
    response = exchange(r, code, auth=None, client_id=CLIENT_ID, client_secret=SECRET)
    assert_oauth_error(response, "invalid_client", 401)
    assert "Basic" in response.json()["error_description"]
    assert exchange(r, code).status_code == 200  # Basic still works


@pytest.mark.parametrize("grant_type", ["client_credentials", "password", "implicit"])
def test_unsupported_grant_type(r: Running, grant_type: str) -> None:
    response = r.client.post(
        _cc.TOKEN_PATH, data={"grant_type": grant_type}, auth=(CLIENT_ID, SECRET)
    )
    assert_oauth_error(response, "unsupported_grant_type")


def test_missing_grant_type_and_code_are_invalid_request(r: Running) -> None:
    assert_oauth_error(
        r.client.post(_cc.TOKEN_PATH, data={}, auth=(CLIENT_ID, SECRET)), "invalid_request"
    )
    response = r.client.post(
        _cc.TOKEN_PATH, data={"grant_type": "authorization_code"}, auth=(CLIENT_ID, SECRET)
    )
    assert_oauth_error(response, "invalid_request")
    assert "code" in response.json()["error_description"]


def test_grant_not_enabled_for_the_app_is_unauthorized_client(
    start_emulator: StartEmulator,
) -> None:
    app = AppConfig("code-only", "s", flows=frozenset({"authorization_code"}))
    r = start(start_emulator, apps=(app,))
    response = r.client.post(
        _cc.TOKEN_PATH,
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=("code-only", "s"),
    )
    assert_oauth_error(response, "unauthorized_client")
    # And its code exchange gives no refresh token: it may not use one.
    code = get_code(r, client_id="code-only")
    body = exchange(r, code, auth=("code-only", "s")).json()
    assert "refresh_token" not in body


def test_token_endpoint_allows_one_request_per_second_per_client(
    start_emulator: StartEmulator,
) -> None:
    r = start(start_emulator, token_rate_per_second=1.0)
    code = get_code(r)
    assert exchange(r, code).status_code == 200
    limited = exchange(r, get_code(r))
    assert_oauth_error(limited, "too_many_requests", 429)
    # Per client: another client is not held back.
    other = r.client.post(
        _cc.TOKEN_PATH,
        data={"grant_type": "refresh_token", "refresh_token": "nope"},
        auth=(LONG_LIVED_APP.client_id, "long-lived-secret"),
    )
    assert_oauth_error(other, "invalid_grant")
    # The throttled request did no work: its code is still good after a second.
    r.emulator.clock.advance(1.0)
    code = get_code(r)
    assert exchange(r, code).status_code == 200
    counts = r.client.get("/__emulator/counters").json()["token_requests"]
    assert counts["authorization_code"] == {"success": 2, "too_many_requests": 1}


def test_every_token_request_is_counted_by_grant_type_and_outcome(r: Running) -> None:
    code = get_code(r)
    exchange(r, code)
    exchange(r, code)
    exchange(r, "junk", auth=(CLIENT_ID, "bad"))
    r.client.post(_cc.TOKEN_PATH, data={"grant_type": "password"}, auth=(CLIENT_ID, SECRET))
    counts = r.emulator.counters.snapshot()["token_requests"]
    assert counts["authorization_code"] == {
        "success": 1,
        "invalid_grant": 1,
        "invalid_client": 1,
    }
    assert counts["password"] == {"unsupported_grant_type": 1}


def test_key_rotation_keeps_old_tokens_verifiable(r: Running) -> None:
    old = tokens(r)["access_token"]
    new_kid = r.client.post("/__emulator/keys/rotate", json={}).json()["kid"]
    new = tokens(r)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    assert jwt.get_unverified_header(old)["kid"] != new_kid
    assert verify_jwt(r, old)["cid"] == CLIENT_ID
    assert verify_jwt(r, new)["cid"] == CLIENT_ID


def test_grants_list_describes_each_grant(r: Running) -> None:
    body = tokens(r)
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert grant["client_id"] == CLIENT_ID
    assert grant["username"] == ALICE
    assert grant["scopes"] == ["account_read", "contact_data", "offline_access"]
    assert grant["refresh_token_type"] == "rotating"
    assert grant["revoked"] is False
    assert grant["rotations"] == 0
    assert grant["created_at"] == grant["last_used_at"]
    expected = hashlib.sha256(body["refresh_token"].encode()).hexdigest()
    assert grant["refresh_token_sha256"] == expected
    assert SECRET not in str(grant)
