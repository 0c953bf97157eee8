"""``ctct auth login --no-browser`` (paste the redirected URL on stdin) and
``ctct auth import`` (a refresh token from stdin or CTCT_REFRESH_TOKEN)."""

from __future__ import annotations

import re

import httpx2
import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import MODES, TRACEBACK, Cli, Running, login


def _authorization_url(running: Running, emu: EmulatorHandle) -> str:
    shown = running.wait_for(f"{emu.base_url}/oauth2/default/v1/authorize?")
    match = re.search(
        rf"^({re.escape(emu.base_url)}/oauth2/default/v1/authorize\?\S+)$", shown, re.M
    )
    assert match is not None, shown
    return match.group(1)


def _approve(emu: EmulatorHandle, url: str) -> str:
    with httpx2.Client() as http:
        assert http.get(url).status_code == 200
    (pending,) = emu.pending()["authorizations"]
    return emu.approve_authorization(pending["request_id"])


@pytest.mark.parametrize("emulator_mode", MODES)
def test_paste_the_redirected_url(cli: Cli, emu: EmulatorHandle, emulator_mode: str) -> None:
    running = cli.start("auth", "login", "--no-browser")
    try:
        url = _authorization_url(running, emu)
        running.wait_for("Paste the address the browser landed on")
        redirect = _approve(emu, url)
        # The configured redirect URI (with CTCT_REDIRECT_PORT's port under --strict).
        port = cli.env.get("CTCT_REDIRECT_PORT")
        assert redirect.startswith(f"http://127.0.0.1{':' + port if port else ''}/callback?")
        running.send(redirect)
        code, out, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    assert "Logged in as alice@example.com (profile default, pasted redirect)" in out
    assert "Open this URL in a browser (on any machine)" in err
    (grant,) = cli.grants()
    assert grant["state"] == "fresh"


def test_paste_the_bare_code(cli: Cli, emu: EmulatorHandle) -> None:
    running = cli.start("auth", "login", "--no-browser")
    try:
        redirect = _approve(emu, _authorization_url(running, emu))
        code_value = re.search(r"[?&]code=([^&]+)", redirect)
        assert code_value is not None
        running.send(code_value.group(1))
        code, out, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    assert "pasted redirect" in out


def test_pasted_url_from_another_flow_is_refused(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    before = cli.stored()
    result = cli.run(
        "auth",
        "login",
        "--no-browser",
        input="http://localhost:8000/callback?code=abcdefgh&state=xyz\n",
    )
    assert result.returncode == 8, result.stderr
    assert "is not this login's redirect URI" in result.stderr
    assert TRACEBACK not in result.stderr
    assert cli.stored() == before


def test_pasting_the_authorization_url_itself_is_explained(cli: Cli, emu: EmulatorHandle) -> None:
    running = cli.start("auth", "login", "--no-browser")
    try:
        url = _authorization_url(running, emu)
        running.send(url)
        code, _, err = running.finish()
    finally:
        running.kill()
    assert code == 8, err
    assert "That is the authorization URL itself" in err


def test_nothing_pasted(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "login", "--no-browser", input="")
    assert result.returncode == 8, result.stderr
    assert "Nothing was pasted" in result.stderr


# -- import -----------------------------------------------------------------------------------


def _refresh_token(emu: EmulatorHandle) -> str:
    """A refresh token obtained outside ctct (a device login through the control API)."""
    with emu.http_client() as http:
        started = http.post(
            "/oauth2/default/v1/device/authorize",
            data={"client_id": emu.client_id, "scope": "account_read contact_data offline_access"},
        ).json()
        emu.approve_device(started["user_code"])
        tokens = http.post(
            "/oauth2/default/v1/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": started["device_code"],
                "client_id": emu.client_id,
            },
        ).json()
    return str(tokens["refresh_token"])


def test_import_from_stdin_verifies_with_one_refresh(cli: Cli, emu: EmulatorHandle) -> None:
    token = _refresh_token(emu)
    result = cli.run("auth", "import", input=token + "\n")
    assert result.returncode == 0, result.stderr
    assert "imported refresh token" in result.stdout
    assert "Read the refresh token from standard input." in result.stderr
    assert token not in result.stdout + result.stderr
    (grant,) = cli.grants()
    assert grant["state"] == "fresh"
    assert grant["refresh_token_type"] == "rotating"  # learned from the verifying refresh


def test_import_from_the_environment(cli: Cli, emu: EmulatorHandle) -> None:
    token = _refresh_token(emu)
    result = cli.run("auth", "import", "--profile", "ci", CTCT_REFRESH_TOKEN=token)
    assert result.returncode == 0, result.stderr
    assert "Read the refresh token from CTCT_REFRESH_TOKEN." in result.stderr
    assert [g["profile"] for g in cli.grants()] == ["ci"]


def test_import_of_a_bad_token_keeps_the_previous_grant(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    before = cli.stored()
    result = cli.run("auth", "import", input="not-a-valid-refresh-token\n")
    assert result.returncode == 4, result.stderr
    assert "invalid_grant" in result.stderr
    assert "not-a-valid-refresh-token" not in result.stderr
    after = cli.stored()
    assert after is not None and before is not None
    assert after["data"] == before["data"]


def test_import_without_a_token_says_where_to_put_it(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "import", input="")
    assert result.returncode == 8, result.stderr
    assert "pipe it on standard input" in result.stderr
    assert "CTCT_REFRESH_TOKEN" in result.stderr


def test_import_takes_no_token_argument(cli: Cli, emu: EmulatorHandle) -> None:
    result = cli.run("auth", "import", "some-refresh-token")
    assert result.returncode == 2
    assert "Got unexpected extra argument" in result.stderr
