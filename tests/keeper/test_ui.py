"""The status page without a browser (Starlette's TestClient against the app, the
emulator on a real socket): each guard, every state shown and filtered, connecting,
reconnecting (same account, another account refused, an explicit override), reconnect
links used once, disconnect; and the unix-socket listener."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from ctct.errors import ConfigError
from ctct.keeper.ui_accounts import (
    Identity,
    info_key,
    load_info,
    same_account,
)
from ctct.keeper.ui_connect import make_reconnect_link
from ctct.keeper.ui_serve import load_session_secret, serve_ui
from ctct.stores import AccountState, GrantKey
from ctct.testing import EmulatorHandle, start_emulator
from tests.keeper.ui_support import (
    PASSWORD,
    UiEnv,
    consent,
    csrf_of,
    operator_check,
    path_of,
    ui_env,
    write_secret,
)

PUBLIC = "http://127.0.0.1:7720"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with start_emulator(token_rate_per_second=50) as handle:
        yield handle


@pytest.fixture
def env(emu: EmulatorHandle, tmp_path: Path) -> Iterator[UiEnv]:
    with ui_env(emu, tmp_path, PUBLIC) as built:
        yield built


def client(app: Any, base: str = PUBLIC) -> TestClient:
    return TestClient(app, base_url=base, follow_redirects=False)


def logged_in(env: UiEnv) -> TestClient:
    browser = client(env.app(auth=operator_check()))
    page = browser.get("/login")
    assert page.status_code == 200
    done = browser.post("/login", data={"csrf": csrf_of(page.text), "password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/"
    return browser


def csrf(browser: TestClient) -> str:
    page = browser.get("/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def revoke_at_emulator(env: UiEnv, key: GrantKey) -> None:
    refresh = env.tokens_of(key)[1]
    digest = hashlib.sha256(refresh.encode()).hexdigest()
    (grant,) = [g for g in env.emu.grants()["grants"] if g["refresh_token_sha256"] == digest]
    env.emu.revoke_grant(grant["grant_id"])


# -- the guards ------------------------------------------------------------------------


def test_a_foreign_host_header_is_refused_everywhere(env: UiEnv) -> None:
    # safety: src/ctct/keeper/ui.py: target = _refuse_host
    app = env.app()  # no login at all: the Host check still applies
    for base in ("http://evil.example", "http://127.0.0.1.evil.example:7720"):
        browser = client(app, base)
        for method, path in (("GET", "/"), ("POST", "/login"), ("GET", "/callback?code=x")):
            response = browser.request(method, path)
            assert response.status_code == 421, (base, path)
            assert "allow-list" in response.text
            assert response.headers["x-frame-options"] == "DENY"
    assert client(app).get("/").status_code == 200


def test_security_headers_forbid_script_and_framing(env: UiEnv) -> None:
    response = client(env.app()).get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self';" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in response.text and " style=" not in response.text
    css = client(env.app()).get("/static/keeper.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_an_operator_login_is_required(env: UiEnv) -> None:
    # safety: src/ctct/keeper/ui.py: return self._login_required(request, ctx)
    browser = client(env.app(auth=operator_check()))
    page = browser.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    token = csrf_of(browser.get("/login").text)  # an anonymous session's valid token
    key = env.keys["ok"]
    refused = browser.post("/accounts/pause", data={"csrf": token, "account": key.digest()})
    assert refused.status_code == 401
    state = env.store.load_state(key)
    assert state is not None and state.code == "ok"
    wrong = browser.post("/login", data={"csrf": token, "password": PASSWORD + "x"})
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    assert browser.get("/").status_code == 303


def test_a_session_works_on_every_replica_sharing_the_secret(env: UiEnv) -> None:
    browser = logged_in(env)
    assert browser.get("/").status_code == 200
    other = client(env.app(auth=operator_check()))  # another replica, same secret file
    other.cookies = browser.cookies
    assert other.get("/").status_code == 200
    # A session made where no login is asked is worth nothing where one is.
    open_ui = client(env.app())
    open_ui.get("/")
    strict = client(env.app(auth=operator_check()))
    strict.cookies = open_ui.cookies
    assert strict.get("/").status_code == 303


def test_every_post_needs_the_sessions_csrf_token(env: UiEnv) -> None:
    # safety: src/ctct/keeper/ui.py: return self._csrf_refused(ctx)
    browser = logged_in(env)
    key = env.keys["ok"]
    other = logged_in(env)
    foreign = csrf(other)  # valid, but bound to another session
    for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": foreign}):
        response = browser.post("/accounts/pause", data={"account": key.digest(), **data})
        assert response.status_code == 403, data
        assert "CSRF" in response.text
        state = env.store.load_state(key)
        assert state is not None and state.code == "ok"
    # The login form and connect need it too (no login CSRF, no planted connections).
    stranger = client(env.app(auth=operator_check()))
    assert stranger.post("/login", data={"password": PASSWORD}).status_code == 403
    assert browser.post("/connect", data={"profile": "x", "app": "y"}).status_code == 403
    done = browser.post("/accounts/pause", data={"account": key.digest(), "csrf": csrf(browser)})
    assert done.status_code == 303
    state = env.store.load_state(key)
    assert state is not None and state.code == "paused"


# -- what the page shows ---------------------------------------------------------------


def test_every_account_and_state_shown_filtered_and_no_token(env: UiEnv) -> None:
    browser = logged_in(env)
    page = browser.get("/").text
    for code, key in env.keys.items():
        row = _row(page, key.profile)
        assert f"state-{code}'" in row, code
    assert "connect timeout to the token endpoint" in _row(page, env.keys["at_risk"].profile)
    assert "rejected (inferred)" in _row(page, env.keys["needs_login"].profile)
    assert "Reconnect" in _row(page, env.keys["needs_login"].profile)
    assert "Resume" in _row(page, env.keys["paused"].profile)
    assert "<svg" in page and "capacity" in page
    for token in env.all_tokens():
        assert token not in page
        assert token[:20] not in page
    filtered = browser.get("/?state=needs_login").text
    assert filtered.count("<tr class='account'") == 1
    assert env.keys["needs_login"].profile in filtered
    assert "No accounts." in browser.get("/?state=refreshing").text


def test_overload_is_said_loudly_with_the_numbers(emu: EmulatorHandle, tmp_path: Path) -> None:
    # Six accounts with 24-hour tokens need about 6 refreshes a day; allow about 1.
    with ui_env(emu, tmp_path, PUBLIC, token_rate=1 / 80_000) as env:
        page = client(env.app()).get("/").text
        banner = re.search(r"<section class='notice error' id='overload'>.*?</section>", page)
        assert banner is not None
        assert "6 keep-fresh account(s) shed to keep-alive" in banner.group(0)
        assert "refreshes/day of the 1 the keeper may make" in banner.group(0)
    with ui_env(emu, tmp_path / "fits", PUBLIC) as env:
        assert "OVERLOAD" not in client(env.app()).get("/").text


def _row(page: str, profile: str) -> str:
    match = re.search(rf"<tr class='account' data-profile='{re.escape(profile)}'>.*?</tr>", page)
    assert match is not None, profile
    return match.group(0)


# -- connecting ------------------------------------------------------------------------


def continue_url(response: Any) -> str:
    """Where a started connection sends the browser (a page that moves on by itself)."""
    assert response.status_code == 200, response.text
    match = re.search(r"<a id='continue' href='([^']+)'", response.text)
    assert match is not None, response.text
    return html.unescape(match.group(1))


def _start(browser: TestClient, path: str, **data: str) -> str:
    return continue_url(browser.post(path, data={"csrf": csrf(browser), **data}))


def _app_ref(browser: TestClient) -> str:
    match = re.search(r"name='app' value='([^']+)'", browser.get("/").text)
    assert match is not None
    return match.group(1)


def _connect(env: UiEnv, browser: TestClient, profile: str, user: str) -> Any:
    location = _start(browser, "/connect", profile=profile, app=_app_ref(browser))
    assert location.startswith(env.emu.base_url)
    return browser.get(path_of(consent(env.emu, location, user)))


def test_connect_a_new_account_stores_it_with_its_name_sealed(env: UiEnv) -> None:
    browser = logged_in(env)
    done = _connect(env, browser, "bakery", "alice@example.com")
    assert done.status_code == 200 and "Connected" in done.text, done.text
    assert "Alice&#x27;s Bakery" in done.text
    key = GrantKey("bakery", env.keys["ok"].issuer, env.keys["ok"].client_id)
    assert env.store.load(key) is not None
    state = env.store.load_state(key)
    assert state is not None and state.code == "ok"
    assert key in dict(env.store.due(limit=100))
    info = load_info(env.store, key)
    assert info is not None and info.name == "Alice's Bakery"
    assert info.account_id == "a07e1alice001" and info.platform_user_id
    assert "Alice's Bakery" in _row(browser.get("/").text.replace("&#x27;", "'"), "bakery")
    # Sealed: the name is nowhere in the database file in clear.
    files = [p for p in env.db_path.parent.glob("tokens.db*") if p.is_file()]
    db = b"".join(p.read_bytes() for p in files)
    assert b"Alice's Bakery" not in db and b"a07e1alice001" not in db
    # `ctct auth list` lists grants only, not the bookkeeping record.
    listed = subprocess.run(
        [str(Path(sys.executable).with_name("ctct")), "auth", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(env.db_path.parent),
            "CTCT_STORE": f"sqlite:///{env.db_path}",
            "CTCT_STORE_KEY": env.store_key,
            "CTCT_CLIENT_ID": key.client_id,
            "CTCT_BASE_URL": env.emu.base_url,
        },
    )
    assert listed.returncode == 0, listed.stderr
    grants = json.loads(listed.stdout)["grants"]
    assert [g["issuer"] for g in grants if g["profile"] == "bakery"] == [key.issuer]
    assert all(g["state"] != "unreadable" for g in grants)
    # A second connect under the same profile is refused (Reconnect is for that).
    again = browser.post(
        "/connect", data={"csrf": csrf(browser), "profile": "bakery", "app": _app_ref(browser)}
    )
    assert again.status_code == 409 and "already connected" in again.text


def test_reconnect_same_account_recovers(env: UiEnv) -> None:
    browser = logged_in(env)
    key = env.keys["needs_login"]
    revoke_at_emulator(env, key)
    old = env.tokens_of(key)
    location = _start(browser, "/accounts/reconnect", account=key.digest())
    done = browser.get(path_of(consent(env.emu, location, "alice@example.com")))
    assert done.status_code == 200 and "Reconnected" in done.text, done.text
    state = env.store.load_state(key)
    assert state is not None and (state.code, state.reason) == ("ok", "")
    assert env.tokens_of(key) != old
    assert key in dict(env.store.due(limit=100))
    (recovered,) = env.events("recovered")
    assert recovered["profile"] == key.profile and recovered["previous"] == "needs_login"
    info = load_info(env.store, key)
    assert info is not None and info.name == "Alice's Bakery"


def test_reconnect_as_another_account_is_refused_and_revoked(env: UiEnv) -> None:
    # safety: src/ctct/keeper/ui_connect.py: raise self._mismatch(app, key, tokens, old, new, match)
    browser = logged_in(env)
    key = env.keys["needs_login"]
    before = env.store.load(key)
    grants_before = {g["grant_id"] for g in env.emu.grants()["grants"]}
    location = _start(browser, "/accounts/reconnect", account=key.digest())
    refused = browser.get(path_of(consent(env.emu, location, "bob@example.com")))
    assert refused.status_code == 409 and "refused" in refused.text, refused.text
    assert env.store.load(key) == before  # the dead grant is kept, not overwritten
    state = env.store.load_state(key)
    assert state is not None and state.code == "needs_login"
    assert env.events("recovered") == []
    (bobs,) = [g for g in env.emu.grants()["grants"] if g["grant_id"] not in grants_before]
    assert bobs["username"] == "bob@example.com" and bobs["revoked"]
    # The operator may allow another account, explicitly.
    location = _start(browser, "/accounts/reconnect", account=key.digest(), override="yes")
    done = browser.get(path_of(consent(env.emu, location, "bob@example.com")))
    assert done.status_code == 200 and "allowed a different" in done.text
    info = load_info(env.store, key)
    assert info is not None and info.name == "Bob's Bikes"


def test_reconnect_by_another_user_of_the_same_account_is_accepted(env: UiEnv) -> None:
    browser = logged_in(env)
    _connect(env, browser, "bakery", "alice@example.com")
    key = GrantKey("bakery", env.keys["ok"].issuer, env.keys["ok"].client_id)
    env.store.set_state(key, AccountState("needs_login", "rejected"))
    location = _start(browser, "/accounts/reconnect", account=key.digest())
    done = browser.get(path_of(consent(env.emu, location, "carol@example.com")))
    assert done.status_code == 200 and "different user of the same" in done.text, done.text


def test_identity_rules() -> None:
    alice = Identity("u1", "acct-a")
    assert same_account(alice, Identity("u1", "acct-a")) == "same_user"
    assert same_account(alice, Identity("u3", "acct-a")) == "same_account"
    assert same_account(alice, Identity("u2", "acct-b")) == "different"
    assert same_account(Identity("u1", None), Identity("u1", "acct-a")) == "same_user"
    assert same_account(Identity("u1", None), Identity("u3", "acct-a")) == "different"
    assert same_account(Identity(None, None), Identity("u1", "acct-a")) == "unknown"


def test_reconnect_only_for_accounts_that_need_a_login(env: UiEnv) -> None:
    browser = logged_in(env)
    refused = browser.post(
        "/accounts/reconnect", data={"csrf": csrf(browser), "account": env.keys["ok"].digest()}
    )
    assert refused.status_code == 409 and "does not need a login" in refused.text


# -- reconnect links -------------------------------------------------------------------


def test_a_reconnect_link_works_once_without_an_operator(env: UiEnv) -> None:
    # safety: src/ctct/keeper/ui_connect.py: raise Refused(LINK_USED, code="link_used")
    key = env.keys["needs_login"]
    link = make_reconnect_link(env.store, key, 3600, public_url=PUBLIC)
    assert link.startswith(PUBLIC + "/r/")
    customer = client(env.app(auth=operator_check()))  # never logs in
    landing = customer.get(path_of(link))
    assert landing.status_code == 200 and "works once" in landing.text
    customer.get(path_of(link))  # opening it again (a mail scanner) uses nothing up
    token = csrf_of(landing.text)
    location = continue_url(customer.post(path_of(link), data={"csrf": token}))
    assert location.startswith(env.emu.base_url)
    second = customer.post(path_of(link), data={"csrf": token})
    assert second.status_code == 410 and "works once" in second.text
    done = customer.get(path_of(consent(env.emu, location, "alice@example.com")))
    assert done.status_code == 200 and "Your account is reconnected" in done.text
    assert "Back to the status page" not in done.text
    state = env.store.load_state(key)
    assert state is not None and state.code == "ok"
    assert [e["profile"] for e in env.events("recovered")] == [key.profile]


def test_a_link_never_allows_another_account(env: UiEnv) -> None:
    key = env.keys["needs_login"]
    link = make_reconnect_link(env.store, key, 3600, public_url=PUBLIC)
    customer = client(env.app(auth=operator_check()))
    token = csrf_of(customer.get(path_of(link)).text)
    started = continue_url(customer.post(path_of(link), data={"csrf": token, "override": "yes"}))
    refused = customer.get(path_of(consent(env.emu, started, "bob@example.com")))
    assert refused.status_code == 409
    with pytest.raises(ConfigError):
        make_reconnect_link(
            env.store, GrantKey("nobody", key.issuer, key.client_id), 60, public_url=PUBLIC
        )


# -- disconnect ------------------------------------------------------------------------


def test_disconnect_asks_then_revokes_and_forgets(env: UiEnv) -> None:
    browser = logged_in(env)
    _connect(env, browser, "bakery", "alice@example.com")
    key = GrantKey("bakery", env.keys["ok"].issuer, env.keys["ok"].client_id)
    confirm = browser.get(f"/accounts/disconnect?account={key.digest()}")
    assert confirm.status_code == 200 and "Revoke and forget" in confirm.text
    done = browser.post(
        "/accounts/disconnect", data={"csrf": csrf_of(confirm.text), "account": key.digest()}
    )
    assert done.status_code == 303
    assert env.store.load(key) is None and env.store.load(info_key(key)) is None
    state = env.store.load_state(key)
    assert state is not None and state.code == "disconnected"


# -- serving ---------------------------------------------------------------------------


def test_unix_socket_listener_is_private_and_needs_no_login(env: UiEnv, tmp_path: Path) -> None:
    secret = tmp_path / "ui-secret"
    write_secret(secret)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(load_session_secret(secret)) >= 32
    path = Path("/tmp") / f"ctct-ui-{tmp_path.name[-12:]}.sock"
    server = serve_ui(env.keeper, socket_path=path, session_secret_file=secret, environ={})
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(path))) as http:
            page = http.get("http://localhost/")
            assert page.status_code == 200 and env.keys["ok"].profile in page.text
            foreign = http.get("http://evil.example/")
            assert foreign.status_code == 421
    finally:
        server.stop()
    assert not path.exists()


def test_tcp_listener_needs_an_operator_unless_no_auth(env: UiEnv, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="operator login"):
        serve_ui(env.keeper, listen="127.0.0.1:0", environ={})
    server = serve_ui(
        env.keeper,
        listen="127.0.0.1:0",
        environ={"CTCT_KEEPER_UI_OPERATOR": "a-long-operator-token-123"},
    )
    try:
        with httpx2.Client(base_url=server.address) as http:
            assert http.get("/").status_code == 303
            assert http.get("/", headers={"host": "rebound.example"}).status_code == 421
    finally:
        server.stop()
    server = serve_ui(env.keeper, listen="127.0.0.1:0", no_auth=True, environ={})
    try:
        with httpx2.Client(base_url=server.address) as http:
            assert http.get("/").status_code == 200
    finally:
        server.stop()


def test_connecting_from_another_address_than_the_public_url_is_explained(env: UiEnv) -> None:
    browser = client(env.app(hosts=("localhost",)), "http://localhost:7720")
    page = browser.get("/")
    assert page.status_code == 200
    response = browser.post(
        "/connect", data={"csrf": csrf_of(page.text), "profile": "x", "app": _app_ref(browser)}
    )
    assert response.status_code == 409 and PUBLIC in response.text


def test_two_connections_racing_for_one_profile_keep_the_first(env: UiEnv) -> None:
    browser, other = logged_in(env), logged_in(env)
    ref = _app_ref(browser)
    first = _start(browser, "/connect", profile="bakery", app=ref)
    second = _start(other, "/connect", profile="bakery", app=ref)
    assert browser.get(path_of(consent(env.emu, first, "alice@example.com"))).status_code == 200
    key = GrantKey("bakery", env.keys["ok"].issuer, env.keys["ok"].client_id)
    kept = env.store.load(key)
    grants_before = {g["grant_id"] for g in env.emu.grants()["grants"]}
    late = other.get(path_of(consent(env.emu, second, "bob@example.com")))
    assert late.status_code == 400 and "already connected" in late.text
    assert env.store.load(key) == kept
    (bobs,) = [g for g in env.emu.grants()["grants"] if g["grant_id"] not in grants_before]
    assert bobs["revoked"]
