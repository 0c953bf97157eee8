"""What the person sees in a device login from the library (``ctct.Login``), by default
the CLI's display (one ``EventPrinter``; tests/cli/test_device_screen.py has the CLI's
side): the URL and the code on stderr, the QR code only when stderr is a terminal. Each
login is a user's script in a subprocess against the emulator; the terminal is a
pseudo-terminal (``pty``), the non-terminal a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli

# A user's script: the documented one-liner, with the display switch from argv.
LIBRARY = """
import sys
import ctct

options = {"on": {}, "off": {"show": False}}[sys.argv[1]]
with ctct.Login.from_settings(**options) as login:
    result = login.device(timeout=60)
print("stored", result.profile, result.flow)
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
QR_BLOCKS = ("▀", "▄", "█")


def _command(show: str) -> list[str]:
    return [sys.executable, "-c", LIBRARY, show]


@contextmanager
def _login(
    cli: Cli, argv: list[str], *, terminal: bool
) -> Iterator[tuple[list[str], subprocess.Popen[bytes]]]:
    """Start the login with stderr on a pseudo-terminal or a pipe; yield (collected
    stderr chunks, the process). Output is read by a thread as it comes."""
    chunks: list[str] = []
    if terminal:
        master, slave = pty.openpty()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=cli.env
        )
        os.close(slave)

        def pump() -> None:
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the child closed its end
                    return
                if not data:
                    return
                chunks.append(data.decode("utf-8", "replace"))

    else:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli.env,
        )
        assert process.stderr is not None
        err = process.stderr

        def pump() -> None:
            for line in iter(err.readline, b""):
                chunks.append(line.decode("utf-8", "replace"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield chunks, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        reader.join(10)
        if terminal:
            os.close(master)


def _approve(emu: EmulatorHandle, process: subprocess.Popen[bytes]) -> str:
    """Approve the login's device code as soon as the emulator has issued it (found
    through the control API, so a silent login can be approved too)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        codes = [d["user_code"] for d in emu.pending()["device_codes"]]
        if codes:
            emu.approve_device(codes[0])
            return str(codes[0])
        assert process.poll() is None, "the login ended before asking for approval"
        time.sleep(0.05)
    raise AssertionError("no device code was issued")


def _run(cli: Cli, emu: EmulatorHandle, argv: list[str], *, terminal: bool) -> tuple[str, str]:
    with _login(cli, argv, terminal=terminal) as (chunks, process):
        code = _approve(emu, process)
        assert process.stdout is not None
        out = process.stdout.read()  # not communicate(): the reader thread owns stderr
        assert process.wait(60) == 0, "".join(chunks)
    return code, ANSI.sub("", "".join(chunks)).replace("\r", "") + "\n" + out.decode()


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "piped"])
def test_the_person_sees_url_and_code_and_a_qr_code_on_a_terminal(
    cli: Cli, emu: EmulatorHandle, terminal: bool
) -> None:
    code, seen = _run(cli, emu, _command("on"), terminal=terminal)
    assert f"open {emu.base_url}/activate on any device and enter the code {code}" in seen
    assert "Waiting for approval" in seen and "the code expires in" in seen
    scan = f"or scan this code, which opens {emu.base_url}/activate?user_code={code}"
    assert (scan in seen) is terminal
    assert any(block in seen for block in QR_BLOCKS) is terminal


def test_show_false_logs_in_silently(cli: Cli, emu: EmulatorHandle) -> None:
    _, seen = _run(cli, emu, _command("off"), terminal=True)
    assert seen.strip() == "stored default device"
