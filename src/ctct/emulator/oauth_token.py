"""The token endpoint: authorization_code, refresh_token and device_code grants.

Order of work for each request: merge query string and form body, rate-limit by the
client_id it names (1 request/second, before anything else), authenticate the
client, check the app may use the grant, then run the grant. Every answer is counted
in ``emu.counters`` by grant type and outcome.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ctct import _cc
from ctct.emulator import generic, tokens
from ctct.emulator.config import AppConfig, UserConfig
from ctct.emulator.oauth_client import authenticate, client_id_hint, extract_credentials
from ctct.emulator.oauth_common import (
    OAuthError,
    json_response,
    parse_scopes,
    query_and_form,
    sha256_hex,
)

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

# grant_type -> the flow an application must have enabled to use it.
GRANT_FLOWS = {
    "authorization_code": "authorization_code",
    "refresh_token": "refresh_token",
    _cc.DEVICE_CODE_GRANT: "device_code",
}
ID_TOKEN_TTL = 3600
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 4.1


async def token_endpoint(emu: Emulator, request: Request) -> Response:
    grant_type = ""
    try:
        params = await query_and_form(request)
        grant_type = params.get("grant_type", "")
        authorization = request.headers.get("authorization")
        client_id = client_id_hint(authorization, params)
        if client_id is not None and not emu.token_limiter.try_acquire(client_id):
            raise OAuthError(
                "too_many_requests",
                "Too many token requests for this client: at most 1 per second. "
                "Refresh only when the access token is about to expire.",
                status=429,
            )
        body = _run_grant(emu, grant_type, params, authorization)
    except OAuthError as exc:
        emu.counters.token_request(grant_type, exc.error)
        return exc.response()
    emu.counters.token_request(grant_type, "success")
    return json_response(body)


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise OAuthError("invalid_request", f"The '{name}' parameter is required.")
    return value


def _run_grant(
    emu: Emulator, grant_type: str, params: dict[str, str], authorization: str | None
) -> dict[str, Any]:
    creds = extract_credentials(authorization, params)
    # CC's device flow has no client secret, so neither do refreshes of its grants.
    allow_none = grant_type == _cc.DEVICE_CODE_GRANT
    if grant_type == "refresh_token" and params.get("refresh_token"):
        grant = emu.grants.grant_of_refresh_token(params["refresh_token"])
        allow_none = (
            grant is not None and grant.flow == "device_code" and grant.client_id == creds.client_id
        )
    app = authenticate(emu, creds, allow_none=allow_none)
    if not grant_type:
        raise OAuthError("invalid_request", "The 'grant_type' parameter is required.")
    flow = GRANT_FLOWS.get(grant_type)
    if flow is None:
        raise OAuthError(
            "unsupported_grant_type",
            f"Unsupported grant_type. Use one of: {', '.join(GRANT_FLOWS)}.",
        )
    if flow not in app.flows:
        raise OAuthError(
            "unauthorized_client",
            f"This application is not enabled for the {flow} grant.",
        )
    if grant_type == "authorization_code":
        return _authorization_code(emu, app, params)
    if grant_type == "refresh_token":
        return _refresh(emu, app, params)
    return _device_code(emu, app, params)


def _user(emu: Emulator, username: str) -> UserConfig:
    user = emu.config.user(username)
    if user is None:
        raise OAuthError("invalid_grant", "The user of this grant no longer exists.")
    return user


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            raise OAuthError(
                "invalid_grant",
                "PKCE verification failed: code_verifier was sent but the authorization "
                "request had no code_challenge.",
            )
        return
    if not verifier:
        raise OAuthError("invalid_grant", "PKCE verification failed: code_verifier is missing.")
    if not VERIFIER.match(verifier):
        raise OAuthError(
            "invalid_grant",
            "PKCE verification failed: code_verifier must be 43-128 characters of "
            "A-Z a-z 0-9 - . _ ~.",
        )
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if not secrets.compare_digest(computed, challenge):
        raise OAuthError("invalid_grant", "PKCE verification failed.")


def _authorization_code(emu: Emulator, app: AppConfig, params: dict[str, str]) -> dict[str, Any]:
    code = emu.grants.requests.redeem_code(app.client_id, _required(params, "code"))
    if params.get("redirect_uri") != code.redirect_uri:
        raise OAuthError(
            "invalid_grant",
            "The 'redirect_uri' does not match the redirection URI used in the "
            "authorization request.",
        )
    _check_pkce(code.code_challenge, params.get("code_verifier"))
    user = _user(emu, code.username)
    return _new_grant(emu, app, user, code.scopes, "authorization_code", code.nonce)


def _device_code(emu: Emulator, app: AppConfig, params: dict[str, str]) -> dict[str, Any]:
    device = emu.grants.devices.poll_device(app.client_id, _required(params, "device_code"))
    user = _user(emu, device.username or "")
    return _new_grant(emu, app, user, device.scopes, "device_code", None)


def _new_grant(
    emu: Emulator,
    app: AppConfig,
    user: UserConfig,
    scopes: tuple[str, ...],
    flow: str,
    nonce: str | None,
) -> dict[str, Any]:
    offline = "offline_access" in scopes and "refresh_token" in app.flows
    grant, refresh_token = emu.grants.create(
        client_id=app.client_id,
        username=user.username,
        scopes=scopes,
        flow="device_code" if flow == "device_code" else "authorization_code",
        with_refresh_token=offline,
    )
    return _token_body(emu, app, user, scopes, grant.grant_id, refresh_token, nonce)


def _refresh(emu: Emulator, app: AppConfig, params: dict[str, str]) -> dict[str, Any]:
    raw = _required(params, "refresh_token")
    requested = parse_scopes(params.get("scope"), required=False)
    if requested:
        # Checked before refreshing, so a bad scope does not use up a rotating token.
        known = emu.grants.grant_of_refresh_token(raw)
        if known is not None and not set(requested) <= set(known.scopes):
            raise OAuthError(
                "invalid_scope",
                "The requested scope exceeds the scope granted: ask only for "
                f"{' '.join(known.scopes)} or fewer.",
            )
    refreshed = emu.grants.refresh(app.client_id, raw)
    grant = refreshed.grant
    user = _user(emu, grant.username)
    scopes = requested or grant.scopes
    body = _token_body(emu, app, user, scopes, grant.grant_id, refreshed.refresh_token, None)
    emu.counters.event(
        "refresh",
        grant_id=grant.grant_id,
        presented_sha256=refreshed.presented_sha256,
        issued_sha256=sha256_hex(refreshed.refresh_token),
        at=emu.clock.now(),
    )
    return body


def _token_body(
    emu: Emulator,
    app: AppConfig,
    user: UserConfig,
    scopes: tuple[str, ...],
    grant_id: str,
    refresh_token: str | None,
    nonce: str | None,
) -> dict[str, Any]:
    minted = tokens.mint_access_token(
        emu, client_id=app.client_id, user=user, scopes=scopes, grant_id=grant_id
    )
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": minted.expires_at - minted.issued_at,
        "access_token": minted.token,
        "scope": " ".join(scopes),
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if "openid" in scopes:
        body["id_token"] = id_token(emu, app.client_id, user, nonce)
    return body


def id_token(emu: Emulator, client_id: str, user: UserConfig, nonce: str | None) -> str:
    """An OpenID Connect ID token, signed like the access tokens.

    ``sub`` is the user's id (as Okta's ID tokens have it), not the login name.
    """
    now = int(emu.clock.now())
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "ID." + secrets.token_urlsafe(24),
        "iss": generic.token_issuer(emu.config),
        "aud": client_id,
        "sub": user.platform_user_id,
        "iat": now,
        "exp": now + ID_TOKEN_TTL,
        "auth_time": now,
        "amr": ["pwd"],
        "preferred_username": user.username,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return emu.keys.sign(claims)
