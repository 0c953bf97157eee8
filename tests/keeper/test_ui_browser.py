"""The status page in a real browser (Debian's Chromium through Playwright), served by
``serve_ui`` on a loopback port against the emulator: the operator logs in, sees every
state, filters, connects a new account through the emulator's consent page, reconnects
a dead one, is refused a reconnect as another CC account; a customer's reconnect link
works once; a cross-origin POST and a DNS-rebound host name are refused; no token is
ever in the page source."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ctct.keeper.ui_accounts import load_info
from ctct.keeper.ui_connect import make_reconnect_link
from ctct.keeper.ui_serve import UiServer, serve_ui
from ctct.stores import AccountState, GrantKey
from ctct.testing import EmulatorHandle, start_emulator
from tests.flows.conftest import CHROMIUM_ARGS as BROWSER_ARGS
from tests.keeper.test_ui import revoke_at_emulator
from tests.keeper.ui_support import PASSWORD, UiEnv, operator_hash, ui_env, write_secret

pytestmark = pytest.mark.browser

REBOUND = "rebound.example"
# DNS rebinding, simulated: an attacker's name that resolves to the keeper's address.
CHROMIUM_ARGS = [*BROWSER_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with start_emulator(token_rate_per_second=50) as handle:
        yield handle


class Attacker:
    """Another origin's page with a form that posts to the keeper (same site: the
    session cookie IS sent, so only the CSRF token stands in the way)."""

    def __init__(self, target: str, account: str) -> None:
        body = (
            "<html><body>"
            f"<form id='no-token' method='post' action='{target}/accounts/pause'>"
            f"<input type='hidden' name='account' value='{account}'>"
            "<button id='send-no-token'>win a prize</button></form>"
            f"<form id='forged' method='post' action='{target}/accounts/pause'>"
            f"<input type='hidden' name='account' value='{account}'>"
            "<input type='hidden' name='csrf' value='forged-token'>"
            "<button id='send-forged'>win another</button></form></body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serving(env: UiEnv, tmp_path: Path) -> Iterator[UiServer]:
    """As ``ctct keeper run --ui-listen 127.0.0.1:0`` would, with a password hash file."""
    operator = tmp_path / "operator"
    operator.write_text(operator_hash())
    operator.chmod(0o600)
    secret = tmp_path / "ui-secret"
    write_secret(secret)
    server = serve_ui(
        env.keeper, listen="127.0.0.1:0", operator_file=operator, session_secret_file=secret
    )
    try:
        yield server
    finally:
        server.stop()


def _consent(page: Any, username: str, password: str) -> None:
    page.wait_for_selector("#app-name")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#approve")
    page.wait_for_selector("#title")


def _row(page: Any, key: GrantKey) -> Any:
    return page.locator(f"tr[data-profile='{key.profile}']")


def _state(env: UiEnv, key: GrantKey) -> str:
    state = env.store.load_state(key)
    return state.code if state else "ok"


def test_status_page_in_chromium(browser: Any, emu: EmulatorHandle, tmp_path: Path) -> None:
    with ui_env(emu, tmp_path, "http://127.0.0.1") as env, serving(env, tmp_path) as server:
        base = server.address
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(10_000)
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text))

        # The operator logs in.
        page.goto(base + "/")
        assert page.url == base + "/login"
        page.fill("#password", "not the password")
        page.click("#login")
        assert page.locator("#error").inner_text() == "Wrong password."
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_selector("#account-table")

        # Every state, and the stylesheet applied under the CSP.
        for code, key in env.keys.items():
            assert _row(page, key).locator(".state").inner_text() == code
        assert (
            page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(244, 246, 248)"
        )
        assert page.locator("svg.plan rect").count() == 48

        # Filters.
        page.click("#filter-needs_login")
        assert page.locator("tr.account").count() == 1
        assert _row(page, env.keys["needs_login"]).count() == 1
        page.click("#filter-all")
        assert page.locator("tr.account").count() == len(env.keys)

        # Connect a new account through the emulator's consent page.
        page.fill("#connect-profile", "bakery")
        page.click("#connect-button")
        _consent(page, "alice@example.com", "alice-password")
        assert page.locator("#title").inner_text() == "Connected"
        assert "Alice's Bakery" in page.locator("#message").inner_text()
        bakery = GrantKey("bakery", env.keys["ok"].issuer, env.keys["ok"].client_id)
        assert env.store.load(bakery) is not None and _state(env, bakery) == "ok"
        page.click("#back")
        assert _row(page, bakery).locator(".name").inner_text() == "Alice's Bakery"

        # Reconnect a dead one: state ok, "recovered" emitted.
        dead = env.keys["needs_login"]
        revoke_at_emulator(env, dead)
        _row(page, dead).locator("button[value='reconnect']").click()
        _consent(page, "alice@example.com", "alice-password")
        assert page.locator("#title").inner_text() == "Reconnected"
        assert _state(env, dead) == "ok"
        assert [e["profile"] for e in env.events("recovered")] == [dead.profile]

        # A reconnect as another CC account (Bob's) is refused.
        other = env.keys["at_risk"]
        env.store.set_state(other, AccountState("needs_login", "rejected"))
        before = env.store.load(other)
        page.goto(base + "/")
        _row(page, other).locator("button[value='reconnect']").click()
        _consent(page, "bob@example.com", "bob-password")
        assert page.locator("#title").inner_text() == "Reconnect refused"
        assert "not for the same Constant Contact account" in page.locator("#message").inner_text()
        assert env.store.load(other) == before and _state(env, other) == "needs_login"
        assert load_info(env.store, other) is None

        # A cross-origin POST (no token, a forged token) is refused; nothing paused.
        target = env.keys["ok"]
        attacker = Attacker(base, target.digest())
        try:
            for button in ("#send-no-token", "#send-forged"):
                page.goto(attacker.url)
                page.click(button)
                page.wait_for_selector("#title")
                assert page.locator("#title").inner_text() == "Refused"
                assert _state(env, target) == "ok"
        finally:
            attacker.close()

        # A host name that rebinds to the keeper's address is refused.
        port = base.rsplit(":", 1)[1]
        response = page.goto(f"http://{REBOUND}:{port}/")
        assert response is not None and response.status == 421
        assert "allow-list" in page.content()

        # No token in any page source.
        page.goto(base + "/")
        source = page.content()
        for key in [*env.keys.values(), bakery]:
            for token in env.tokens_of(key):
                assert token not in source
        assert [v for v in violations if "Content Security Policy" in v] == []
        context.close()

        # A customer's reconnect link (no operator login) works once.
        link = make_reconnect_link(env.store, other, 3600, public_url=base)
        customer = browser.new_context()
        tab = customer.new_page()
        tab.set_default_timeout(10_000)
        tab.goto(link)
        tab.click("#reconnect-link")
        _consent(tab, "alice@example.com", "alice-password")
        assert tab.locator("#title").inner_text() == "Reconnected"
        assert _state(env, other) == "ok"
        tab.goto(link)
        tab.click("#reconnect-link")
        tab.wait_for_selector("#title")
        assert tab.locator("#title").inner_text() == "Link not usable"
        assert "works once" in tab.locator("#message").inner_text()
        customer.close()
