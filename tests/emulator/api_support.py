"""Helpers for the V3 API tests: tokens minted in-process, seeding through the control
API, and response checks against CC's contract."""

from __future__ import annotations

from typing import Any

import httpx2
import jwt as pyjwt

from ctct import _cc
from ctct.emulator import Emulator
from ctct.emulator.tokens import mint_access_token
from tests.conftest import Running
from tests.contract import validate, validate_error_array, validate_single_error

ALICE = "alice@example.com"  # account_owner of Alice's account
BOB = "bob@example.com"  # account_manager of his own account
CAROL = "carol@example.com"  # campaign_creator on Alice's account

# For tests that are not about limits: CC's 4/s would make them about limits.
FAST = {"api_rate_per_second": 10_000.0}


def mint(
    emu: Emulator,
    username: str = ALICE,
    scopes: tuple[str, ...] = _cc.DEFAULT_SCOPES,
    client_id: str | None = None,
    ttl: int | None = None,
) -> str:
    user = emu.config.user(username)
    assert user is not None, username
    return mint_access_token(
        emu,
        client_id=client_id or emu.config.default_app.client_id,
        user=user,
        scopes=scopes,
        grant_id=None,
        ttl=ttl,
    ).token


def auth(emu: Emulator, username: str = ALICE, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(emu, username, **kwargs)}"}


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims, read without verification (to forge variants of it)."""
    claims: dict[str, Any] = pyjwt.decode(token, options={"verify_signature": False})
    return claims


def seed(running: Running, **body: Any) -> dict[str, Any]:
    response = running.client.post("/__emulator/seed", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def ok(response: httpx2.Response, definition: str, status: int = 200) -> Any:
    """Assert a success response and validate its body against the contract."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    validate(body, definition)
    return body


def error(response: httpx2.Response, status: int, key: str | None = None) -> list[dict[str, str]]:
    """Assert CC's array error body; optionally that some entry has ``key``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    items = validate_error_array(response.json())
    if key is not None:
        assert key in [i["error_key"] for i in items], items
    return items


def unauthorized(response: httpx2.Response) -> None:
    """CC's exact 401: compact single object, Content-Length 59, WWW-Authenticate."""
    assert response.status_code == 401, response.text
    assert response.content == b'{"error_key":"unauthorized","error_message":"Unauthorized"}'
    assert response.headers["content-length"] == "59"
    assert response.headers["www-authenticate"] == "Bearer realm=api.cc.email"
    validate_single_error(response.json())


def too_many(response: httpx2.Response, key: str) -> None:
    assert response.status_code == 429, response.text
    body = validate_single_error(response.json())
    expected = {
        "throttled": {"error_key": "throttled", "error_message": "Too Many Requests"},
        "quota_exceeded": {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"},
    }[key]
    assert body == expected
