"""Pure pieces of the flows: choosing a flow from the environment, the QR code text,
requested scopes, the scope-difference report, the web login's cookie signing and
redirect allow-list, and ``Login.from_settings`` against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import segno

from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._settings import Settings
from ctct._tokens import TokenSet
from ctct.errors import ConfigError, FlowError
from ctct.flows import (
    BrowserEnvironment,
    DeviceCodeIssued,
    Login,
    LoginCompleted,
    LoginEvent,
    ScopesDiffer,
    choose_flow,
    qr_text,
    requested_scopes,
)
from ctct.flows._code import code_from_query
from ctct.flows._common import FlowContext, finish, sanitize
from ctct.flows._run import Emit, Save
from ctct.flows._web_state import CookieSigner, RedirectAllowList, cookie_value
from tests.flows.conftest import MakeEnv

# -- choose_flow ----------------------------------------------------------------------------

DESKTOP = {"DISPLAY": ":0", "HOME": "/home/me"}


@pytest.mark.parametrize(
    ("environment", "flow", "reason"),
    [
        (BrowserEnvironment(DESKTOP, "linux"), "browser", "browser"),
        (BrowserEnvironment({"WAYLAND_DISPLAY": "wayland-0"}, "linux"), "browser", "browser"),
        (BrowserEnvironment({}, "linux"), "device", "DISPLAY"),
        (BrowserEnvironment({}, "darwin"), "browser", "browser"),
        (BrowserEnvironment({}, "win32"), "browser", "browser"),
        (BrowserEnvironment({**DESKTOP, "SSH_CONNECTION": "1 2 3 4"}, "linux"), "device", "SSH"),
        (BrowserEnvironment({"SSH_TTY": "/dev/pts/1"}, "darwin"), "device", "SSH"),
        (BrowserEnvironment({**DESKTOP, "CI": "true"}, "linux"), "device", "CI"),
        (BrowserEnvironment({**DESKTOP, "CI": "false"}, "linux"), "browser", "browser"),
        (BrowserEnvironment({"GITHUB_ACTIONS": "true"}, "darwin"), "device", "CI"),
        (BrowserEnvironment(DESKTOP, "linux", dockerenv=True), "device", "container"),
        (BrowserEnvironment({**DESKTOP, "container": "podman"}, "linux"), "device", "container"),
        (
            BrowserEnvironment(DESKTOP, "linux", cgroup="0::/kubepods/besteffort/pod1/abc"),
            "device",
            "container",
        ),
        (BrowserEnvironment(DESKTOP, "linux", cgroup="0::/init.scope\n"), "browser", "browser"),
    ],
)
def test_choose_flow(environment: BrowserEnvironment, flow: str, reason: str) -> None:
    choice = choose_flow(environment)
    assert choice.flow == flow
    assert reason in choice.reason


def test_choose_flow_reads_this_process_by_default() -> None:
    assert choose_flow().flow in ("device", "browser")


# -- qr_text --------------------------------------------------------------------------------

# In the text, a light module is a full block: the quiet zone reads as a light frame.
_CELLS = {"█": (0, 0), " ": (1, 1), "▀": (0, 1), "▄": (1, 0)}


def test_qr_text_draws_exactly_the_qr_matrix() -> None:
    url = "http://127.0.0.1:7717/activate?user_code=ABCD-EFGH"
    text = qr_text(url, border=2)
    lines = text.rstrip("\n").split("\n")
    expected = segno.make(url, error="l", micro=False)
    size = len(expected.matrix) + 4
    drawn: list[list[int]] = [[], []]
    rows: list[list[int]] = []
    for line in lines:
        drawn = [[], []]
        for char in line:
            top, bottom = _CELLS[char]
            drawn[0].append(top)
            drawn[1].append(bottom)
        rows.extend(drawn)
    rows = rows[:size]
    assert all(len(row) == size for row in rows)
    dark = [[int(bool(v)) for v in row] for row in expected.matrix]
    inner = [row[2:-2] for row in rows[2:-2]]
    assert inner == dark
    assert all(v == 0 for v in rows[0] + rows[1] + rows[-1])  # light quiet zone


# -- scopes ---------------------------------------------------------------------------------


def test_requested_scopes_always_include_offline_access() -> None:
    defaults = ("account_read", "contact_data")
    assert requested_scopes(None, defaults, "offline_access") == (*defaults, "offline_access")
    assert requested_scopes(["contact_data"], defaults, "offline_access") == (
        "contact_data",
        "offline_access",
    )
    assert requested_scopes(["offline_access", "a", "a"], (), "offline_access") == (
        "offline_access",
        "a",
    )
    assert requested_scopes(["a"], (), None) == ("a",)


def test_finish_reports_scopes_that_differ() -> None:
    provider = Provider.constant_contact("http://127.0.0.1:9")
    ctx = FlowContext(
        provider=provider,
        client=ClientCredentials("app"),
        profile="p",
        scopes=("account_read", "contact_data", "offline_access"),
        clock=lambda: 100.0,
        verify=False,
    )
    tokens = TokenSet(
        issuer=provider.storage_issuer,
        client_id="app",
        access_token=Secret("opaque-access"),
        refresh_token=Secret("opaque-refresh"),
        expires_at=200.0,
        received_at=100.0,
        obtained_at=100.0,
        scopes=frozenset({"account_read", "offline_access", "campaign_data"}),
    )
    flow = finish(ctx, tokens, "device")
    assert next(flow) == Save(tokens)
    differ = flow.send(None)
    assert isinstance(differ, Emit) and isinstance(differ.event, ScopesDiffer)
    assert differ.event.missing == {"contact_data"} and differ.event.extra == {"campaign_data"}
    assert "not granted: contact_data" in differ.event.message
    completed = flow.send(None)
    assert isinstance(completed, Emit) and isinstance(completed.event, LoginCompleted)
    with pytest.raises(StopIteration) as stop:
        flow.send(None)
    result = stop.value.value
    assert result.scopes_differ and result.scope_difference == differ.event
    assert "opaque" not in repr(result)


# -- callback checks and messages --------------------------------------------------------------


def test_repeated_parameters_are_refused() -> None:
    with pytest.raises(FlowError) as caught:
        code_from_query("code=a&code=b&state=s", "s")
    assert caught.value.code == "invalid_callback"


def test_provider_text_is_masked_in_messages() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.payload-part-that-is-long"
    assert token not in sanitize(f"bad token {token}")
    with pytest.raises(FlowError) as caught:
        code_from_query(f"state=s&error=server_error&error_description=echo+{token}", "s")
    assert token not in caught.value.message and "server_error" in caught.value.message


# -- web login state -----------------------------------------------------------------------


def test_cookie_signing() -> None:
    signer = CookieSigner("k" * 32)
    value = signer.sign("login-1")
    assert signer.verify(value) == "login-1"
    for forged in ("login-1", "login-2." + value.split(".")[1], value + "x", ".abc"):
        with pytest.raises(FlowError):
            signer.verify(forged)
    with pytest.raises(FlowError):
        CookieSigner("other-key-" * 4).verify(value)
    with pytest.raises(ConfigError):
        CookieSigner("short")


def test_redirect_allow_list() -> None:
    targets = RedirectAllowList(["/settings", "https://app.example.com/done"], "/")
    assert targets.choose(None) == "/"
    assert targets.choose("/settings") == "/settings"
    assert targets.choose("https://app.example.com/done") == "https://app.example.com/done"
    for bad in ("https://evil.example/", "//evil.example", "/settings/../x", "/\\evil.example"):
        with pytest.raises(FlowError):
            targets.choose(bad)
    for unsafe in ("//evil.example", "javascript:alert(1)", "settings"):
        with pytest.raises(ConfigError):
            RedirectAllowList([unsafe], "/")


def test_cookie_header_parsing() -> None:
    assert cookie_value("a=1; ctct_login=x.y; b=2", "ctct_login") == "x.y"
    assert cookie_value('ctct_login="q.r"', "ctct_login") == "q.r"
    assert cookie_value("other=1", "ctct_login") is None
    assert cookie_value(None, "ctct_login") is None


# -- from_settings --------------------------------------------------------------------------


def test_login_from_settings(
    make_env: MakeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(device_poll_interval=1)
    monkeypatch.setenv("CTCT_STORE_KEYRING", "0")
    settings = Settings.load(
        env={
            "CTCT_BASE_URL": env.base_url,
            "CTCT_CLIENT_ID": env.client.client_id,
            "CTCT_CLIENT_SECRET": env.client.client_secret.reveal(),  # type: ignore[union-attr]
            "CTCT_STORE": f"sqlite:///{tmp_path}/settings.db",
            "CTCT_SCOPES": "contact_data",
            "CTCT_PROFILE": "from-settings",
        },
        config_path=None,
    )

    def approve(event: LoginEvent) -> None:
        if isinstance(event, DeviceCodeIssued):
            env.control.approve_device(event.user_code)

    with Login.from_settings(settings, on_event=approve) as login:
        assert login.profile == "from-settings"
        assert login.scopes == ("contact_data", "offline_access")
        result = login.device()
    assert result.granted_scopes == {"contact_data", "offline_access"}


def test_a_throttled_code_exchange_waits_and_retries() -> None:
    # A 429 is answered before the code is looked at, so the code is still good: wait
    # for Retry-After, take a slot again and resend (the web test under load hit this).
    import httpx2

    from ctct._sansio import Send, Sleep, TakeRate
    from ctct.flows._code import exchange

    provider = Provider.constant_contact("http://127.0.0.1:9")
    ctx = FlowContext(
        provider=provider,
        client=ClientCredentials("app"),
        profile="p",
        scopes=("account_read", "offline_access"),
        clock=lambda: 100.0,
        verify=False,
    )
    flow = exchange(ctx, Secret("the-code"), "http://127.0.0.1/callback", None)
    assert isinstance(next(flow), TakeRate)
    sent = flow.send(0.0)
    assert isinstance(sent, Send)
    throttled = httpx2.Response(429, headers={"retry-after": "2"}, json={}, request=sent.request)
    pause = flow.send(throttled)
    assert pause == Sleep(2.0)
    assert isinstance(flow.send(None), TakeRate)
    again = flow.send(0.0)
    assert isinstance(again, Send) and again.request is sent.request
    ok = httpx2.Response(
        200,
        json={"access_token": "opaque-a", "token_type": "Bearer", "expires_in": 60},
        request=sent.request,
    )
    with pytest.raises(StopIteration) as stop:
        flow.send(ok)
    assert stop.value.value.access_token.reveal() == "opaque-a"
