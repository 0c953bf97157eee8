"""``ctct auth login --device`` end to end: the CLI as a subprocess, the emulator on a
loopback socket, approval through the emulator's control API (the person's stand-in)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import MODES, TRACEBACK, Cli, Proxy, approve_next_device, login


@pytest.mark.parametrize("emulator_mode", MODES)
def test_device_login_shows_code_url_and_qr_then_stores_the_grant(
    cli: Cli, emu: EmulatorHandle, emulator_mode: str
) -> None:
    running = cli.start("auth", "login", "--device", "--scopes", "contact_data")
    try:
        code = approve_next_device(emu, running)
        exit_code, out, err = running.finish()
    finally:
        running.kill()
    assert exit_code == 0, err
    assert f"{emu.base_url}/activate" in err
    assert f"activate?user_code={code}" in err
    assert "▀" not in err and "▄" not in err  # the QR code only on a terminal
    assert "Logged in as alice@example.com (profile default, device flow)" in out
    # offline_access is always requested, even when --scopes leaves it out
    (grant,) = emu.grants()["grants"]
    assert sorted(grant["scopes"]) == ["contact_data", "offline_access"]
    (stored,) = cli.grants()
    assert stored["profile"] == "default"
    assert stored["state"] == "fresh"
    assert stored["refresh_token"] is True
    assert stored["scopes"] == ["contact_data", "offline_access"]


def test_denied_device_login_stops_with_exit_6_and_stores_nothing(
    cli: Cli, emu: EmulatorHandle
) -> None:
    running = cli.start("auth", "login", "--device")
    try:
        approve_next_device(emu, running, deny=True)
        exit_code, _, err = running.finish()
    finally:
        running.kill()
    assert exit_code == 6, err
    assert "Error: The person declined the authorization request (access_denied)." in err
    assert TRACEBACK not in err
    assert cli.grants() == []


@pytest.mark.parametrize("emulator_changes", [{"device_code_ttl": 2, "device_poll_interval": 1}])
def test_expired_device_code_stops_with_exit_7(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "login", "--device")
    assert result.returncode == 7, result.stderr
    assert "expired before the login was" in result.stderr
    assert "start the login again" in result.stderr
    assert TRACEBACK not in result.stderr
    assert cli.grants() == []


@pytest.mark.parametrize("emulator_changes", [{"device_poll_interval": 1}])
def test_timeout_flag_gives_up_with_exit_7(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "login", "--device", "--timeout", "2")
    assert result.returncode == 7, result.stderr
    assert "was not approved within 2 s" in result.stderr
    assert TRACEBACK not in result.stderr


@pytest.mark.parametrize("emulator_changes", [{"device_poll_interval": 1}])
def test_slow_down_makes_the_cli_poll_less_often(cli: Cli, emu: EmulatorHandle) -> None:
    """The first poll reaches the emulator twice (a proxy repeats it), so the emulator
    answers the CLI with slow_down; the CLI then waits 5 s more between polls."""
    repeated: list[bool] = []

    def repeat_first_poll(method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        form = dict(parse_qsl(body.decode()))
        if path.endswith("/v1/token") and "device_code" in form and not repeated:
            repeated.append(True)
            with emu.http_client() as http:
                http.post(path, data=form, headers={"Authorization": _basic(emu)})
                answer = http.post(path, data=form, headers={"Authorization": _basic(emu)})
            return answer.status_code, answer.content
        return None

    proxy = Proxy(emu.base_url, repeat_first_poll)
    running = cli.start("auth", "login", "--device", CTCT_BASE_URL=proxy.base_url)
    try:
        running.wait_for("slow down")
        code = next(d["user_code"] for d in emu.pending()["device_codes"])
        emu.approve_device(code)
        exit_code, out, err = running.finish()
    finally:
        running.kill()
        proxy.close()
    assert exit_code == 0, err
    assert "(the server asked to slow down: checking every 6 s now)" in err
    assert "Logged in as alice@example.com" in out
    polls = [p for p in proxy.seen if p.endswith("/v1/token")]
    assert len(polls) >= 2


def _basic(emu: EmulatorHandle) -> str:
    import base64

    pair = f"{emu.client_id}:{emu.client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def test_second_login_for_a_profile_waits_and_reuses_the_first(
    cli: Cli, emu: EmulatorHandle
) -> None:
    first = cli.start("auth", "login", "--device")
    second = None
    try:
        first.wait_for("enter the code")
        second = cli.start("auth", "login", "--device", "--json")
        second.wait_for("Another login for profile 'default' is in progress; waiting")
        (pending,) = emu.pending()["device_codes"]  # the second started no flow of its own
        emu.approve_device(pending["user_code"])
        code1, _out1, err1 = first.finish()
        code2, out2, err2 = second.finish()
    finally:
        first.kill()
        if second is not None:
            second.kill()
    assert code1 == 0, err1
    assert code2 == 0, err2
    assert "The other login finished and stored a grant." in err2
    result: dict[str, Any] = json.loads(out2)
    assert result["reused"] is True
    assert len(emu.grants()["grants"]) == 1


def test_login_json_reports_the_grant_without_tokens(cli: Cli, emu: EmulatorHandle) -> None:
    running = cli.start("auth", "login", "--device", "--json", "--profile", "work")
    try:
        approve_next_device(emu, running)
        exit_code, out, err = running.finish()
    finally:
        running.kill()
    assert exit_code == 0, err
    result = json.loads(out)
    assert result["profile"] == "work"
    assert result["flow"] == "device"
    assert result["subject"] == "alice@example.com"
    assert "offline_access" in result["granted_scopes"]
    assert result["refresh_token"] is True
    assert "eyJ" not in out


def test_relogin_replaces_the_grant_and_list_shows_profiles(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    login(cli, emu, profile="second")
    profiles = sorted(g["profile"] for g in cli.grants())
    assert profiles == ["default", "second"]
    listing = cli.run("auth", "list")
    assert listing.returncode == 0
    assert "default" in listing.stdout and "second" in listing.stdout
    assert f"Constant Contact via {emu.base_url}" in listing.stdout


@pytest.mark.parametrize("emulator_changes", [{"device_poll_interval": 1}])
def test_without_a_display_the_device_flow_is_chosen(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "login", "--timeout", "1")  # no DISPLAY in the test env
    assert "Using the device flow (" in result.stderr
    assert "enter the code" in result.stderr
    assert result.returncode == 7, result.stderr
    over_ssh = cli.run(
        "auth", "login", "--timeout", "1", DISPLAY=":0", SSH_CONNECTION="10.0.0.1 1 10.0.0.2 22"
    )
    assert "Using the device flow (an SSH session (SSH_CONNECTION is set))" in over_ssh.stderr
