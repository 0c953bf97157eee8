"""Fixtures for the ``ctct`` command line: an emulator on a loopback socket, and the CLI
run as a subprocess with its config, store and key sources all inside ``tmp_path``
(the machine's real config directory is never read or written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ctct.flows._choose import _CI_VARIABLES, _SSH_VARIABLES
from ctct.testing import EmulatorHandle, start_emulator

CTCT = str(Path(sys.executable).with_name("ctct"))
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Cli:
    """Runs ``ctct`` as a subprocess with an isolated environment."""

    env: dict[str, str]
    home: Path

    def run(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CTCT, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.env, **env},
            check=False,
        )

    def start(self, *args: str, **env: str) -> Running:
        process = subprocess.Popen(
            [CTCT, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, **env},
        )
        return Running(process)

    def json(self, *args: str, **env: str) -> Any:
        result = subprocess.run(
            [CTCT, *args, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**self.env, **env},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def grants(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.json("auth", "list")["grants"]
        return data

    def stored(self, profile: str = "default") -> dict[str, Any] | None:
        """The stored record of ``profile`` read straight from the store (for asserting
        that failures leave it untouched)."""
        from ctct.stores import open_store

        with open_store(self.env["CTCT_STORE"]) as store:
            for key in store.keys():  # noqa: SIM118 - a store, not a dict
                if key.profile == profile:
                    record = store.load(key)
                    if record is not None:
                        return {"version": record.version, "data": record.data}
        return None


class Running:
    """A ``ctct`` process still running: its output is collected by threads."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(process.stderr, self.stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: Any, sink: list[str]) -> None:
        for line in iter(stream.readline, ""):
            sink.append(line)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` appears on stderr or stdout; return everything so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = "".join(self.stderr) + "".join(self.stdout)
            if text in seen:
                return seen
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the pumps drain
                seen = "".join(self.stderr) + "".join(self.stdout)
                if text in seen:
                    return seen
                raise AssertionError(
                    f"ctct exited ({self.process.returncode}) before {text!r}:\n{seen}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared:\n{''.join(self.stderr)}")

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for exit: ``(exit code, stdout, stderr)``."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        code = self.process.wait(timeout)
        for thread in self._threads:
            thread.join(5)
        return code, "".join(self.stdout), "".join(self.stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


# What `ctct auth login` looks at to pick a flow: tests set these themselves, so a run
# in CI or over SSH behaves like one on a desktop without a display.
_FLOW_CHOICE_HINTS = frozenset(
    {"DISPLAY", "WAYLAND_DISPLAY", "BROWSER", *_SSH_VARIABLES, *_CI_VARIABLES}
)


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """The environment for the CLI: nothing of this machine's ctct setup leaks in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CTCT_") and k not in _FLOW_CHOICE_HINTS
    }
    config = tmp_path / "config.toml"
    config.touch()
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
            "CTCT_CONFIG": str(config),
            "CTCT_STORE": f"sqlite://{tmp_path}/store/tokens.db",
            "CTCT_STORE_KEYRING": "0",
            "CTCT_KEYRING": "0",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    return env


MODES = ("lenient", "strict", "split")
"""How ctct's own login tests meet the emulator: its lenient defaults, ``--strict`` (the
loopback login then uses a registered fixed port, ``CTCT_REDIRECT_PORT``) and
``--split-hosts`` (``CTCT_AUTH_URL``/``CTCT_IDENTITY_URL``/``CTCT_API_URL``)."""


@pytest.fixture
def emulator_changes() -> dict[str, Any]:
    """Emulator settings for the test; override in a module or set in a test."""
    return {}


@pytest.fixture
def emulator_mode() -> str:
    """One of ``MODES``; parametrize a test with it to run it against each."""
    return "lenient"


@pytest.fixture
def redirect_port() -> int:
    """A free loopback port, registered with the emulator for strict-mode logins."""
    return free_port()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def mode_changes(mode: str, redirect_port: int) -> dict[str, Any]:
    """Emulator settings for ``mode`` (see ``MODES``)."""
    from dataclasses import replace

    from ctct.emulator import EmulatorConfig

    if mode == "strict":
        app = EmulatorConfig().default_app
        uris = (*app.redirect_uris, f"http://127.0.0.1:{redirect_port}/callback")
        return {"strict": True, "apps": (replace(app, redirect_uris=uris),)}
    if mode == "split":
        return {"split_hosts": True}
    return {}


@pytest.fixture
def emu(
    emulator_changes: dict[str, Any], emulator_mode: str, redirect_port: int
) -> Iterator[EmulatorHandle]:
    """An emulator on a loopback port; device polls may come at once (interval 0) and
    the token endpoint takes 20 requests/s, so logins do not wait on real time."""
    changes: dict[str, Any] = {"device_poll_interval": 0, "token_rate_per_second": 20.0}
    changes.update(mode_changes(emulator_mode, redirect_port))
    changes.update(emulator_changes)
    with start_emulator(**changes) as handle:
        yield handle


@pytest.fixture
def cli(tmp_path: Path, emu: EmulatorHandle, emulator_mode: str, redirect_port: int) -> Cli:
    env = isolated_env(tmp_path)
    env.update(emu.env())
    if emulator_mode == "strict":
        env["CTCT_REDIRECT_PORT"] = str(redirect_port)
    return Cli(env, tmp_path)


def approve_next_device(emu: EmulatorHandle, running: Running, *, deny: bool = False) -> str:
    """Read the user code the CLI shows, check the emulator has it, approve (or deny)."""
    shown = running.wait_for("enter the code")
    pending = emu.pending()["device_codes"]
    codes = [d["user_code"] for d in pending if d.get("status", "pending") == "pending"]
    assert len(codes) == 1, pending
    (code,) = codes
    assert code in shown
    if deny:
        emu.deny_device(code)
    else:
        emu.approve_device(code)
    return str(code)


def login(cli: Cli, emu: EmulatorHandle, *extra: str, profile: str = "default") -> str:
    """A real device login through the CLI; returns its stdout."""
    running = cli.start("auth", "login", "--device", "--profile", profile, *extra)
    try:
        approve_next_device(emu, running)
        code, out, err = running.finish()
    finally:
        running.kill()
    assert code == 0, err
    return str(out)


def tamper(cli: Cli, profile: str) -> None:
    """Flip the last byte of ``profile``'s record in the SQLite store file: a sealed
    record then fails its tag, a plaintext one is no longer JSON."""
    import sqlite3

    path = cli.env["CTCT_STORE"].removeprefix("sqlite://")
    with sqlite3.connect(path) as db:
        (data,) = db.execute("SELECT data FROM grants WHERE profile = ?", (profile,)).fetchone()
        data = bytes(data[:-1]) + bytes([data[-1] ^ 1])
        db.execute("UPDATE grants SET data = ? WHERE profile = ?", (data, profile))


# -- a forwarding proxy for faults the emulator cannot produce ------------------------------

Hook = Callable[[str, str, bytes], tuple[int, bytes] | None]


class Proxy:
    """Forwards every request to ``target`` over HTTP; ``hook(method, path, body)`` may
    answer instead (return ``(status, json body)``) or let it through (``None``)."""

    def __init__(self, target: str, hook: Hook) -> None:
        self.target = target.rstrip("/")
        self.hook = hook
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append(f"{self.command} {self.path.split('?')[0]}")
                answer = outer.hook(self.command, self.path, body)
                if answer is None:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in ("host", "content-length", "connection")
                    }
                    with httpx2.Client() as http:
                        upstream = http.request(
                            self.command, outer.target + self.path, content=body, headers=headers
                        )
                    status, content = upstream.status_code, upstream.content
                    kept = [
                        (k, v)
                        for k, v in upstream.headers.items()
                        if k.lower()
                        not in (
                            "content-length",
                            "transfer-encoding",
                            "connection",
                            "content-encoding",
                        )
                    ]
                else:
                    status, content = answer
                    kept = [("Content-Type", "application/json")]
                self.send_response(status)
                for name, value in kept:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines may carry codes

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
