"""The authorization code flows without a graphical browser: the loopback callback
driven by an HTTP client standing in for the browser (real sockets both ways), and the
paste flow with URLs approved through the emulator's control API. Bad callbacks (wrong
state, missing code, error=, replayed code) fail cleanly and leave stored tokens alone.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx2
import pytest

from ctct.errors import AuthorizationDenied, ConfigError, FlowError, FlowTimedOut
from ctct.flows import (
    AuthorizationUrlReady,
    DeviceCodeIssued,
    LoginEvent,
    LoginResult,
    WaitingForCallback,
)
from ctct.flows._code import DEFAULT_REDIRECT_URI
from tests.flows.conftest import FlowEnv, MakeEnv

Tamper = Callable[[str], str]


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def approve_redirect(env: FlowEnv, authorization_url: str, *, deny: bool = False) -> str:
    """What a person's browser would be sent to: open the login page, then answer it
    through the control API (approve as alice, or deny)."""
    with httpx2.Client(timeout=10) as browser:
        page = browser.get(authorization_url)
    assert page.status_code == 200, page.text
    request_id = env.control.pending()["authorizations"][-1]["request_id"]
    if deny:
        return env.control.deny_authorization(request_id)
    return env.control.approve_authorization(request_id)


def follow_start(start_url: str) -> str:
    """The authorization URL the flow's loopback start address redirects to (once)."""
    assert start_url.startswith("http://127.0.0.1:") and "?" not in start_url
    with httpx2.Client(timeout=10) as client:
        start = client.get(start_url)
    assert start.status_code == 303, start.text
    return start.headers["location"]


@dataclass
class HttpBrowser:
    """Stands in for the browser the flow opens: a real HTTP client in its own thread
    that opens the authorization URL, gets it approved and follows the redirect to the
    loopback callback (optionally tampered with)."""

    env: FlowEnv
    tamper: Tamper = lambda url: url
    deny: bool = False
    first: str | None = None  # a path to ask the loopback server for before the callback
    started: list[str] = field(default_factory=list)  # what the flow opened
    opened: list[str] = field(default_factory=list)  # the authorization URLs it led to
    redirects: list[str] = field(default_factory=list)
    pages: list[httpx2.Response] = field(default_factory=list)
    thread: threading.Thread | None = None

    def __call__(self, url: str) -> bool:
        self.started.append(url)
        self.thread = threading.Thread(target=self._browse, args=(url,))
        self.thread.start()
        return True

    def _browse(self, start_url: str) -> None:
        url = follow_start(start_url)
        self.opened.append(url)
        redirect = approve_redirect(self.env, url, deny=self.deny)
        self.redirects.append(redirect)
        with httpx2.Client(timeout=10) as client:
            if self.first is not None:
                origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect))
                self.pages.append(client.get(origin + self.first))
            self.pages.append(client.get(self.tamper(redirect)))

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(10)


def device_login(env: FlowEnv) -> LoginResult:
    def approve(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    with env.login(on_event=approve) as login:
        return login.device()


@pytest.fixture
def env(make_env: MakeEnv) -> FlowEnv:
    return make_env(device_poll_interval=1)


# -- loopback -----------------------------------------------------------------------------


def test_loopback_login(mode_env: FlowEnv, capfd: pytest.CaptureFixture[str]) -> None:
    env = mode_env
    browser = HttpBrowser(env, first="/favicon.ico")
    with env.login() as login:
        result = login.browser(opener=browser, timeout=10)
    browser.join()
    assert result.flow == "browser" and result.tokens.refresh_token is not None
    favicon, page = browser.pages
    assert favicon.status_code == 404  # other paths are refused, the flow goes on
    assert page.status_code == 200 and "Connected" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    (url,) = browser.opened
    params = query_of(url)
    # The browser was given our loopback start address, not the authorization URL: a
    # browser's command line is readable by every local user.
    (start,) = browser.started
    assert urlsplit(start).port == urlsplit(params["redirect_uri"]).port
    assert params["state"] not in start and "authorize" not in start
    # Confidential client under CC's profile (pkce "auto"): the secret authenticates the
    # exchange and no PKCE is sent (a strict CC refuses both together); offline_access
    # requested.
    assert "code_challenge" not in params and "code_challenge_method" not in params
    assert "offline_access" in params["scope"].split()
    redirect_uri = params["redirect_uri"]
    assert redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith("/callback")
    ready = env.events_of(AuthorizationUrlReady)[0]
    assert ready.url == url and ready.browser_opened is True and ready.flow == "browser"
    assert env.events_of(WaitingForCallback)[0].redirect_uri == redirect_uri
    # One request answered, then it stopped listening.
    port = urlsplit(redirect_uri).port
    assert port is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # No access log anywhere: the callback URL carries the code.
    code = query_of(browser.redirects[0])["code"]
    out, err = capfd.readouterr()
    assert code not in out + err and "/callback" not in out + err


def test_loopback_uses_the_registered_port(env: FlowEnv) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    browser = HttpBrowser(env)
    with env.login(redirect_uri=f"http://127.0.0.1:{port}/callback") as login:
        login.browser(opener=browser, timeout=10)
    browser.join()
    assert query_of(browser.opened[0])["redirect_uri"] == f"http://127.0.0.1:{port}/callback"


def test_public_client_always_uses_pkce_and_confidential_can_opt_in(make_env: MakeEnv) -> None:
    public = make_env(public=True)
    with public.login(pkce=False) as login:
        assert "code_challenge=" in login.authorization_request().url
    with public.login() as login:  # the profile's "auto": PKCE, as there is no secret
        assert "code_challenge=" in login.authorization_request().url
    confidential = make_env()
    with confidential.login() as login:
        assert "code_challenge" not in login.authorization_request().url
    with confidential.login(pkce="never") as login:
        assert "code_challenge" not in login.authorization_request().url
    # RFC 9700's advice, where the provider accepts it (the lenient emulator does).
    for choice in (True, "always"):
        with confidential.login(pkce=choice) as login:
            browser = HttpBrowser(confidential)
            result = login.browser(opener=browser, timeout=10)
        browser.join()
        params = query_of(browser.opened[0])
        assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
        assert result.tokens.access_token is not None


def check_refused(
    env: FlowEnv,
    browser: HttpBrowser,
    error: type[Exception],
    code: str,
    status: int,
) -> None:
    before = device_login(env)
    record = env.stored()
    with env.login() as login, pytest.raises(error) as caught:
        login.browser(opener=browser, timeout=10)
    browser.join()
    assert getattr(caught.value, "code", None) == code
    (page,) = browser.pages
    assert page.status_code == status
    # The stored grant is untouched, byte for byte.
    assert env.stored().data == record.data
    assert env.manager().tokens().refresh_token == before.tokens.refresh_token  # type: ignore[union-attr]


def test_loopback_wrong_state(env: FlowEnv) -> None:
    browser = HttpBrowser(env, tamper=lambda url: with_query(url, state="forged-state"))
    check_refused(env, browser, FlowError, "state_mismatch", 400)
    assert "does not match" in browser.pages[0].text


def test_loopback_missing_code(env: FlowEnv) -> None:
    browser = HttpBrowser(env, tamper=lambda url: with_query(url, code=None))
    check_refused(env, browser, FlowError, "missing_code", 400)


def test_loopback_missing_state(env: FlowEnv) -> None:
    browser = HttpBrowser(env, tamper=lambda url: with_query(url, state=None))
    check_refused(env, browser, FlowError, "missing_state", 400)


def test_loopback_denied(env: FlowEnv) -> None:
    browser = HttpBrowser(env, deny=True)
    check_refused(env, browser, AuthorizationDenied, "access_denied", 403)
    assert "Access denied" in browser.pages[0].text


def test_the_start_address_works_once_and_a_second_fetch_aborts_the_login(
    env: FlowEnv,
) -> None:
    seen: list[httpx2.Response] = []
    stolen: list[str] = []

    def watched(start_url: str) -> bool:
        # Another local user read the start address off the browser's command line and
        # fetched it first; then the real browser fetches it.
        def race() -> None:
            stolen.append(follow_start(start_url))
            with httpx2.Client(timeout=10) as browser:
                seen.append(browser.get(start_url))

        threading.Thread(target=race).start()
        return True

    with env.login() as login, pytest.raises(FlowError) as caught:
        # safety: src/ctct/flows/_loopback.py: self._aborted = _start_reused()
        login.browser(opener=watched, timeout=10)
    assert caught.value.code == "start_reused"
    assert "opened twice" in str(caught.value) and "nothing was stored" in str(caught.value)
    (second,) = seen
    assert second.status_code == 410 and "opened more than once" in second.text
    assert "location" not in second.headers
    # With the stolen state, a forged callback finds the port closed.
    redirect_uri = query_of(stolen[0])["redirect_uri"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", urlsplit(redirect_uri).port), timeout=2).close()
    assert env.stored() is None


def test_loopback_provider_error(env: FlowEnv) -> None:
    browser = HttpBrowser(env, tamper=lambda url: with_query(url, code=None, error="invalid_scope"))
    check_refused(env, browser, FlowError, "invalid_scope", 400)


def test_loopback_replayed_code(env: FlowEnv) -> None:
    first = HttpBrowser(env)
    with env.login() as login:
        login.browser(opener=first, timeout=10)
    first.join()
    spent_code = query_of(first.redirects[0])["code"]
    # The next login's redirect carries its own state but the spent code.
    replay = HttpBrowser(env, tamper=lambda url: with_query(url, code=spent_code))
    check_refused(env, replay, FlowError, "invalid_grant", 400)
    assert spent_code not in replay.pages[0].text


def test_loopback_timeout(env: FlowEnv) -> None:
    opened: list[str] = []
    with env.login() as login, pytest.raises(FlowTimedOut) as caught:
        login.browser(opener=opened.append, timeout=0.3)
    assert caught.value.code == "timeout"
    port = urlsplit(opened[0]).port  # the start address is on the loopback port
    assert port is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert env.stored() is None


def test_browser_that_does_not_open_is_reported(env: FlowEnv) -> None:
    with env.login() as login, pytest.raises(FlowTimedOut):
        login.browser(opener=lambda url: False, timeout=0.2)
    assert env.events_of(AuthorizationUrlReady)[0].browser_opened is False


def test_loopback_needs_a_loopback_ip_redirect_uri(env: FlowEnv) -> None:
    with env.login(redirect_uri="https://localhost") as login, pytest.raises(ConfigError):
        login.browser(opener=lambda url: True, timeout=1)


@pytest.mark.anyio
async def test_async_loopback_login(mode_env: FlowEnv) -> None:
    env = mode_env
    browser = HttpBrowser(env)
    async with env.login() as login:
        result = await login.abrowser(opener=browser, timeout=10)
    browser.join()
    assert result.flow == "browser" and browser.pages[0].status_code == 200


# -- paste ----------------------------------------------------------------------------------


@dataclass
class Paster:
    """The person on another machine: opens the URL shown, approves, pastes back."""

    env: FlowEnv
    tamper: Tamper = lambda url: url
    deny: bool = False
    prompts: list[str] = field(default_factory=list)

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        url = self.env.events_of(AuthorizationUrlReady)[-1].url
        return self.tamper(approve_redirect(self.env, url, deny=self.deny))


def test_paste_login(mode_env: FlowEnv) -> None:
    env = mode_env
    paster = Paster(env)
    with env.login() as login:
        result = login.paste(paster)
    assert result.flow == "paste" and result.tokens.refresh_token is not None
    ready = env.events_of(AuthorizationUrlReady)[0]
    assert ready.flow == "paste" and ready.browser_opened is None
    assert paster.prompts and "Paste" in paster.prompts[0]
    assert env.manager().token() == result.tokens.access_token.reveal()  # type: ignore[union-attr]


def test_paste_bare_code_and_surrounding_noise(env: FlowEnv) -> None:
    with env.login() as login:
        result = login.paste(Paster(env, tamper=lambda url: f"  {query_of(url)['code']}\n"))
    assert result.tokens.access_token is not None
    with env.login() as login:
        result = login.paste(Paster(env, tamper=lambda url: f"'{url}'"))
    assert result.tokens.access_token is not None


def check_paste_refused(env: FlowEnv, paster: Paster, error: type[Exception], code: str) -> None:
    device_login(env)
    record = env.stored()
    with env.login() as login, pytest.raises(error) as caught:
        login.paste(paster)
    assert getattr(caught.value, "code", None) == code
    assert env.stored().data == record.data


def test_paste_wrong_state(env: FlowEnv) -> None:
    check_paste_refused(
        env,
        Paster(env, tamper=lambda url: with_query(url, state="x" * 43)),
        FlowError,
        "state_mismatch",
    )


def test_paste_url_from_another_login(env: FlowEnv) -> None:
    with env.login() as other:
        stray = approve_redirect(env, other.authorization_request().url)
    check_paste_refused(env, Paster(env, tamper=lambda url: stray), FlowError, "state_mismatch")


def test_paste_url_of_another_flow(env: FlowEnv) -> None:
    check_paste_refused(
        env,
        Paster(env, tamper=lambda url: f"{env.base_url}/activate?user_code=ABCD-EFGH"),
        FlowError,
        "wrong_url",
    )


def test_paste_the_authorization_url_itself(env: FlowEnv) -> None:
    def paste_auth_url(prompt: str) -> str:
        return env.events_of(AuthorizationUrlReady)[-1].url

    with env.login() as login, pytest.raises(FlowError) as caught:
        login.paste(paste_auth_url)
    assert caught.value.code == "wrong_url" and "authorization URL itself" in caught.value.message


def test_paste_missing_code(env: FlowEnv) -> None:
    check_paste_refused(
        env, Paster(env, tamper=lambda url: with_query(url, code=None)), FlowError, "missing_code"
    )


def test_paste_denied(env: FlowEnv) -> None:
    check_paste_refused(env, Paster(env, deny=True), AuthorizationDenied, "access_denied")


def test_paste_garbage_and_nothing(env: FlowEnv) -> None:
    check_paste_refused(env, Paster(env, tamper=lambda url: "not a code!"), FlowError, "bad_paste")
    with env.login() as login, pytest.raises(FlowError) as caught:
        login.paste(lambda prompt: "   ")
    assert caught.value.code == "empty_paste"


def test_paste_replayed_code(env: FlowEnv) -> None:
    spent: list[str] = []

    def keep(url: str) -> str:
        spent.append(url)
        return url

    with env.login() as login:
        login.paste(Paster(env, tamper=keep))
    code = query_of(spent[0])["code"]
    check_paste_refused(
        env, Paster(env, tamper=lambda url: with_query(url, code=code)), FlowError, "invalid_grant"
    )


@pytest.mark.anyio
async def test_async_paste_with_a_coroutine_prompt(env: FlowEnv) -> None:
    paster = Paster(env)

    async def ask(prompt: str) -> str:
        import anyio.to_thread

        pasted: str = await anyio.to_thread.run_sync(paster, prompt)
        return pasted

    async with env.login() as login:
        result = await login.apaste(ask)
    assert result.flow == "paste"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- a strict provider -----------------------------------------------------------------------


def test_a_strict_provider_refuses_what_the_cc_profile_does_not_send(make_env: MakeEnv) -> None:
    """Why the profile's pkce "auto" and a fixed redirect port matter: a strict CC refuses
    PKCE from a confidential client, and a loopback URI on a port it did not register."""
    env = make_env(mode="strict")
    pages: list[httpx2.Response] = []

    def browse(url: str) -> bool:
        def follow() -> None:
            with httpx2.Client(timeout=10, follow_redirects=True) as client:
                pages.append(client.get(url))

        threading.Thread(target=follow, daemon=True).start()
        return True

    with env.login(pkce="always") as login, pytest.raises(FlowError) as caught:
        login.browser(opener=browse, timeout=10)
    assert caught.value.code == "invalid_request" and "PKCE" in str(caught.value)
    # Any free port instead of the registered one: the provider shows an error page and
    # never redirects, so the login can only time out.
    with env.login(redirect_uri=DEFAULT_REDIRECT_URI) as login, pytest.raises(FlowTimedOut):
        login.browser(opener=browse, timeout=1)
    assert pages[-1].status_code == 400 and "Redirect URI not registered" in pages[-1].text
    assert env.stored() is None
