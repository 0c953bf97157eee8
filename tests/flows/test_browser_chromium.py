"""A real headless Chromium completes the loopback browser login: the flow "opens" the
authorization URL in it, a person (Playwright) signs in as alice and clicks Approve or
Deny on the emulator's page, and the browser lands on the flow's loopback callback."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ctct.errors import AuthorizationDenied
from ctct.flows import LoginResult
from tests.flows.conftest import CHROMIUM_ARGS, FlowEnv, MakeEnv

pytestmark = pytest.mark.browser


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


class BackgroundLogin:
    """Runs ``Login.browser`` in a thread; its opener hands the URL to the test."""

    def __init__(self, env: FlowEnv) -> None:
        self.urls: queue.Queue[str] = queue.Queue()
        self.outcome: LoginResult | BaseException | None = None
        self._login = env.login()

        def run() -> None:
            try:
                self.outcome = self._login.browser(opener=self._open, timeout=20)
            except BaseException as exc:
                self.outcome = exc
            finally:
                self._login.close()

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def _open(self, url: str) -> bool:
        self.urls.put(url)
        return True

    def url(self) -> str:
        return self.urls.get(timeout=10)

    def result(self) -> LoginResult | BaseException | None:
        self._thread.join(20)
        return self.outcome


@pytest.fixture
def env(make_env: MakeEnv) -> FlowEnv:
    return make_env()


def test_person_approves_in_chromium(env: FlowEnv, page: Any) -> None:
    login = BackgroundLogin(env)
    page.goto(login.url())
    assert page.locator("#app-name").inner_text() == "Emulator app"
    page.fill("#username", "alice@example.com")
    page.fill("#password", "alice-password")
    page.click("#approve")
    page.wait_for_selector("#result")
    assert page.locator("#result").inner_text() == "Connected"
    assert page.url.startswith("http://127.0.0.1:") and "/callback?" in page.url
    result = login.result()
    assert isinstance(result, LoginResult), result
    assert result.flow == "browser" and "offline_access" in result.granted_scopes
    assert env.manager().token() == result.tokens.access_token.reveal()  # type: ignore[union-attr]


def test_person_denies_in_chromium(env: FlowEnv, page: Any) -> None:
    login = BackgroundLogin(env)
    page.goto(login.url())
    page.click("#deny")
    page.wait_for_selector("#result")
    assert page.locator("#result").inner_text() == "Access denied"
    outcome = login.result()
    assert isinstance(outcome, AuthorizationDenied)
    assert env.stored() is None
