"""``ctct auth keep-alive`` as cron runs it: the CLI as a subprocess on a client clock
moved by the test-only time shim, against an emulator whose clock is advanced through its
control API, with CC's real token-endpoint limit (1 request/second)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, login
from tests.timeshim import MovableClock

DAY = 86_400


@pytest.fixture
def emulator_changes() -> dict[str, Any]:
    return {"token_rate_per_second": 1.0}  # CC's limit: pacing is needed, not optional


def refreshes(emu: EmulatorHandle) -> dict[str, int]:
    counts: dict[str, int] = emu.counters()["token_requests"].get("refresh_token", {})
    return counts


def test_keep_alive_refreshes_only_what_nears_the_idle_deadline(
    cli: Cli, emu: EmulatorHandle, tmp_path: Path
) -> None:
    clock = MovableClock(tmp_path / "clock")
    shifted = Cli(clock.env(cli.env), cli.home)
    login(shifted, emu, profile="dead")
    for grant in emu.grants()["grants"]:  # the user disconnected this one
        emu.revoke_grant(grant["grant_id"])
    login(shifted, emu, profile="idle")
    emu.advance_clock(160 * DAY)  # both clocks: 20 days before those two die unused
    clock.advance(160 * DAY)
    login(shifted, emu, profile="busy")  # used today: 180 days to go
    time.sleep(1.1)  # cron runs later: not within the second of that login's last request

    ran = shifted.run("auth", "keep-alive")
    assert ran.returncode == 18, ran.stderr  # a profile needs a new login
    out = ran.stdout
    assert "idle: refreshed; dies if unused until" in out
    assert "busy: not due; dies if unused until" in out
    assert "dead: need a new login: The provider rejected the refresh token" in out
    assert "1 refreshed, 1 not due, 1 need a new login, 0 failed for now" in out
    assert TRACEBACK not in ran.stderr
    # Two refreshes (the idle one, the dead one), none of "busy", none refused as too fast.
    assert refreshes(emu) == {"success": 1, "invalid_grant": 1}

    # The next run (cron, a week later): nothing is due; the dead profile still needs a login.
    emu.advance_clock(7 * DAY)
    clock.advance(7 * DAY)
    again = shifted.run("auth", "keep-alive", "--json")
    assert again.returncode == 18, again.stderr
    data = json.loads(again.stdout)
    results = {p["profile"]: p["result"] for p in data["profiles"]}
    assert results == {"busy": "not_due", "dead": "needs_login", "idle": "not_due"}
    assert (data["refreshed"], data["not_due"], data["needs_login"]) == (0, 2, 1)
    assert sum(refreshes(emu).values()) == 2  # no refresh this time

    # Once the dead profile is gone, a run with nothing to do exits 0.
    assert shifted.run("auth", "logout", "--local", "--profile", "dead").returncode == 0
    assert shifted.run("auth", "keep-alive").returncode == 0
