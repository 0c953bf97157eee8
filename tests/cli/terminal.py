"""Run ``ctct`` on a pseudo-terminal, as a person at a terminal would: standard input,
output and error are the terminal (its controlling terminal, so Ctrl-C is a SIGINT
from the line discipline), and keystrokes are typed when a prompt appears."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time
from collections.abc import Sequence

from tests.cli.conftest import CTCT


def _controlling_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def in_terminal(
    args: Sequence[str],
    env: dict[str, str],
    keys: Sequence[tuple[str, bytes]] = (),
    *,
    timeout: float = 60,
) -> tuple[int, str]:
    """Run ``ctct ARGS`` on a new terminal; for each ``(prompt, keys)`` wait until the
    screen shows ``prompt``, then type ``keys``. The exit code and everything shown."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [CTCT, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={"TERM": "xterm-256color", **env},
        close_fds=True,
        preexec_fn=_controlling_terminal,  # the terminal becomes its controlling terminal
    )
    os.close(slave)
    shown = b""
    pending = list(keys)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in shown:
                os.write(master, pending.pop(0)[1])
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if process.poll() is not None and not pending:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(master)
    return code, shown.decode("utf-8", "replace").replace("\r\n", "\n")
