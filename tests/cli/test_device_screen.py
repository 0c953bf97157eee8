"""What a device login shows, on a terminal and off one, and how soon it polls: the CLI
as a subprocess whose stderr is a pseudo-terminal, against the emulator."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time

import pytest

from ctct._provider import Provider
from ctct._settings import Settings
from ctct.testing import EmulatorHandle
from tests.cli.conftest import CTCT, Cli

ERASE = "\r\x1b[2K"
COUNTDOWN = re.compile(r"the code expires in (\d+ min \d+ s|\d+ s)")


def read_until(fd: int, seen: list[str], done: object, timeout: float = 30) -> str:
    """Read the pty into ``seen`` until ``done(text)`` holds or the process closed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = "".join(seen)
        if callable(done) and done(text):
            return text
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: every writer has closed it
                return "".join(seen)
            if not chunk:
                return "".join(seen)
            seen.append(chunk.decode("utf-8", errors="replace"))
    raise AssertionError(f"timed out; the terminal showed:\n{''.join(seen)[-3000:]}")


def test_on_a_terminal_the_countdown_is_live_and_the_qr_code_shown(
    cli: Cli, emu: EmulatorHandle
) -> None:
    master, slave = os.openpty()
    process = subprocess.Popen(
        [CTCT, "auth", "login", "--device"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**cli.env, "TERM": "xterm"},
        text=True,
    )
    os.close(slave)
    seen: list[str] = []
    try:
        # Two different readings of the countdown: it is redrawn, in place.
        shown = read_until(master, seen, lambda t: len(set(COUNTDOWN.findall(t))) >= 2)
        assert "▀" in shown or "▄" in shown  # the QR code
        assert ERASE + "Waiting for approval: the code expires in" in shown
        (pending,) = emu.pending()["device_codes"]
        assert pending["user_code"] in shown
        emu.approve_device(pending["user_code"])
        out, _ = process.communicate(timeout=60)
        rest = read_until(master, seen, lambda _t: False)  # to the end: the child has exited
    finally:
        process.kill()
        process.wait(10)
        os.close(master)
    assert process.returncode == 0, rest[-2000:]
    assert "Logged in as alice@example.com" in out
    # The line was erased when the login ended: no countdown is left on the screen.
    last = rest.rindex("Waiting for approval:")
    assert ERASE in rest[last:]


def test_off_a_terminal_one_static_line_and_no_qr_code(cli: Cli, emu: EmulatorHandle) -> None:
    running = cli.start("auth", "login", "--device")
    try:
        shown = running.wait_for("Ctrl-C to stop")
        (pending,) = emu.pending()["device_codes"]
        emu.approve_device(pending["user_code"])
        code, _, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    assert re.search(r"\nWaiting for approval \(the code expires in 9 min 5\d s; Ctrl-C", shown)
    assert "▀" not in err and "▄" not in err and "\x1b" not in err
    assert f"activate?user_code={pending['user_code']}" in err  # the URL still is


@pytest.mark.parametrize("emulator_changes", [{"auto_approve": True, "device_poll_interval": 600}])
def test_against_the_emulator_the_first_poll_goes_at_once(cli: Cli, emu: EmulatorHandle) -> None:
    # Waiting one interval (600 s) first would pass the 30 s timeout: the flow would give
    # up without polling. Polling at once finds the auto-approved grant.
    result = cli.run("auth", "login", "--device", "--timeout", "30")
    assert result.returncode == 0, result.stderr
    assert emu.counters()["token_requests"]["urn:ietf:params:oauth:grant-type:device_code"] == {
        "success": 1
    }


def test_a_real_provider_keeps_the_first_interval() -> None:
    """Only an emulator's profile (token endpoint on loopback) polls at once: a real
    provider answers a poll before the first interval with slow_down."""
    assert not Settings.load(env={}).provider().device_poll_at_once
    assert not Provider.constant_contact().local_pacing().device_poll_at_once
    remote = Settings.load(env={"CTCT_BASE_URL": "https://cc.example.com"}).provider()
    assert not remote.device_poll_at_once
    assert (
        Settings.load(env={"CTCT_BASE_URL": "http://127.0.0.1:8765"}).provider().device_poll_at_once
    )
