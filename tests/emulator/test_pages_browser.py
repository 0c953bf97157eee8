"""A real headless Chromium completes the emulator's pages as a person would: the
login/consent page (approve, deny, wrong password) redirecting to a loopback server
the test runs, and the device activation page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from ctct import _cc
from ctct.emulator.server import EmulatorServer
from tests.emulator.oauth_support import CLIENT_ID, SECRET, query_of

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class CallbackServer:
    """The application's redirect target: a loopback HTTP server on any free port."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.startswith("/callback"):
                    self.send_error(404)  # e.g. the browser's /favicon.ico
                    return
                outer.received.append(self.path)
                outer.arrived.set()
                body = b"<html><body><h1 id='done'>Back in the app</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines carry authorization codes: never log them

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def query(self) -> dict[str, str]:
        assert self.arrived.wait(10), "the browser never reached the callback"
        (path,) = self.received
        assert path.startswith("/callback?")
        return query_of(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


@pytest.fixture
def callback() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.close()


def _authorize_url(server: EmulatorServer, redirect_uri: str, state: str) -> str:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "account_read contact_data offline_access",
        "state": state,
    }
    return f"{server.base_url}{_cc.AUTHORIZE_PATH}?{urlencode(params)}"


def test_person_logs_in_and_approves(
    live_emulator: EmulatorServer, page: Any, callback: CallbackServer
) -> None:
    page.goto(_authorize_url(live_emulator, callback.redirect_uri, "state-approve"))
    assert page.locator("#app-name").inner_text() == "Emulator app"
    assert page.locator("#scopes li").count() == 3
    # A wrong password first: the page comes back with an error, no redirect.
    page.fill("#username", "alice@example.com")
    page.fill("#password", "wrong")
    page.click("#approve")
    assert "Wrong email or password" in page.locator("#error").inner_text()
    assert not callback.arrived.is_set()
    page.fill("#password", "alice-password")
    page.click("#approve")
    page.wait_for_selector("#done")
    redirected = callback.query()
    assert redirected["state"] == "state-approve"
    # The code the browser delivered works at the token endpoint.
    with httpx2.Client(base_url=live_emulator.base_url) as client:
        response = client.post(
            _cc.TOKEN_PATH,
            data={
                "grant_type": "authorization_code",
                "code": redirected["code"],
                "redirect_uri": callback.redirect_uri,
            },
            auth=(CLIENT_ID, SECRET),
        )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


def test_person_denies(live_emulator: EmulatorServer, page: Any, callback: CallbackServer) -> None:
    page.goto(_authorize_url(live_emulator, callback.redirect_uri, "state-deny"))
    page.click("#deny")  # no credentials needed to say no
    page.wait_for_selector("#done")
    redirected = callback.query()
    assert redirected["error"] == "access_denied"
    assert redirected["state"] == "state-deny"
    assert "code" not in redirected


def test_unregistered_redirect_uri_shows_an_error_page(
    live_emulator: EmulatorServer, page: Any, callback: CallbackServer
) -> None:
    url = _authorize_url(live_emulator, f"http://127.0.0.1:{callback.port}/elsewhere", "s")
    response = page.goto(url)
    assert response.status == 400
    assert page.locator("#result").inner_text() == "Redirect URI not registered"
    assert not callback.arrived.is_set()


def test_person_activates_a_device(live_emulator: EmulatorServer, page: Any) -> None:
    with httpx2.Client(base_url=live_emulator.base_url) as client:
        started = client.post(
            _cc.DEVICE_AUTHORIZE_PATH,
            data={"client_id": CLIENT_ID, "scope": "account_read offline_access"},
        ).json()
        page.goto(started["verification_uri_complete"])
        assert page.input_value("#user_code") == started["user_code"]
        page.fill("#username", "bob@example.com")
        page.fill("#password", "bob-password")
        page.click("#approve")
        assert page.locator("#result").inner_text() == "Device connected"
        response = client.post(
            _cc.TOKEN_PATH,
            params={
                "client_id": CLIENT_ID,
                "device_code": started["device_code"],
                "grant_type": _cc.DEVICE_CODE_GRANT,
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "account_read offline_access" and body["refresh_token"]


def test_person_types_the_code_on_the_bare_activate_page(
    live_emulator: EmulatorServer, page: Any
) -> None:
    with httpx2.Client(base_url=live_emulator.base_url) as client:
        started = client.post(
            _cc.DEVICE_AUTHORIZE_PATH, data={"client_id": CLIENT_ID, "scope": "account_read"}
        ).json()
    page.goto(started["verification_uri"])
    page.fill("#user_code", "ZZZZ-ZZZZ")
    page.fill("#username", "alice@example.com")
    page.fill("#password", "alice-password")
    page.click("#approve")
    assert "not recognised" in page.locator("#error").inner_text()
    page.fill("#user_code", started["user_code"].replace("-", "").lower())
    page.fill("#password", "alice-password")
    page.click("#deny")
    assert page.locator("#result").inner_text() == "Access denied"
