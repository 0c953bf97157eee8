"""`ctct broker run`, `ctct broker new-key` and `ctct auth token --format/--sink` as a
user runs them: subprocesses against an emulator on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from ctct.testing import EmulatorHandle
from tests.cli.conftest import TRACEBACK, Cli, login


def wait_for_socket(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def curl(socket: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--unix-socket", str(socket), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_auth_token_formats(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    bare = cli.run("auth", "token")
    assert bare.returncode == 0
    token = bare.stdout.strip()
    doc = json.loads(cli.run("auth", "token", "--format", "json").stdout)
    assert doc["access_token"] == token and doc["profile"] == "default"
    assert doc["expires_in"] > 0 and doc["expires_at"].endswith("Z")
    assert "refresh_token" not in doc
    header = cli.run("auth", "token", "--format", "header").stdout
    assert header == f"Authorization: Bearer {token}\n"
    env = cli.run("auth", "token", "--format", "env").stdout.splitlines()
    assert env[0] == f"CTCT_ACCESS_TOKEN={token}"
    assert env[1].startswith("CTCT_EXPIRES_AT=") and env[1].endswith("Z")
    # The header form works with curl -H @FILE against the API.
    header_file = cli.home / "auth-header"
    header_file.write_text(header)
    answer = subprocess.run(
        ["curl", "-sS", "-H", f"@{header_file}", f"{emu.api_url}/account/summary"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "organization_name" in answer.stdout, answer.stdout


def test_auth_token_sink_keeps_a_file(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    sink = cli.home / "token.txt"
    running = cli.start("auth", "token", "--sink", str(sink), "--sink-mode", "0640")
    try:
        running.wait_for("Keeping")
        assert stat.S_IMODE(sink.stat().st_mode) == 0o640
        assert sink.read_text().strip() == cli.run("auth", "token").stdout.strip()
        assert running.process.poll() is None  # keeps running until interrupted
    finally:
        running.kill()
    bad = cli.run("auth", "token", "--sink", str(sink), "--sink-mode", "0644")
    assert bad.returncode == 3 and "every user" in bad.stderr and TRACEBACK not in bad.stderr


def test_broker_run_over_a_unix_socket(cli: Cli, emu: EmulatorHandle, tmp_path: Path) -> None:
    login(cli, emu)
    socket = tmp_path / "broker.sock"
    running = cli.start("broker", "run", "--socket", str(socket))
    try:
        wait_for_socket(socket)
        assert stat.S_IMODE(os.stat(socket).st_mode) == 0o600
        answer = curl(socket, "-H", "Ctct-Broker: 1", "http://broker/v1/token?profile=default")
        doc = json.loads(answer.stdout)
        assert doc["access_token"] == cli.run("auth", "token").stdout.strip()
        refused = curl(socket, "http://broker/v1/token")
        assert json.loads(refused.stdout)["error"] == "missing_header"
        running.process.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        code, _, log = running.finish()
    finally:
        running.kill()
    assert code in (0, 130)
    assert not socket.exists()  # the socket file is removed on the way out
    assert doc["access_token"] not in log  # served, logged by caller and profile only
    assert f"served profile 'default' to uid {os.getuid()}" in log
    assert "refused profile 'default' to uid" in log and "missing_header" in log


def test_broker_refuses_clear_text_off_loopback(cli: Cli, tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    assert (
        cli.run("broker", "new-key", "a", "--key-file", str(key_file), "--stdout").returncode == 0
    )
    result = cli.run("broker", "run", "--listen", "0.0.0.0:0", "--key-file", str(key_file))
    assert result.returncode == 3
    assert "without TLS" in result.stderr and TRACEBACK not in result.stderr
    both = cli.run("broker", "run")
    assert both.returncode == 2 and "exactly one of" in both.stderr
