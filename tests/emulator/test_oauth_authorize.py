"""The authorize endpoint over real HTTP: the login/consent page, redirect_uri rules,
request validation, PKCE rules, and the control API that answers pending logins."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from ctct import _cc
from ctct.emulator import AppConfig
from tests.conftest import Running, StartEmulator
from tests.emulator.oauth_support import (
    CLIENT_ID,
    DEFAULT_APP,
    PUBLIC_APP,
    REDIRECT,
    approve_via_control,
    authorize_params,
    open_login,
    pkce_pair,
    query_of,
    start,
)


def _get(r: Running, **overrides: str | None) -> tuple[int, str, str | None]:
    response = r.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(**overrides))
    return response.status_code, response.text, response.headers.get("location")


def test_login_page_shows_app_scopes_fields_and_buttons(running: Running) -> None:
    status, html, location = _get(running, scope="account_read campaign_data offline_access")
    assert status == 200 and location is None
    assert DEFAULT_APP.name in html
    for scope in ("account_read", "campaign_data", "offline_access"):
        assert f"data-scope='{scope}'" in html
    assert "data-scope='contact_data'" not in html
    assert "name='username'" in html and "type='password'" in html
    assert "value='approve'" in html and "value='deny'" in html


def test_posting_the_form_approves_with_the_right_password(running: Running) -> None:
    params = authorize_params()
    request_id = open_login(running, **params)
    form = {
        "request_id": request_id,
        "username": "bob@example.com",
        "password": "bob-password",
        "decision": "approve",
    }
    response = running.client.post(_cc.AUTHORIZE_PATH, data=form)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    redirected = query_of(location)
    assert redirected["state"] == params["state"] and len(redirected["code"]) >= 32
    # The code is bob's: the grant made from it names him.
    token = running.client.post(
        _cc.TOKEN_PATH,
        data={"grant_type": "authorization_code", "code": redirected["code"]}
        | {"redirect_uri": REDIRECT},
        auth=(CLIENT_ID, DEFAULT_APP.client_secret or ""),
    )
    assert token.status_code == 200, token.text
    (grant,) = running.client.get("/__emulator/grants").json()["grants"]
    assert grant["username"] == "bob@example.com"
    # The login is answered: the same form cannot be replayed.
    replay = running.client.post(_cc.AUTHORIZE_PATH, data=form)
    assert replay.status_code == 400 and "expired or was already answered" in replay.text


def test_wrong_password_rerenders_the_page_with_an_error(running: Running) -> None:
    request_id = open_login(running)
    form = {
        "request_id": request_id,
        "username": "alice@example.com",
        "password": "not-her-password",
        "decision": "approve",
    }
    response = running.client.post(_cc.AUTHORIZE_PATH, data=form)
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "Wrong email or password" in response.text
    assert "value='alice@example.com'" in response.text
    assert f"value='{request_id}'" in response.text
    # Still pending: a correct second try works.
    form["password"] = "alice-password"
    assert running.client.post(_cc.AUTHORIZE_PATH, data=form).status_code == 303


def test_deny_redirects_with_access_denied_and_state(running: Running) -> None:
    params = authorize_params()
    request_id = open_login(running, **params)
    response = running.client.post(
        _cc.AUTHORIZE_PATH, data={"request_id": request_id, "decision": "deny"}
    )
    assert response.status_code == 303
    redirected = query_of(response.headers["location"])
    assert redirected["error"] == "access_denied"
    assert redirected["state"] == params["state"]
    assert "code" not in redirected


def test_auto_approve_redirects_at_once_as_the_default_user(
    start_emulator: StartEmulator,
) -> None:
    r = start(start_emulator, auto_approve=True, default_username="carol@example.com")
    params = authorize_params()
    response = r.client.get(_cc.AUTHORIZE_PATH, params=params)
    assert response.status_code == 302
    redirected = query_of(response.headers["location"])
    assert redirected["state"] == params["state"]
    token = r.client.post(
        _cc.TOKEN_PATH,
        data={"grant_type": "authorization_code", "code": redirected["code"]}
        | {"redirect_uri": REDIRECT},
        auth=(CLIENT_ID, DEFAULT_APP.client_secret or ""),
    )
    assert token.status_code == 200
    assert r.client.get("/__emulator/grants").json()["grants"][0]["username"] == (
        "carol@example.com"
    )


@pytest.mark.parametrize(
    ("overrides", "title"),
    [
        ({"client_id": "no-such-client"}, "Unknown application"),
        ({"client_id": None}, "Unknown application"),
        ({"redirect_uri": "https://evil.example/callback"}, "Redirect URI not registered"),
        ({"redirect_uri": None}, "Redirect URI not registered"),
        ({"redirect_uri": REDIRECT + "/extra"}, "Redirect URI not registered"),
        ({"redirect_uri": "https://127.0.0.1/callback"}, "Redirect URI not registered"),
        # A bad redirect_uri wins over every other error: still a page, not a redirect.
        (
            {"redirect_uri": "https://evil.example/cb", "response_type": "token"},
            "Redirect URI not registered",
        ),
    ],
)
def test_unknown_client_or_redirect_uri_gets_an_error_page_never_a_redirect(
    running: Running, overrides: dict[str, str | None], title: str
) -> None:
    status, html, location = _get(running, **overrides)
    assert status == 400
    assert location is None
    assert title in html
    assert "<form" not in html


def test_loopback_redirect_matches_any_port_by_default(running: Running) -> None:
    for uri in ("http://127.0.0.1:49152/callback", "http://localhost:1234/callback"):
        request_id = open_login(running, redirect_uri=uri)
        assert approve_via_control(running, request_id).startswith(uri + "?code=")
    # Port freedom only: path, scheme and host must still match a registered URI.
    for uri in ("http://127.0.0.1:49152/other", "http://localhost:1234/callbackx"):
        status, _, location = _get(running, redirect_uri=uri)
        assert (status, location) == (400, None)


def test_ipv6_loopback_redirect_any_port(start_emulator: StartEmulator) -> None:
    app = AppConfig("v6-app", "v6-secret", redirect_uris=("http://[::1]/cb",))
    r = start(start_emulator, apps=(app,))
    request_id = open_login(r, client_id="v6-app", redirect_uri="http://[::1]:8123/cb")
    assert approve_via_control(r, request_id).startswith("http://[::1]:8123/cb?code=")


def test_strict_switch_requires_the_exact_loopback_uri(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, loopback_redirect_any_port=False)
    status, html, location = _get(r, redirect_uri="http://127.0.0.1:49152/callback")
    assert (status, location) == (400, None)
    assert "Redirect URI not registered" in html
    # The registered URIs themselves still match exactly.
    open_login(r, redirect_uri="http://localhost:8000/callback")
    open_login(r, redirect_uri=REDIRECT)


def _redirect_error(r: Running, **overrides: str | None) -> dict[str, str]:
    params = authorize_params(**overrides)
    response = r.client.get(_cc.AUTHORIZE_PATH, params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?")
    redirected = query_of(location)
    assert redirected.get("state") == params.get("state")
    assert "code" not in redirected
    assert redirected["error_description"]
    return redirected


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "account_read contacts_everything"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        # %2B decodes to a literal "+": one unknown scope name, not two known ones.
        ({"scope": "account_read+contact_data"}, "invalid_scope"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_request_errors_redirect_with_error_and_state(
    running: Running, overrides: dict[str, str | None], error: str
) -> None:
    assert _redirect_error(running, **overrides)["error"] == error


def test_plus_in_the_raw_query_is_a_scope_separator(running: Running) -> None:
    params = authorize_params()
    query = urlencode(params)  # urlencode writes spaces as "+", as CC's examples do
    assert "account_read+contact_data" in query
    response = running.client.get(f"{_cc.AUTHORIZE_PATH}?{query}")
    assert response.status_code == 200
    assert "data-scope='contact_data'" in response.text


def test_openid_scope_is_accepted(running: Running) -> None:
    open_login(running, scope="openid account_read")


def test_state_is_optional_and_omitted_when_absent(running: Running) -> None:
    request_id = open_login(running, state=None)
    redirected = query_of(approve_via_control(running, request_id))
    assert "code" in redirected and "state" not in redirected


def test_flow_not_enabled_is_unauthorized_client(start_emulator: StartEmulator) -> None:
    app = AppConfig("device-only", None, flows=frozenset({"device_code", "refresh_token"}))
    r = start(start_emulator, apps=(app,))
    _, challenge = pkce_pair()
    redirected = _redirect_error(
        r, client_id="device-only", code_challenge=challenge, code_challenge_method="S256"
    )
    assert redirected["error"] == "unauthorized_client"


def test_public_client_must_use_pkce_s256(start_emulator: StartEmulator) -> None:
    r = start(start_emulator)
    public = PUBLIC_APP.client_id
    assert _redirect_error(r, client_id=public)["error"] == "invalid_request"
    verifier, challenge = pkce_pair()
    plain = _redirect_error(
        r, client_id=public, code_challenge=verifier[:43], code_challenge_method="plain"
    )
    assert plain["error"] == "invalid_request" and "S256" in plain["error_description"]
    malformed = _redirect_error(
        r, client_id=public, code_challenge="short", code_challenge_method="S256"
    )
    assert malformed["error"] == "invalid_request"
    open_login(r, client_id=public, code_challenge=challenge, code_challenge_method="S256")


def test_pkce_from_confidential_client_accepted_by_default(running: Running) -> None:
    _, challenge = pkce_pair()
    open_login(running, code_challenge=challenge, code_challenge_method="S256")


def test_pkce_from_confidential_client_rejected_when_switched_off(
    start_emulator: StartEmulator,
) -> None:
    r = start(start_emulator, allow_pkce_for_confidential=False)
    _, challenge = pkce_pair()
    redirected = _redirect_error(r, code_challenge=challenge, code_challenge_method="S256")
    assert redirected["error"] == "invalid_request"
    open_login(r)  # without PKCE it is fine


def test_repeated_parameter_is_an_error_page(running: Running) -> None:
    query = urlencode(authorize_params()) + "&client_id=another"
    response = running.client.get(f"{_cc.AUTHORIZE_PATH}?{query}")
    assert response.status_code == 400 and "location" not in response.headers
    assert "more than once" in response.text


def test_redirect_uri_with_its_own_query_keeps_it(start_emulator: StartEmulator) -> None:
    app = AppConfig("q-app", "q-secret", redirect_uris=("https://app.example/cb?tenant=7",))
    r = start(start_emulator, apps=(app,))
    request_id = open_login(r, client_id="q-app", redirect_uri="https://app.example/cb?tenant=7")
    target = approve_via_control(r, request_id)
    assert target.startswith("https://app.example/cb?tenant=7&code=")


def test_control_api_lists_and_answers_pending_logins(running: Running) -> None:
    params = authorize_params(scope="account_read offline_access")
    request_id = open_login(running, **params)
    pending = running.client.get("/__emulator/pending").json()
    (entry,) = pending["authorizations"]
    assert entry["request_id"] == request_id
    assert entry["client_id"] == CLIENT_ID
    assert entry["scopes"] == ["account_read", "offline_access"]
    denied = running.client.post(f"/__emulator/authorizations/{request_id}/deny", json={})
    assert denied.status_code == 200
    assert query_of(denied.json()["redirect_to"]) == {
        "error": "access_denied",
        "error_description": "The resource owner denied the request.",
        "state": params["state"],
    }
    assert running.client.get("/__emulator/pending").json()["authorizations"] == []
    again = running.client.post(f"/__emulator/authorizations/{request_id}/approve", json={})
    assert again.status_code == 404
    assert again.json()["error"] == "unknown_request"


def test_control_api_approve_as_named_user_and_rejects_unknown_user(running: Running) -> None:
    request_id = open_login(running)
    bad = running.client.post(
        f"/__emulator/authorizations/{request_id}/approve", json={"username": "mallory@x.y"}
    )
    assert bad.status_code == 400 and "alice@example.com" in bad.json()["error_description"]
    target = approve_via_control(running, request_id, "bob@example.com")
    assert query_of(target)["code"]


def test_pending_login_expires(start_emulator: StartEmulator) -> None:
    r = start(start_emulator, pending_login_ttl=60)
    request_id = open_login(r)
    r.emulator.clock.advance(61)
    assert r.client.get("/__emulator/pending").json()["authorizations"] == []
    response = r.client.post(
        _cc.AUTHORIZE_PATH,
        data={
            "request_id": request_id,
            "username": "alice@example.com",
            "password": "alice-password",
            "decision": "approve",
        },
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert (
        r.client.post(f"/__emulator/authorizations/{request_id}/approve", json={}).status_code
        == 404
    )


def test_pages_are_not_cached_or_framed(running: Running) -> None:
    response = running.client.get(_cc.AUTHORIZE_PATH, params=authorize_params())
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_page_escapes_values(start_emulator: StartEmulator) -> None:
    app = AppConfig("x-app", "x-secret", name="<script>alert(1)</script>")
    r = start(start_emulator, apps=(app,))
    html = r.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(client_id="x-app")).text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert re.search(r"name='request_id' value='[A-Za-z0-9_-]+'", html)
