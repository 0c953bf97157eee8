"""Clocks that disagree, over real sockets: the CLI runs as a subprocess whose wall clock
is 300 s behind or ahead of the emulator's (the test-only shim in tests/timeshim), and
login, status, API calls and refreshes all work; the offset is reported. Beyond what ctct
corrects for, the error names the clock to fix: here the emulator's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ctct._cc import DEVICE_CODE_GRANT
from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, approve_next_device, login
from tests.timeshim import clock_env

TTL = 200
"""Access-token lifetime: a client 300 s ahead judging by its own clock would see every
new token expired on arrival, one 300 s behind would see it issued in the future."""


@pytest.fixture
def emulator_changes() -> dict[str, Any]:
    return {"access_token_ttl": TTL}


@pytest.mark.parametrize("offset", [-300.0, 300.0])
def test_the_cli_works_with_a_clock_300_s_off(cli: Cli, emu: EmulatorHandle, offset: float) -> None:
    # safety: src/ctct/_jwt.py: now += _clock.usable_offset(skew)
    # safety: src/ctct/_tokens.py: skew = (server_now + 1.0) - received_at
    # safety: src/ctct/_tokens.py: skew = _required_time(record["clock_skew"])
    skewed = Cli(clock_env(offset, env=cli.env), cli.home)
    login(skewed, emu)  # the new access token is verified before it is stored
    expected = pytest.approx(-offset, abs=2.5)  # provider minus local; Date has 1 s steps

    status = skewed.json("auth", "status")  # a fresh process verifies the stored token
    assert status["logged_in"] and status["error"] is None, status
    assert status["claims"] is not None and status["claims"]["verified"], status["claims_error"]
    assert status["state"] == "fresh"
    assert status["clock_offset"]["seconds"] == expected
    assert status["clock_offset"]["corrected"] is True

    api = skewed.run("api", "GET", "/account/summary")
    assert api.returncode == 0, api.stderr
    assert json.loads(api.stdout)["encoded_account_id"]

    # The refresh verifies its new token (a failure exits 9 and drops that token).
    refreshed = skewed.run("auth", "refresh", "--force", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    stored = cli.stored()
    assert stored is not None and b'"access_token":null' not in stored["data"]
    counters = emu.counters()
    assert counters["token_requests"][DEVICE_CODE_GRANT]["success"] == 1
    assert counters["token_requests"]["refresh_token"] == {"success": 1}
    assert counters["api_requests"]["GET /v3/account/summary"] == {"200": 2}  # no 401

    # The offset as people read it: status's text in one direction, doctor in the other
    # (each costs a process; both directions are covered above by status --json).
    side = "behind" if offset < 0 else "ahead of"
    shown = rf"this machine's clock is (4 min 5\d s|5 min|5 min [12] s) {side} the emulator's"
    if offset < 0:
        text = skewed.run("auth", "status")
        assert text.returncode == 0, text.stderr
        assert re.search(shown, text.stdout), text.stdout
        assert "corrected for" in text.stdout and "not verified" not in text.stdout
    else:
        doctor = skewed.run("doctor", "--json")
        report = json.loads(doctor.stdout)
        checks = {c["check"]: c for c in report["checks"]}
        assert report["clock_offset"]["seconds"] == expected
        assert checks["clock"]["level"] == "warn", checks["clock"]
        assert re.search(shown, checks["clock"]["detail"]), checks["clock"]
        assert "ctct corrects for it" in checks["clock"]["detail"]


def test_an_emulator_far_ahead_is_named_as_the_clock_that_moved(
    cli: Cli, emu: EmulatorHandle
) -> None:
    emu.advance_clock(3600)  # an hour: beyond the 15 minutes ctct corrects for
    running = cli.start("auth", "login", "--device")
    try:
        approve_next_device(emu, running)
        code, _out, err = running.finish()
    finally:
        running.kill()
    assert code == 9, err  # the token failed verification
    assert "issued-at" in err and "The emulator's clock is ahead of this machine's" in err
    assert "/__emulator/clock/advance" in err and "system clock" not in err
    assert "Traceback" not in err
    doctor = json.loads(cli.run("doctor", "--json").stdout)
    clock = {c["check"]: c for c in doctor["checks"]}["clock"]
    assert clock["level"] == "fail"
    assert "this machine's clock is 1 h behind the emulator's" in clock["detail"]
    assert clock["fix"] == "the emulator's clock was advanced: start a fresh emulator"
