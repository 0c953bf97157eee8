"""Sans-I/O request builders and the token-response classifier."""

from __future__ import annotations

import base64
import json
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx2
import pytest

from ctct import _cc
from ctct._oauth_requests import (
    MAX_RESPONSE_BYTES,
    ClientCredentials,
    DevicePending,
    check_revoke_response,
    code_exchange_request,
    device_authorization_request,
    device_token_request,
    oauth_error,
    parse_device_authorization_response,
    parse_device_poll_response,
    parse_token_response,
    refresh_request,
    retry_after,
    revoke_request,
)
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.errors import (
    AuthorizationDenied,
    AuthorizationRequired,
    ClientRejected,
    ConfigError,
    FlowTimedOut,
    ProviderError,
    TransientProviderError,
)

CC = Provider.constant_contact()
SECRET = "s3cr:et+with/odd chars=é"
CONFIDENTIAL = ClientCredentials("client-id-1", Secret(SECRET))
PUBLIC = ClientCredentials("client-id-1")
REFRESH = Secret("refresh-token-value-0123456789")
CODE = Secret("authorization-code-value-0123456789")
VERIFIER = Secret("pkce-verifier-value-0123456789-0123456789-abc")
DEVICE_CODE = Secret("device-code-value-0123456789")
T0 = 1_800_000_000.0


def form(request: httpx2.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    parsed = parse_qs(request.read().decode(), strict_parsing=True)
    return {k: v[0] for k, v in parsed.items()}


def basic(request: httpx2.Request) -> tuple[str, str]:
    scheme, _, value = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


def assert_nothing_secret_outside_body(request: httpx2.Request, *secrets: Secret) -> None:
    assert request.url.query == b""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    for secret in secrets:
        assert secret.reveal() not in str(request.url)
        assert secret.reveal() not in json.dumps(headers)
    assert SECRET not in str(request.url)
    assert SECRET not in request.read().decode()


def test_refresh_confidential_uses_basic_with_form_encoded_parts() -> None:
    request = refresh_request(CC, CONFIDENTIAL, REFRESH)
    assert request.method == "POST"
    assert str(request.url) == _cc.AUTHZ_ORIGIN + _cc.TOKEN_PATH
    assert form(request) == {"grant_type": "refresh_token", "refresh_token": REFRESH.reveal()}
    user, password = basic(request)
    # RFC 6749 2.3.1: each part form-urlencoded before base64.
    assert password == "s3cr%3Aet%2Bwith%2Fodd+chars%3D%C3%A9"
    assert unquote_plus(password) == SECRET
    assert user == "client-id-1"
    assert request.headers["accept"] == "application/json"
    assert_nothing_secret_outside_body(request, REFRESH)


def test_refresh_public_client_sends_client_id_in_body() -> None:
    request = refresh_request(CC, PUBLIC, REFRESH, scopes=["contact_data"])
    assert "authorization" not in request.headers
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH.reveal(),
        "client_id": "client-id-1",
        "scope": "contact_data",
    }
    assert_nothing_secret_outside_body(request, REFRESH)


def test_code_exchange_with_pkce_verifier() -> None:
    request = code_exchange_request(
        CC, PUBLIC, CODE, redirect_uri="http://127.0.0.1:8000/callback", code_verifier=VERIFIER
    )
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": CODE.reveal(),
        "redirect_uri": "http://127.0.0.1:8000/callback",
        "code_verifier": VERIFIER.reveal(),
        "client_id": "client-id-1",
    }
    assert_nothing_secret_outside_body(request, CODE, VERIFIER)
    confidential = code_exchange_request(CC, CONFIDENTIAL, CODE, redirect_uri="https://localhost")
    assert "code_verifier" not in form(confidential)
    assert "client_id" not in form(confidential)
    assert basic(confidential)[0] == "client-id-1"


def test_device_requests() -> None:
    start = device_authorization_request(CC, PUBLIC, ["contact_data", "offline_access"])
    assert str(start.url).endswith(_cc.DEVICE_AUTHORIZE_PATH)
    assert form(start) == {"scope": "contact_data offline_access", "client_id": "client-id-1"}
    poll = device_token_request(CC, PUBLIC, DEVICE_CODE)
    assert form(poll) == {
        "grant_type": _cc.DEVICE_CODE_GRANT,
        "device_code": DEVICE_CODE.reveal(),
        "client_id": "client-id-1",
    }
    assert_nothing_secret_outside_body(poll, DEVICE_CODE)


def test_revoke_request() -> None:
    request = revoke_request(CC, CONFIDENTIAL, REFRESH, token_type_hint="refresh_token")
    assert str(request.url).endswith(_cc.REVOKE_PATH)
    assert form(request) == {"token": REFRESH.reveal(), "token_type_hint": "refresh_token"}
    assert_nothing_secret_outside_body(request, REFRESH)


def test_missing_endpoints_are_config_errors() -> None:
    bare = Provider(issuer="https://id.example", token_endpoint="https://id.example/token")
    with pytest.raises(ConfigError, match="device"):
        device_authorization_request(bare, PUBLIC, ["x"])
    with pytest.raises(ConfigError, match="revocation"):
        revoke_request(bare, PUBLIC, REFRESH)


def test_request_reprs_hide_secrets() -> None:
    assert SECRET not in repr(CONFIDENTIAL)
    assert "client-id-1" in repr(CONFIDENTIAL)


# -- classifier -----------------------------------------------------------------------


def reply(
    status: int,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    **named: str,
) -> httpx2.Response:
    headers = {**(headers or {}), **named}
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx2.Response(
        status,
        content=content,
        headers={"content-type": "application/json", **headers},
        request=httpx2.Request("POST", CC.token_endpoint),
    )


def parse(response: httpx2.Response, **kwargs: Any) -> TokenSet:
    return parse_token_response(
        response, provider=CC, client_id="client-id-1", received_at=T0, **kwargs
    )


GOOD: dict[str, Any] = {
    "access_token": "access-token-value-0123456789",
    "token_type": "Bearer",
    "expires_in": 86_400,
    "refresh_token": "new-refresh-value-0123456789",
    "scope": "contact_data offline_access",
}


def test_success_gives_token_set_keyed_by_storage_issuer() -> None:
    tokens = parse(reply(200, GOOD, date=formatdate(T0, usegmt=True)))
    assert tokens.access_token == Secret(GOOD["access_token"])
    assert tokens.issuer == CC.storage_issuer
    assert tokens.client_id == "client-id-1"
    assert tokens.expires_at == T0 + 86_400
    assert tokens.scopes == {"contact_data", "offline_access"}
    emulator = Provider.constant_contact("http://127.0.0.1:9")
    other = parse_token_response(reply(200, GOOD), provider=emulator, client_id="c", received_at=T0)
    assert other.issuer == emulator.storage_issuer != tokens.issuer


def test_invalid_grant_means_authorize_again() -> None:
    with pytest.raises(AuthorizationRequired) as info:
        parse(
            reply(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The refresh token is invalid or expired.",
                },
            )
        )
    assert type(info.value) is AuthorizationRequired
    assert info.value.code == "invalid_grant"
    assert "ctct auth login" in info.value.message
    assert "The refresh token is invalid or expired." in info.value.message


def test_invalid_client_is_client_rejected_and_keeps_refresh_token() -> None:
    with pytest.raises(ClientRejected) as info:
        parse(
            reply(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed."},
            )
        )
    message = info.value.message
    assert info.value.code == "invalid_client"
    assert info.value.exit_code == 5
    assert "credentials" in message
    assert "regenerated" in message
    assert "refresh token was kept" in message


@pytest.mark.parametrize(
    "response",
    [
        reply(429, {"error_key": "throttled", "error_message": "Too Many Requests"}),
        reply(500, {"error": "server_error"}),
        reply(503, raw=b"<html>down</html>"),
        reply(200, raw=b"<html>not json</html>"),
        reply(200, raw=b'["a list"]'),
        reply(200, {"token_type": "Bearer"}),
        reply(400, raw=b"\xff\xfe garbled"),
        reply(200, raw=b" " * (MAX_RESPONSE_BYTES + 1)),
        reply(400, {"error": "temporarily_unavailable"}),
    ],
)
def test_transient_failures(response: httpx2.Response) -> None:
    with pytest.raises(TransientProviderError) as info:
        parse(response)
    assert info.value.retryable


def test_rate_limit_code_and_retry_after() -> None:
    error = oauth_error(reply(429, {}, headers={"retry-after": "7"}))
    assert isinstance(error, TransientProviderError)
    assert error.code == "rate_limited"
    assert retry_after(reply(429, {}, headers={"retry-after": "7"})) == 7.0
    dated = reply(
        429,
        {},
        headers={
            "retry-after": formatdate(T0 + 30, usegmt=True),
            "date": formatdate(T0, usegmt=True),
        },
    )
    assert retry_after(dated) == 30.0
    assert retry_after(reply(429, {})) is None


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (reply(400, {"error": "invalid_request"}), "invalid_request"),
        (reply(400, {"error": "unsupported_grant_type"}), "unsupported_grant_type"),
        (reply(403, {"error": "unauthorized_client"}), "unauthorized_client"),
        (reply(404, raw=b"<h1>Not Found</h1>"), "http_404"),
        (reply(302, raw=b"", location="https://elsewhere.example/token"), "redirect"),
    ],
)
def test_other_errors_are_provider_errors(response: httpx2.Response, code: str) -> None:
    with pytest.raises(ProviderError) as info:
        parse(response)
    assert type(info.value) is ProviderError
    assert info.value.code == code
    assert not info.value.retryable


def test_device_poll_outcomes() -> None:
    def poll(response: httpx2.Response) -> TokenSet | DevicePending:
        return parse_device_poll_response(
            response, provider=CC, client_id="client-id-1", received_at=T0
        )

    assert poll(reply(400, {"error": "authorization_pending"})) == DevicePending(slow_down=False)
    slow = poll(reply(400, {"error": "slow_down"}))
    assert slow == DevicePending(slow_down=True)
    assert isinstance(slow, DevicePending)
    assert slow.code == "slow_down"
    with pytest.raises(FlowTimedOut) as timed_out:
        poll(reply(400, {"error": "expired_token"}))
    assert timed_out.value.code == "expired_token"
    with pytest.raises(AuthorizationDenied) as denied:
        poll(reply(400, {"error": "access_denied"}))
    assert denied.value.code == "access_denied"
    assert isinstance(poll(reply(200, GOOD)), TokenSet)
    # Outside a device poll, pending codes are still distinguishable by code.
    with pytest.raises(ProviderError) as pending:
        parse(reply(400, {"error": "authorization_pending"}))
    assert pending.value.code == "authorization_pending"


def test_device_authorization_response() -> None:
    body = {
        "device_code": DEVICE_CODE.reveal(),
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://authz.constantcontact.com/activate",
        "verification_uri_complete": "https://authz.constantcontact.com/activate?user_code=ABCD-EFGH",
        "expires_in": 600,
        "interval": 5,
    }
    auth = parse_device_authorization_response(reply(200, body), received_at=T0)
    assert auth.device_code == DEVICE_CODE
    assert auth.expires_at == T0 + 600
    assert auth.interval == 5
    assert DEVICE_CODE.reveal() not in repr(auth)
    assert "ABCD-EFGH" in repr(auth)
    with pytest.raises(TransientProviderError):
        parse_device_authorization_response(reply(200, {"user_code": "x"}), received_at=T0)


def test_revoke_response() -> None:
    check_revoke_response(reply(200, raw=b""))
    with pytest.raises(ClientRejected):
        check_revoke_response(reply(401, {"error": "invalid_client"}))


def test_error_messages_mask_echoed_tokens() -> None:
    leaked = "refresh-token-value-0123456789"
    request_id = "0b7a3c6e-5d4f-4e21-9a8b-7c6d5e4f3a2b"
    response = reply(
        400,
        {
            "error": "invalid_grant",
            "error_description": f"Token {leaked} is revoked (request {request_id}) " + "x " * 200,
        },
    )
    error = oauth_error(response, held=[Secret(leaked)])
    assert leaked not in error.message
    assert "**********" in error.message
    assert request_id in error.message  # what we do not hold stays readable
    assert len(error.message) < 600
