"""``strict``: each behaviour spec.md leaves unconfirmed, at its strict side, from one
switch (config field, ``ctct emulator --strict``, ``start_emulator(strict=True)``)."""

from __future__ import annotations

import pytest

from ctct import _cc
from ctct.emulator import EmulatorConfig
from ctct.emulator.strict import STRICT
from tests.conftest import Running, StartEmulator
from tests.emulator.oauth_support import (
    CLIENT_ID,
    REDIRECT,
    SECRET,
    assert_oauth_error,
    authorize_params,
    exchange,
    get_code,
    pkce_pair,
    query_of,
    refresh,
    start,
    tokens,
)

# The switches are about the OAuth server, not the transport: in process only.
inprocess = pytest.mark.parametrize("start_emulator", ["inprocess"], indirect=True)


@pytest.fixture
def strict(start_emulator: StartEmulator) -> Running:
    return start(start_emulator, strict=True)


@pytest.fixture
def lenient(start_emulator: StartEmulator) -> Running:
    return start(start_emulator)


def test_strict_sets_every_switch() -> None:
    lenient, strict = EmulatorConfig(), EmulatorConfig(strict=True)
    for name, value in STRICT.items():
        assert getattr(strict, name) == value
        if name != "refresh_token_grace_seconds":  # already 0 by default
            assert getattr(lenient, name) != value, name
    # Strict wins over a lenient value given alongside it, and survives with_changes.
    forced = EmulatorConfig(strict=True, allow_client_secret_post=True)
    assert forced.allow_client_secret_post is False
    assert forced.with_changes(access_token_ttl=60).allow_client_secret_post is False


@inprocess
def test_the_control_api_shows_strict(strict: Running) -> None:
    switches = strict.client.get("/__emulator/config").json()["switches"]
    assert switches["strict"] is True and switches["require_state"] is True
    assert switches["refresh_token_reuse"] == "grant"


@inprocess
def test_state_is_required(strict: Running, lenient: Running) -> None:
    response = strict.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(state=None))
    assert response.status_code == 302
    redirected = query_of(response.headers["location"])
    assert redirected["error"] == "invalid_request" and "state" in redirected["error_description"]
    assert response.headers["location"].startswith(REDIRECT)
    page = lenient.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(state=None))
    assert page.status_code == 200  # the login page


@inprocess
def test_loopback_ports_must_match_exactly(strict: Running, lenient: Running) -> None:
    other_port = "http://127.0.0.1:54321/callback"
    response = strict.client.get(
        _cc.AUTHORIZE_PATH, params=authorize_params(redirect_uri=other_port)
    )
    assert response.status_code == 400 and "Redirect URI not registered" in response.text
    page = lenient.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(redirect_uri=other_port))
    assert page.status_code == 200


@inprocess
def test_client_secret_post_is_refused(strict: Running, lenient: Running) -> None:
    for running, status in ((strict, 401), (lenient, 200)):
        code = get_code(running)
        response = exchange(running, code, auth=None, client_id=CLIENT_ID, client_secret=SECRET)
        if status == 401:
            assert_oauth_error(response, "invalid_client", 401)
            assert "HTTP Basic" in response.json()["error_description"]
        else:
            assert response.status_code == 200, response.text


@inprocess
def test_pkce_from_a_confidential_client_is_refused(strict: Running, lenient: Running) -> None:
    _, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    response = strict.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(**pkce))
    assert response.status_code == 302
    redirected = query_of(response.headers["location"])
    assert redirected["error"] == "invalid_request" and "PKCE" in redirected["error_description"]
    page = lenient.client.get(_cc.AUTHORIZE_PATH, params=authorize_params(**pkce))
    assert page.status_code == 200


@inprocess
def test_reusing_a_rotated_refresh_token_revokes_the_grant(
    strict: Running, lenient: Running
) -> None:
    for running, grant_survives in ((strict, False), (lenient, True)):
        first = tokens(running)["refresh_token"]
        second = refresh(running, first).json()["refresh_token"]
        assert_oauth_error(refresh(running, first), "invalid_grant")  # the reuse
        after = refresh(running, second)
        if grant_survives:
            assert after.status_code == 200, after.text
        else:
            assert_oauth_error(after, "invalid_grant")
            (grant,) = running.client.get("/__emulator/grants").json()["grants"]
            assert grant["revoked"] is True
