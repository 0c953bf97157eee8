"""The device flow: device authorization, the /activate page (driven over HTTP here;
the browser test drives it with Chromium), polling errors, and the control API."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from ctct import _cc
from ctct.emulator import AppConfig
from tests.conftest import Running, StartEmulator
from tests.emulator.oauth_support import (
    CLIENT_ID,
    PUBLIC_APP,
    SECRET,
    assert_oauth_error,
    refresh,
    start,
    verify_jwt,
)

SCOPE = "account_read contact_data offline_access"
USER_CODE = re.compile(r"^[B-DF-HJ-NP-TV-Z]{4}-[B-DF-HJ-NP-TV-Z]{4}$")


@pytest.fixture
def r(start_emulator: StartEmulator) -> Running:
    return start(start_emulator)


def device_start(r: Running, client_id: str = CLIENT_ID, scope: str = SCOPE) -> dict[str, Any]:
    response = r.client.post(
        _cc.DEVICE_AUTHORIZE_PATH, data={"client_id": client_id, "scope": scope}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(r: Running, device_code: str, client_id: str = CLIENT_ID) -> httpx2.Response:
    # CC's documented form: every parameter in the query string, no secret.
    return r.client.post(
        _cc.TOKEN_PATH,
        params={
            "client_id": client_id,
            "device_code": device_code,
            "grant_type": _cc.DEVICE_CODE_GRANT,
        },
    )


def control_approve(r: Running, user_code: str, **body: Any) -> httpx2.Response:
    return r.client.post("/__emulator/device/approve", json={"user_code": user_code, **body})


def activate(r: Running, user_code: str, decision: str = "approve", **form: str) -> httpx2.Response:
    data = {
        "user_code": user_code,
        "username": "alice@example.com",
        "password": "alice-password",
        "decision": decision,
        **form,
    }
    return r.client.post("/activate", data=data)


def test_device_authorization_response(r: Running) -> None:
    body = device_start(r)
    assert USER_CODE.match(body["user_code"]), body["user_code"]
    assert body["verification_uri"] == r.base_url + "/activate"
    assert body["verification_uri_complete"] == (
        f"{r.base_url}/activate?user_code={body['user_code']}"
    )
    assert body["expires_in"] == 600 and body["interval"] == 5
    assert len(body["device_code"]) >= 40


def test_device_flow_end_to_end_through_the_activate_page(r: Running) -> None:
    start_body = device_start(r)
    page = r.client.get(start_body["verification_uri_complete"])
    assert page.status_code == 200
    assert f"value='{start_body['user_code']}'" in page.text  # prefilled
    assert_oauth_error(poll(r, start_body["device_code"]), "authorization_pending")
    done = activate(r, start_body["user_code"])
    assert done.status_code == 200 and "Device connected" in done.text
    r.emulator.clock.advance(5)
    response = poll(r, start_body["device_code"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == SCOPE
    claims = verify_jwt(r, body["access_token"])
    assert claims["sub"] == "alice@example.com" and claims["cid"] == CLIENT_ID
    # Device grants refresh without a secret: CC's device flow has none.
    refreshed = refresh(r, body["refresh_token"], auth=None, client_id=CLIENT_ID)
    assert refreshed.status_code == 200, refreshed.text
    # The device code is single use.
    r.emulator.clock.advance(5)
    assert_oauth_error(poll(r, start_body["device_code"]), "invalid_grant")
    (grant,) = r.client.get("/__emulator/grants").json()["grants"]
    assert grant["flow"] == "device_code"


@pytest.mark.parametrize("typed", ["lower", "nodash", "spaced"])
def test_user_code_accepted_without_dash_and_in_any_case(r: Running, typed: str) -> None:
    body = device_start(r)
    code: str = body["user_code"]
    variants = {
        "lower": code.lower(),
        "nodash": code.replace("-", ""),
        "spaced": " " + code.replace("-", " ").lower() + " ",
    }
    assert "Device connected" in activate(r, variants[typed]).text
    assert poll(r, body["device_code"]).status_code == 200


def test_activate_page_explains_bad_codes_and_passwords(r: Running) -> None:
    body = device_start(r)
    unknown = activate(r, "BCDF-GHJK")
    assert unknown.status_code == 200 and "not recognised" in unknown.text
    wrong = activate(r, body["user_code"], password="nope")
    assert "Wrong email or password" in wrong.text
    assert f"value='{body['user_code']}'" in wrong.text
    empty = activate(r, "")
    assert "Enter the code" in empty.text
    assert "Device connected" in activate(r, body["user_code"]).text
    assert "already answered" in activate(r, body["user_code"]).text
    expiring = device_start(r)
    r.emulator.clock.advance(601)
    assert "expired" in activate(r, expiring["user_code"]).text


def test_denied_on_the_page_polls_access_denied(r: Running) -> None:
    body = device_start(r)
    page = activate(r, body["user_code"], decision="deny", username="", password="")
    assert "Access denied" in page.text
    assert_oauth_error(poll(r, body["device_code"]), "access_denied")


def test_polling_too_fast_is_slow_down_and_the_interval_grows(r: Running) -> None:
    body = device_start(r)
    code = body["device_code"]
    assert_oauth_error(poll(r, code), "authorization_pending")
    r.emulator.clock.advance(2)
    slow = poll(r, code)
    assert_oauth_error(slow, "slow_down")
    assert "10 seconds" in slow.json()["error_description"]
    # The interval is now 10 s: 6 s later is still too fast (and grows it to 15 s).
    r.emulator.clock.advance(6)
    assert_oauth_error(poll(r, code), "slow_down")
    r.emulator.clock.advance(15)
    assert_oauth_error(poll(r, code), "authorization_pending")
    (pending,) = r.client.get("/__emulator/pending").json()["device_codes"]
    assert pending["interval"] == 15


def test_device_code_expires(r: Running) -> None:
    body = device_start(r)
    r.emulator.clock.advance(601)
    assert_oauth_error(poll(r, body["device_code"]), "expired_token")
    assert control_approve(r, body["user_code"]).status_code == 404


def test_interval_and_expiry_switches(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, device_poll_interval=1, device_code_ttl=30)
    body = device_start(r)
    assert (body["interval"], body["expires_in"]) == (1, 30)
    assert_oauth_error(poll(r, body["device_code"]), "authorization_pending")
    r.emulator.clock.advance(1)
    assert_oauth_error(poll(r, body["device_code"]), "authorization_pending")
    r.emulator.clock.advance(30)
    assert_oauth_error(poll(r, body["device_code"]), "expired_token")


def test_control_api_lists_and_approves_device_codes(r: Running) -> None:
    body = device_start(r, scope="account_read offline_access")
    (pending,) = r.client.get("/__emulator/pending").json()["device_codes"]
    assert pending["user_code"] == body["user_code"]
    assert pending["client_id"] == CLIENT_ID
    assert pending["scopes"] == ["account_read", "offline_access"]
    assert pending["expires_at"] == pytest.approx(r.emulator.clock.now() + 600, abs=5)
    approved = control_approve(
        r, body["user_code"].lower().replace("-", ""), username="bob@example.com"
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert r.client.get("/__emulator/pending").json()["device_codes"] == []
    tokens = poll(r, body["device_code"]).json()
    assert verify_jwt(r, tokens["access_token"])["sub"] == "bob@example.com"
    assert control_approve(r, body["user_code"]).status_code == 404


def test_control_api_denies_and_validates(r: Running) -> None:
    body = device_start(r)
    assert r.client.post("/__emulator/device/approve", json={}).status_code == 400
    unknown_user = control_approve(r, body["user_code"], username="mallory@example.com")
    assert unknown_user.status_code == 400
    assert control_approve(r, "ZZZZ-ZZZZ").status_code == 404
    denied = control_approve(r, body["user_code"], deny=True)
    assert denied.json()["status"] == "denied"
    assert_oauth_error(poll(r, body["device_code"]), "access_denied")


def test_auto_approve_approves_device_codes_at_once(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, auto_approve=True)
    body = device_start(r)
    response = poll(r, body["device_code"])
    assert response.status_code == 200, response.text
    assert verify_jwt(r, response.json()["access_token"])["sub"] == "alice@example.com"


def test_device_code_of_another_client_is_invalid_grant(r: Running) -> None:
    body = device_start(r)
    control_approve(r, body["user_code"])
    assert_oauth_error(poll(r, body["device_code"], PUBLIC_APP.client_id), "invalid_grant")
    assert poll(r, body["device_code"]).status_code == 200


def test_device_authorize_validates_client_scope_and_flow(start_emulator: StartEmulator) -> None:
    code_only = AppConfig("code-only", "s", flows=frozenset({"authorization_code"}))
    r = start(start_emulator, apps=(code_only, PUBLIC_APP))
    path = _cc.DEVICE_AUTHORIZE_PATH
    assert_oauth_error(
        r.client.post(path, data={"client_id": "nobody", "scope": SCOPE}), "invalid_client", 401
    )
    assert_oauth_error(
        r.client.post(path, data={"client_id": "code-only", "scope": SCOPE}),
        "unauthorized_client",
    )
    assert_oauth_error(
        r.client.post(path, data={"client_id": PUBLIC_APP.client_id, "scope": "everything"}),
        "invalid_scope",
    )
    # Query-string parameters work as well as a body (CC documents both).
    response = r.client.post(path, params={"client_id": PUBLIC_APP.client_id, "scope": SCOPE})
    assert response.status_code == 200


def test_device_authorize_accepts_basic_auth_and_checks_the_secret(r: Running) -> None:
    path = _cc.DEVICE_AUTHORIZE_PATH
    ok = r.client.post(path, data={"scope": SCOPE}, auth=(CLIENT_ID, SECRET))
    assert ok.status_code == 200
    bad = r.client.post(path, data={"scope": SCOPE}, auth=(CLIENT_ID, "wrong"))
    assert_oauth_error(bad, "invalid_client", 401)


def test_device_polls_share_the_token_endpoint_throttle(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, token_rate_per_second=1.0)
    body = device_start(r)
    assert_oauth_error(poll(r, body["device_code"]), "authorization_pending")
    assert_oauth_error(poll(r, body["device_code"]), "too_many_requests", 429)
