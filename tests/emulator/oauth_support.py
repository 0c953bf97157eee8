"""Helpers shared by the emulator's OAuth tests: apps, PKCE, driving a login through
the real page or the control API, exchanging codes, verifying JWTs with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import jwt

from ctct import _cc
from ctct.emulator import AppConfig, EmulatorConfig
from tests.conftest import Running, StartEmulator

DEFAULT_APP = EmulatorConfig().default_app
CLIENT_ID = DEFAULT_APP.client_id
SECRET = DEFAULT_APP.client_secret or ""
REDIRECT = "http://127.0.0.1/callback"  # registered for every app below
SCOPE = "account_read contact_data offline_access"

PUBLIC_APP = AppConfig(
    "7a1b2c3d-0000-4000-8000-00000000publ", None, name="Public CLI", refresh_token_type="rotating"
)
LONG_LIVED_APP = AppConfig(
    "7a1b2c3d-0000-4000-8000-0000000000ll",
    "long-lived-secret",
    name="Long-lived server",
    refresh_token_type="long-lived",
)
# Characters that must be form-urlencoded before Basic encoding (RFC 6749 2.3.1).
ODD_APP = AppConfig("odd:client id+1", "s3cret:with %+&=", name="Odd credentials")
APPS = (DEFAULT_APP, PUBLIC_APP, LONG_LIVED_APP, ODD_APP)


def start(start_emulator: StartEmulator, **changes: Any) -> Running:
    """An emulator with the test apps and, unless a test sets it, no token throttle."""
    changes.setdefault("apps", APPS)
    changes.setdefault("token_rate_per_second", 1000.0)
    return start_emulator(**changes)


def basic(auth: tuple[str, str] | None) -> Any:
    """httpx2's ``auth=`` for optional Basic credentials (None: send none)."""
    return httpx2.USE_CLIENT_DEFAULT if auth is None else auth


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def authorize_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "st-" + secrets.token_hex(4),
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def open_login(r: Running, **overrides: str | None) -> str:
    """GET the authorize page; return the request_id its form carries."""
    response = r.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(**overrides))
    assert response.status_code == 200, response.text
    match = re.search(r"name='request_id' value='([^']+)'", response.text)
    assert match, "the login page has no request_id"
    return match.group(1)


def approve_via_control(r: Running, request_id: str, username: str | None = None) -> str:
    body = {"username": username} if username else {}
    response = r.client.post(f"/__emulator/authorizations/{request_id}/approve", json=body)
    assert response.status_code == 200, response.text
    target: str = response.json()["redirect_to"]
    return target


def get_code(r: Running, **overrides: str | None) -> str:
    """Authorize (page + control API approval) and return the code."""
    params = authorize_params(**overrides)
    request_id = open_login(r, **params)
    redirected = query_of(approve_via_control(r, request_id))
    assert redirected["state"] == params["state"]
    return redirected["code"]


def exchange(
    r: Running,
    code: str,
    *,
    auth: tuple[str, str] | None = (CLIENT_ID, SECRET),
    redirect_uri: str | None = REDIRECT,
    **extra: str,
) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, **extra}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    return r.client.post(_cc.TOKEN_PATH, data=data, auth=basic(auth))


def tokens(r: Running, scope: str = SCOPE, **overrides: str | None) -> dict[str, Any]:
    """A full code flow with the default app; returns the token response."""
    code = get_code(r, scope=scope, **overrides)
    response = exchange(r, code)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(
    r: Running, refresh_token: str, auth: tuple[str, str] | None = (CLIENT_ID, SECRET), **extra: str
) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return r.client.post(_cc.TOKEN_PATH, data=data, auth=basic(auth))


def assert_oauth_error(response: httpx2.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"]


def verify_jwt(r: Running, token: str, audience: str = _cc.AUDIENCE) -> dict[str, Any]:
    """Verify a token the way an independent client would: JWKS over HTTP + PyJWT.

    Times are checked against the emulator's clock (tests advance it), not the host's.
    """
    jwks = r.client.get(_cc.JWKS_PATH).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(jwk)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=_cc.ISSUER,
        options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat", "sub"]},
    )
    now = r.emulator.clock.now()
    assert claims["iat"] <= now + 1, "token issued in the future"
    assert now < claims["exp"], "token expired"
    return claims
