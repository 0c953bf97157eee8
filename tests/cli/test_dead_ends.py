"""A way out of every dead end, through the CLI as a subprocess against the emulator:
a rejected refresh token, a lost store key or tampered record, and the commands that
replace or remove one profile's record."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ctct.stores import generate_key
from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, login
from tests.cli.terminal import in_terminal


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


# -- a lost store key, an altered record: one profile's way out --------------------------

FIXES = ("`ctct auth login --force", "`ctct auth logout --local --force")


def tamper(cli: Cli, profile: str) -> None:
    """Flip one byte of ``profile``'s sealed record in the SQLite file (the tag fails)."""
    path = cli.env["CTCT_STORE"].removeprefix("sqlite://")
    with sqlite3.connect(path) as db:
        (data,) = db.execute("SELECT data FROM grants WHERE profile = ?", (profile,)).fetchone()
        data = bytes(data[:-1]) + bytes([data[-1] ^ 1])
        db.execute("UPDATE grants SET data = ? WHERE profile = ?", (data, profile))


def states(cli: Cli) -> dict[str, str]:
    return {g["profile"]: g["state"] for g in cli.grants()}


def test_a_lost_key_and_an_altered_record_each_have_a_way_out(
    cli: Cli, emu: EmulatorHandle
) -> None:
    lost, kept = generate_key(), generate_key()
    cli.env["CTCT_STORE_KEY"] = lost
    login(cli, emu)  # "default", sealed with the key about to be lost
    cli.env["CTCT_STORE_KEY"] = kept
    login(cli, emu, profile="other")
    other_token = cli.run("auth", "token", "--profile", "other").stdout
    assert other_token
    assert states(cli) == {"default": "unreadable", "other": "fresh"}

    # Every command on the unreadable profile names the way out, and changes nothing.
    for args in (("auth", "status"), ("auth", "token"), ("auth", "refresh"), ("auth", "logout")):
        failed = cli.run(*args)
        assert failed.returncode == 13, (args, failed.stderr)
        assert all(fix in failed.stderr for fix in FIXES), (args, failed.stderr)
        assert TRACEBACK not in failed.stderr
    refused = cli.run("auth", "logout", "--local")
    assert refused.returncode == 13 and FIXES[1] in refused.stderr
    not_forced = cli.start("auth", "login", "--device")  # stdin is no terminal: no question
    code, _, err = not_forced.finish()
    assert code == 13 and "Nothing was changed" in err and FIXES[0] in err
    assert states(cli) == {"default": "unreadable", "other": "fresh"}
    # At a terminal the login asks first; "no" changes nothing either.
    code, shown = in_terminal(["auth", "login", "--device"], cli.env, [("[y/N]", b"n\n")])
    assert code == 17, shown
    assert FIXES[0] in shown and "Not replaced: nothing was changed." in shown
    assert "enter the code" not in shown  # asked before the login, not after it
    assert states(cli) == {"default": "unreadable", "other": "fresh"}

    # --force replaces just that record; the other profile is untouched.
    login(cli, emu, "--force")
    assert states(cli) == {"default": "fresh", "other": "fresh"}
    assert cli.run("auth", "status").returncode == 0
    assert cli.run("auth", "token", "--profile", "other").stdout == other_token

    # An altered record: the message names the profile; --local --force removes it alone.
    tamper(cli, "other")
    failed = cli.run("auth", "token", "--profile", "other")
    assert failed.returncode == 13
    assert "cannot be decrypted" in failed.stderr
    assert "`ctct auth logout --local --force --profile other`" in failed.stderr
    assert cli.run("auth", "logout", "--force").returncode == 2  # only with --local
    removed = cli.run("auth", "logout", "--local", "--force", "--profile", "other")
    assert removed.returncode == 0, removed.stderr
    assert "Removed the unreadable record of profile other" in removed.stdout
    assert states(cli) == {"default": "fresh"}
    assert cli.run("auth", "status").returncode == 0
