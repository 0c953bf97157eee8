"""`ctct demo` walks the whole journey (device login, status, API, expiry and refresh,
logout) with the library's own pieces, and never prints a credential."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctct.cli._console import fingerprint
from ctct.emulator.config import DEFAULT_CLIENT_SECRET, EmulatorConfig
from ctct.emulator.server import EmulatorServer
from ctct.testing import EmulatorHandle
from tests.cli.conftest import isolated_env

CTCT = Path(sys.executable).with_name("ctct")
STEPS = (
    "Step 1. Start a local Constant Contact",
    "Step 2. Log in with the device flow",
    "Step 3. Status",
    "Step 4. Call the V3 API",
    "Step 5. The access token expires",
    "Step 6. Log out",
    "Demo complete",
)
CREDENTIAL_FIELDS = ("access_token", "refresh_token", "id_token", "device_code")
# Anything shaped like a JWT, or a long opaque base64url string (refresh tokens, device
# codes): none may appear in the output.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
OPAQUE_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])")


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(CTCT), "demo", *args], capture_output=True, text=True, timeout=60, env=env
    )


class RecordCredentials:
    """Wraps the emulator's app and keeps every credential it hands out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.values: dict[str, list[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)
        try:
            body = json.loads(b"".join(chunks))
        except ValueError:
            return
        if isinstance(body, dict):
            for name in CREDENTIAL_FIELDS:
                if isinstance(body.get(name), str):
                    self.values.setdefault(name, []).append(body[name])


@pytest.fixture
def recorded_emulator() -> Iterator[tuple[EmulatorServer, RecordCredentials]]:
    server = EmulatorServer(EmulatorConfig())
    recorder = RecordCredentials(server.app)
    server._server.config.app = recorder
    with server:
        yield server, recorder


def test_demo_walks_every_step_and_exits_0() -> None:
    result = run_demo()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in STEPS:
        assert step in out
    assert "✓ alice@example.com approved the code" in out
    assert "the first poll was answered authorization_pending" in out
    assert "Alice's Bakery (a07e1alice001), Alice Owner <alice@example.com>" in out  # status
    assert "signature ✓, issuer ✓, audience ✓, client ✓" in out
    assert "encrypted (key from a throw-away demo key)" in out
    assert "POST /v3/contacts → contact" in out
    assert "after 1 refresh" in out
    assert "(rotated: the old one is dead)" in out
    assert "the last access token now gets HTTP 401 from the API" in out
    assert JWT_SHAPE.search(out) is None
    assert OPAQUE_SHAPE.findall(out) == []
    assert DEFAULT_CLIENT_SECRET not in out
    assert "Traceback" not in result.stderr


def test_demo_never_prints_the_credentials_the_emulator_issued(
    recorded_emulator: tuple[EmulatorServer, RecordCredentials],
) -> None:
    server, recorder = recorded_emulator
    result = run_demo("--emulator-url", server.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr

    issued = [value for values in recorder.values.values() for value in values]
    # The demo got a device code, two access tokens and two refresh tokens...
    assert len(recorder.values["device_code"]) == 1
    assert len(recorder.values["access_token"]) == 2
    assert len(set(recorder.values["refresh_token"])) == 2
    for value in issued:
        # ...never showed the value, nor a sizeable piece of it...
        assert value not in output
        for start in range(0, len(value) - 16, 8):
            assert value[start : start + 16] not in output
    # ...showed the tokens as fingerprints...
    for value in recorder.values["access_token"] + recorder.values["refresh_token"]:
        assert fingerprint(value) in output
    # ...and revoked the grant it made at the end.
    grants = server.emulator.grants.list()
    assert grants
    assert [g.as_json()["revoked"] for g in grants] == [True]


def test_demo_fails_clearly_without_an_emulator() -> None:
    result = run_demo("--emulator-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "no emulator answers at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_fails_clearly_when_a_step_goes_wrong() -> None:
    with EmulatorServer(EmulatorConfig()) as server:
        EmulatorHandle(server.base_url).inject_fault("api", "500", count=50)
        result = run_demo("--emulator-url", server.base_url)
    assert result.returncode != 0
    assert "Error: " in result.stderr and "HTTP 500" in result.stderr
    assert "Step 3. Status" in result.stdout or "Step 4. Call the V3 API" in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_against_a_shared_auto_approving_emulator_leaves_it_usable(tmp_path: Path) -> None:
    """``ctct emulator --auto-approve`` shared with others: the demo logs in (the emulator
    approves by itself), refreshes by force instead of jumping the clock a day ahead
    (an emulator's clock only moves forward), and a login afterwards works as before."""
    with EmulatorServer(EmulatorConfig(auto_approve=True)) as server:
        handle = EmulatorHandle(server.base_url)
        result = run_demo("--emulator-url", server.base_url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "This emulator approves every code by itself (--auto-approve)" in result.stdout
        assert "Step 5. The access token is refreshed" in result.stdout
        assert "after 1 refresh" in result.stdout and "Demo complete" in result.stdout
        assert handle.clock()["offset"] == 0  # the clock never moved
        env = {**isolated_env(tmp_path), **handle.env()}
        for command in (("auth", "login", "--device"), ("api", "GET", "/account/summary")):
            later = subprocess.run(
                [str(CTCT), *command], env=env, capture_output=True, text=True, timeout=60
            )
            assert later.returncode == 0, later.stderr
        assert "Alice's Bakery" in later.stdout
