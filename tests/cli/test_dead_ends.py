"""A way out of every dead end, through the CLI as a subprocess against the emulator:
a rejected refresh token, a lost store key or tampered record, and the commands that
replace or remove one profile's record."""

from __future__ import annotations

import json

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, login


@pytest.fixture
def logged_in(cli: Cli, emu: EmulatorHandle) -> Cli:
    login(cli, emu)
    return cli


def revoke_every_grant(emu: EmulatorHandle) -> None:
    for grant in emu.grants()["grants"]:
        emu.revoke_grant(grant["grant_id"])


def test_forced_refresh_of_a_rejected_refresh_token_exits_4(
    logged_in: Cli, emu: EmulatorHandle
) -> None:
    revoke_every_grant(emu)  # the user disconnected the app: refresh tokens are dead
    rejected = logged_in.run("auth", "refresh", "--force")
    assert rejected.returncode == 4, rejected.stderr
    assert "the provider rejected the refresh token (invalid_grant" in rejected.stderr
    assert "the current access token works until it expires" in rejected.stderr
    assert "(in 23 h" in rejected.stderr
    assert "Run `ctct auth login`" in rejected.stderr
    assert "still fresh" not in rejected.stdout + rejected.stderr
    assert TRACEBACK not in rejected.stderr
    # Asked again, the dead end is the same (the refresh token is gone now), also as JSON.
    again = logged_in.run("auth", "refresh", "--force", "--json")
    assert again.returncode == 4, again.stderr
    data = json.loads(again.stdout)
    assert data["refreshed"] is False and data["refresh_token_rejected"] is True
    assert data["access_token_valid_until"] == data["expires_at"] is not None
    assert data["error"]["exit_code"] == 4 and data["error"]["code"] == "no_refresh_token"
    assert "works until it expires" in data["error"]["message"]
    # The access token the server did not reject is still served.
    assert logged_in.run("auth", "token").returncode == 0
