"""``ctct auth login --browser``: the CLI hands the authorization URL to ``$BROWSER`` (a
script that writes it to a file), a real headless Chromium completes the emulator's
page, and the answer comes back to the CLI's loopback port. Bad callbacks (wrong state,
no code, an error, a replayed code) are sent by plain HTTP: each ends the login with
its message and exit code, and leaves the stored grant intact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import MODES, TRACEBACK, Cli, Running, login

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class BrowserLogin:
    """A ``ctct auth login --browser`` whose browser is a script recording the URL."""

    def __init__(self, cli: Cli, tmp_path: Path, *args: str) -> None:
        self.url_file = tmp_path / f"url-{time.monotonic_ns()}.txt"
        self._authorization_url: str | None = None
        script = tmp_path / "browser.sh"
        script.write_text('#!/bin/sh\nprintf "%s" "$1" > "$CTCT_TEST_URL_FILE"\n')
        script.chmod(0o755)
        self.running: Running = cli.start(
            "auth",
            "login",
            "--browser",
            "--timeout",
            "60",
            *args,
            BROWSER=str(script),
            CTCT_TEST_URL_FILE=str(self.url_file),
        )

    def url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.url_file.exists() and self.url_file.read_text():
                return self.url_file.read_text()
            if self.running.process.poll() is not None:
                raise AssertionError("".join(self.running.stderr))
            time.sleep(0.05)
        raise AssertionError("the CLI never opened a browser")

    def authorization_url(self) -> str:
        """Where the start address the browser was given redirects (fetched once: a
        second fetch would abort the login)."""
        if self._authorization_url is None:
            start = httpx2.get(self.url(), timeout=30)
            assert start.status_code == 303, start.text
            assert start.headers["cache-control"] == "no-store"
            self._authorization_url = start.headers["location"]
        return self._authorization_url

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.authorization_url()).query).items()}

    def callback(self, **query: str) -> httpx2.Response:
        """Send the browser's redirect to the CLI's loopback port ourselves."""
        redirect = self.params()["redirect_uri"]
        return httpx2.get(f"{redirect}?{urlencode(query)}", timeout=30)

    def finish(self) -> tuple[int, str, str]:
        try:
            return self.running.finish()
        finally:
            self.running.kill()


def approved_redirect(emu: EmulatorHandle, url: str) -> str:
    """Open the authorization URL as a browser would, approve via the control API, and
    return where the emulator redirects (the redirect URI with code and state)."""
    with httpx2.Client() as http:
        page = http.get(url)
    assert page.status_code == 200, page.text
    (pending,) = emu.pending()["authorizations"]
    return emu.approve_authorization(pending["request_id"])


# -- a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _complete_page(chromium: Any, url: str, button: str) -> tuple[str, str]:
    """Open ``url`` (the start address) in Chromium and click ``button`` on the sign-in
    page it leads to; the final page's text and the sign-in page's URL."""
    page = chromium.new_page()
    try:
        page.goto(url)
        authorization_url = str(page.url)
        page.fill("#username", "alice@example.com")
        page.fill("#password", "alice-password")
        page.click(f"#{button}")
        page.wait_for_load_state()
        return str(page.inner_text("body")), authorization_url
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("emulator_mode", MODES)
def test_browser_login_with_chromium_clicking_approve(
    cli: Cli,
    emu: EmulatorHandle,
    tmp_path: Path,
    chromium: Any,
    emulator_mode: str,
    redirect_port: int,
) -> None:
    flow = BrowserLogin(cli, tmp_path)
    # The browser's command line carries only our loopback start address, never the
    # authorization URL's state (or a PKCE challenge): other users can read it.
    assert flow.url().startswith("http://127.0.0.1:") and "?" not in flow.url()
    shown, authorization_url = _complete_page(chromium, flow.url(), "approve")
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
    assert authorization_url.startswith(f"{emu.base_url}/oauth2/default/v1/authorize?")
    assert params["state"] not in flow.url()
    # Under --strict the registered fixed port (CTCT_REDIRECT_PORT), and no PKCE from
    # this confidential app in any mode (the CC profile's pkce "auto").
    if emulator_mode == "strict":
        assert params["redirect_uri"] == f"http://127.0.0.1:{redirect_port}/callback"
    assert "code_challenge" not in params
    code, out, err = flow.finish()
    assert code == 0, err
    assert "ctct is now connected (profile 'default')" in shown  # the loopback page
    assert "Logged in as alice@example.com (profile default, browser)" in out
    assert "Opened your browser to sign in" in err
    (grant,) = cli.grants()
    assert grant["state"] == "fresh"


@pytest.mark.browser
def test_browser_login_with_chromium_clicking_deny(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path, chromium: Any
) -> None:
    flow = BrowserLogin(cli, tmp_path)
    _complete_page(chromium, flow.url(), "deny")
    code, _, err = flow.finish()
    assert code == 6, err
    assert "declined" in err
    assert TRACEBACK not in err
    assert cli.grants() == []


# -- bad callbacks ------------------------------------------------------------------------------


@pytest.fixture
def logged_in(cli: Cli, emu: EmulatorHandle) -> dict[str, Any]:
    """A stored grant that every failing login below must leave exactly as it was."""
    login(cli, emu)
    stored = cli.stored()
    assert stored is not None
    return stored


def test_callback_with_a_wrong_state_is_refused(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path, logged_in: dict[str, Any]
) -> None:
    flow = BrowserLogin(cli, tmp_path)
    flow.callback(code="abcdefgh", state="not-this-login")
    code, _, err = flow.finish()
    assert code == 8, err
    assert "state does not match this login" in err
    assert TRACEBACK not in err
    assert cli.stored() == logged_in


def test_callback_without_a_code_is_refused(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path, logged_in: dict[str, Any]
) -> None:
    flow = BrowserLogin(cli, tmp_path)
    page = flow.callback(state=flow.params()["state"])
    code, _, err = flow.finish()
    assert code == 8, err
    assert "has no authorization code" in err
    assert page.status_code >= 400
    assert cli.stored() == logged_in


def test_callback_with_an_error_is_reported(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path, logged_in: dict[str, Any]
) -> None:
    flow = BrowserLogin(cli, tmp_path)
    flow.callback(state=flow.params()["state"], error="server_error", error_description="boom")
    code, _, err = flow.finish()
    assert code == 8, err
    assert "The provider refused the authorization request (server_error)" in err
    assert cli.stored() == logged_in

    denied = BrowserLogin(cli, tmp_path)
    denied.callback(state=denied.params()["state"], error="access_denied")
    code, _, err = denied.finish()
    assert code == 6, err
    assert "declined" in err
    assert cli.stored() == logged_in


def test_replayed_code_is_refused(cli: Cli, emu: EmulatorHandle, tmp_path: Path) -> None:
    first = BrowserLogin(cli, tmp_path)
    redirect = approved_redirect(emu, first.authorization_url())
    assert redirect.startswith(first.params()["redirect_uri"] + "?")  # the CLI's port
    httpx2.get(redirect, timeout=30)
    code, _out, err = first.finish()
    assert code == 0, err
    stored = cli.stored()
    old_code = parse_qs(urlsplit(redirect).query)["code"][0]

    second = BrowserLogin(cli, tmp_path)
    second.callback(code=old_code, state=second.params()["state"])
    code, _, err = second.finish()
    assert code == 8, err
    assert "refused the authorization code (invalid_grant)" in err
    assert old_code not in err
    assert cli.stored() == stored


def test_browser_that_cannot_open_shows_the_url(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    running = cli.start("auth", "login", "--browser", "--timeout", "1", BROWSER="/bin/false")
    try:
        code, _, err = running.finish()
    finally:
        running.kill()
    assert code == 7, err
    assert "Could not open a browser: open this URL to sign in:" in err
    assert f"{emu.base_url}/oauth2/default/v1/authorize?" in err
    assert "No answer from the browser within 1 s" in err


# -- the start address ----------------------------------------------------------------------


@pytest.mark.browser
def test_a_second_fetch_of_the_start_address_aborts_the_login(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path, chromium: Any, logged_in: dict[str, Any]
) -> None:
    # Someone who read the browser's command line fetches the start address first: they
    # learn the state, but the real browser's fetch (the second) stops the login.
    flow = BrowserLogin(cli, tmp_path)
    stolen = flow.authorization_url()
    page = chromium.new_page()
    try:
        page.goto(flow.url())
        shown = str(page.inner_text("body"))
    finally:
        page.close()
    assert "opened more than once" in shown
    code, _, err = flow.finish()
    # safety: src/ctct/flows/_loopback.py: self._aborted = _start_reused()
    assert code == 8, err
    assert "start address was opened twice" in err and "nothing was stored" in err
    assert TRACEBACK not in err
    # The callback the thief could now forge with the state finds nobody listening.
    state = parse_qs(urlsplit(stolen).query)["state"][0]
    redirect = parse_qs(urlsplit(stolen).query)["redirect_uri"][0]
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"{redirect}?{urlencode({'code': 'theirs', 'state': state})}", timeout=5)
    assert cli.stored() == logged_in
