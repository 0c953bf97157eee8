"""ctct.testing as users use it: handles, context managers, and the pytest plugin."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from ctct import _cc
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.testing import EmulatorControlError, EmulatorHandle, inprocess_emulator, start_emulator

SCOPE = "account_read contact_data offline_access"


@pytest.fixture(params=["socket", "inprocess"])
def emu(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    starter = start_emulator if request.param == "socket" else inprocess_emulator
    with starter() as handle:
        yield handle


def device_tokens(emu: EmulatorHandle, http: httpx2.Client) -> dict[str, str]:
    device = http.post(
        emu.device_authorization_url, data={"client_id": emu.client_id, "scope": SCOPE}
    ).json()
    pending = emu.pending()
    assert [d["user_code"] for d in pending["device_codes"]] == [device["user_code"]]
    emu.approve_device(device["user_code"], username="bob@example.com")
    emu.advance_clock(5)
    response = http.post(
        emu.token_url,
        data={
            "grant_type": _cc.DEVICE_CODE_GRANT,
            "client_id": emu.client_id,
            "device_code": device["device_code"],
        },
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def test_handle_knows_the_default_app_and_users(emu: EmulatorHandle) -> None:
    assert emu.client_id == DEFAULT_CLIENT_ID
    assert emu.client_secret == DEFAULT_CLIENT_SECRET
    assert "http://127.0.0.1/callback" in emu.redirect_uris
    assert {"alice@example.com", "bob@example.com"} <= {u["username"] for u in emu.users}
    assert emu.env() == {
        "CTCT_BASE_URL": emu.base_url,
        "CTCT_CLIENT_ID": DEFAULT_CLIENT_ID,
        "CTCT_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }
    assert emu.jwks_url == emu.base_url + _cc.JWKS_PATH
    assert emu.emulator is not None
    with emu.http_client() as http:
        assert http.get(_cc.JWKS_PATH).status_code == 200


def test_device_flow_refresh_counters_and_events(emu: EmulatorHandle) -> None:
    with emu.http_client() as http:
        tokens = device_tokens(emu, http)
        emu.advance_clock(1)
        refreshed = http.post(
            emu.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": emu.client_id,
                "refresh_token": tokens["refresh_token"],
            },
        )
        assert refreshed.status_code == 200
        summary = http.get(
            emu.api_url + "/account/summary",
            headers={"Authorization": "Bearer " + refreshed.json()["access_token"]},
        )
    assert summary.json()["organization_name"] == "Bob's Bikes"
    counters = emu.counters()
    assert counters["token_requests"]["refresh_token"] == {"success": 1}
    assert len(emu.events("refresh")) == 1
    grants = emu.grants()["grants"]
    assert [g["username"] for g in grants] == ["bob@example.com"]
    emu.revoke_grant(grants[0]["grant_id"])
    assert emu.grants()["grants"][0]["revoked"] is True


def test_browser_login_approved_and_denied_through_the_handle(emu: EmulatorHandle) -> None:
    redirect_uri = "http://127.0.0.1/callback"
    query = {
        "client_id": emu.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": SCOPE,
        "state": "s1",
    }
    with emu.http_client() as http:
        assert http.get(emu.authorize_url, params=query).status_code == 200
        (login,) = emu.pending()["authorizations"]
        redirect = emu.approve_authorization(login["request_id"])
        params = parse_qs(urlsplit(redirect).query)
        assert redirect.startswith(redirect_uri)
        assert params["state"] == ["s1"]
        basic = base64.b64encode(f"{emu.client_id}:{emu.client_secret}".encode()).decode()
        exchanged = http.post(
            emu.token_url,
            data={"grant_type": "authorization_code", "code": params["code"][0]},
            params={"redirect_uri": redirect_uri},
            headers={"Authorization": "Basic " + basic},
        )
        assert exchanged.status_code == 200, exchanged.text

        http.get(emu.authorize_url, params={**query, "state": "s2"})
        (second,) = emu.pending()["authorizations"]
        denied = emu.deny_authorization(second["request_id"])
    assert parse_qs(urlsplit(denied).query)["error"] == ["access_denied"]


def test_faults_keys_seed_clock_and_reset(emu: EmulatorHandle) -> None:
    assert emu.inject_fault("api", "503", count=2) == {"token": 0, "api": 2}
    assert emu.pending_faults()["api"] == 2
    emu.clear_faults()
    assert emu.pending_faults() == {"token": 0, "api": 0}

    kid = emu.rotate_keys()
    assert emu.emulator is not None
    assert emu.emulator.keys.active_kid == kid

    seeded = emu.seed(username="alice@example.com", contacts_count=3)
    assert seeded["contacts"] == 3

    before = emu.clock()["offset"]
    now = emu.advance_clock(90)
    assert emu.clock()["offset"] == before + 90
    assert now >= emu.clock()["now"] - 5

    emu.inject_fault("token", "500")
    emu.reset()
    assert emu.pending_faults() == {"token": 0, "api": 0}
    assert emu.config()["lifetimes"]["access_token_ttl"] == 86_400


def test_control_errors_raise_with_the_emulators_reason(emu: EmulatorHandle) -> None:
    with pytest.raises(EmulatorControlError, match="404") as caught:
        emu.approve_device("NOPE-NOPE")
    assert caught.value.status == 404
    with pytest.raises(EmulatorControlError, match="'kind' must be one of"):
        emu.inject_fault("api", "418")
    with pytest.raises(EmulatorControlError, match="between 0"):
        emu.advance_clock(-1)


def test_settings_can_be_changed_by_keyword() -> None:
    with start_emulator(access_token_ttl=60, refresh_token_reuse="grant") as emu:
        config = emu.config()
    assert config["lifetimes"]["access_token_ttl"] == 60
    assert config["switches"]["refresh_token_reuse"] == "grant"


def test_a_handle_can_drive_an_emulator_started_elsewhere() -> None:
    with start_emulator() as started, EmulatorHandle(started.base_url) as remote:
        assert remote.emulator is None
        assert remote.async_transport() is None
        remote.inject_fault("token", "503")
        assert started.pending_faults()["token"] == 1


def test_importing_ctct_testing_does_not_need_pytest() -> None:
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import ctct.testing as t\n"
        "assert not hasattr(t, 'ctct_emulator')\n"
        "with t.inprocess_emulator() as emu: print(emu.client_id)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == DEFAULT_CLIENT_ID


# -- a user's project, enabling the plugin in its conftest ------------------------------

USER_CONFTEST = """
pytest_plugins = ["ctct.testing"]
"""

USER_TESTS = '''
import httpx2
import pytest

from ctct.testing import EmulatorHandle

SCOPE = "account_read contact_data offline_access"


def connect(http, emu: EmulatorHandle) -> str:
    """The user's app: a device-flow login, returning the access token."""
    device = http.post(
        emu.device_authorization_url, data={"client_id": emu.client_id, "scope": SCOPE}
    ).json()
    emu.approve_device(device["user_code"])
    emu.advance_clock(device["interval"])
    tokens = http.post(
        emu.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": emu.client_id,
            "device_code": device["device_code"],
        },
    ).json()
    return tokens["access_token"]


def test_on_a_real_port(ctct_emulator: EmulatorHandle) -> None:
    assert ctct_emulator.base_url.startswith("http://127.0.0.1:")
    with httpx2.Client(base_url=ctct_emulator.base_url) as http:
        token = connect(http, ctct_emulator)
        me = http.get("/v3/account/summary", headers={"Authorization": "Bearer " + token})
    assert me.json()["organization_name"] == "Alice's Bakery"


def test_in_process(ctct_emulator_app: EmulatorHandle) -> None:
    with ctct_emulator_app.http_client() as http:
        token = connect(http, ctct_emulator_app)
        me = http.get("/v3/account/summary", headers={"Authorization": "Bearer " + token})
    assert me.status_code == 200


def test_each_test_gets_a_fresh_emulator(ctct_emulator_app: EmulatorHandle) -> None:
    assert ctct_emulator_app.grants()["grants"] == []


def test_a_dropped_connection_in_process(ctct_emulator_app: EmulatorHandle) -> None:
    ctct_emulator_app.inject_fault("api", "drop")
    with ctct_emulator_app.http_client() as http, pytest.raises(httpx2.RemoteProtocolError):
        http.get("/v3/account/summary")


@pytest.mark.anyio
async def test_async_in_process(ctct_emulator_app: EmulatorHandle) -> None:
    async with ctct_emulator_app.async_http_client() as http:
        jwks = await http.get("/oauth2/aus1lm3ry9mF7x2Ja0h8/v1/keys")
    assert jwks.status_code == 200


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
'''

USER_TESTS_WITH_SETTINGS = """
import pytest

from ctct.emulator import EmulatorConfig
from ctct.testing import EmulatorHandle


@pytest.fixture
def ctct_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(access_token_ttl=60, auto_approve=True)


def test_settings_come_from_the_overridden_fixture(ctct_emulator: EmulatorHandle) -> None:
    config = ctct_emulator.config()
    assert config["lifetimes"]["access_token_ttl"] == 60
    assert config["switches"]["auto_approve"] is True
"""


def test_a_users_project_enables_the_fixtures_with_pytest_plugins(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(USER_CONFTEST, encoding="utf-8")
    (tmp_path / "test_user_app.py").write_text(textwrap.dedent(USER_TESTS), encoding="utf-8")
    (tmp_path / "test_user_settings.py").write_text(USER_TESTS_WITH_SETTINGS, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


# -- the pytest11 entry point -----------------------------------------------------------

USER_TESTS_WITHOUT_CONFTEST = """
from ctct.testing import EmulatorHandle


def test_fixtures_come_from_the_entry_point(ctct_emulator: EmulatorHandle) -> None:
    config = ctct_emulator.config()
    print("strict", config["switches"]["strict"], "split", ctct_emulator.split_hosts)
"""


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=project,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        timeout=120,
    )


def test_the_plugin_is_registered_under_its_module_name() -> None:
    from importlib.metadata import entry_points

    (plugin,) = [e for e in entry_points(group="pytest11") if e.value == "ctct.testing"]
    # Any other name and `pytest_plugins = ["ctct.testing"]` fails: "Plugin already
    # registered under a different name".
    assert plugin.name == "ctct.testing"


def test_a_users_project_without_conftest_gets_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(USER_TESTS_WITHOUT_CONFTEST, encoding="utf-8")
    plain = run_pytest(tmp_path)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "strict False split False" in plain.stdout
    strict = run_pytest(tmp_path, "--ctct-strict", "--ctct-split-hosts")
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "strict True split True" in strict.stdout
    # Without the entry point (autoload off) the fixtures are not there: proof that the
    # run above got them from the entry point, not from some conftest.
    off = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        },
        timeout=120,
    )
    assert off.returncode != 0 and "fixture 'ctct_emulator' not found" in off.stdout


def test_importing_the_plugin_loads_no_emulator() -> None:
    code = (
        "import sys, ctct.testing\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'httpx2', 'ctct.emulator', 'anyio') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
