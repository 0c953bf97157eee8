"""One keyring switch: ``CTCT_KEYRING=0`` keeps ctct away from the system keyring for the
store key as for the client secret (``CTCT_STORE_KEYRING=0``, the old name, too); a
keyring that hangs costs a process one wait, not one per entry; and where no backend
could work, ``keyring`` is not even imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctct.testing import EmulatorHandle
from tests.cli.conftest import Cli, login

ROOT = Path(__file__).resolve().parents[2]
HANGING = "tests.support.recording_keyring.Keyring"
_BUS = ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "PYTHON_KEYRING_BACKEND")


@pytest.fixture
def keyring_env(cli: Cli, emu: EmulatorHandle, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment with no keyring switch and a keyring that logs, then hangs."""
    login(cli, emu)
    env = {k: v for k, v in cli.env.items() if k not in ("CTCT_KEYRING", "CTCT_STORE_KEYRING")}
    env.update(
        PYTHON_KEYRING_BACKEND=HANGING,
        PYTHONPATH=str(ROOT),
        CTCT_TEST_KEYRING_LOG=str(tmp_path / "keyring.log"),
    )
    return env


def _asked(env: dict[str, str]) -> list[str]:
    log = Path(env["CTCT_TEST_KEYRING_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def _status(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctct", "auth", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("switch", ["CTCT_KEYRING", "CTCT_STORE_KEYRING"])
def test_one_switch_keeps_every_lookup_away_from_the_keyring(
    keyring_env: dict[str, str], switch: str
) -> None:
    env = {**keyring_env, switch: "0"}
    result = _status(env)
    assert result.returncode == 0, result.stderr
    assert _asked(env) == []  # the store key's lookup too
    assert "did not answer" not in result.stderr


def test_a_hanging_keyring_is_waited_for_once_per_process(keyring_env: dict[str, str]) -> None:
    keyring_env.pop("CTCT_CLIENT_SECRET", None)
    result = _status(keyring_env)
    # The client secret's lookup hung; the store key's was then not tried at all, and
    # the status says why the store has no key from there.
    assert _asked(keyring_env) == ["ctct/client-secret"]
    assert result.returncode == 0, result.stderr
    assert "logged in" in result.stdout
    shown = result.stdout + result.stderr
    assert shown.count("did not answer within 2 s") == 1
    assert "CTCT_KEYRING=0 to skip it" in shown


def test_without_a_session_bus_keyring_is_not_even_imported(cli: Cli, emu: EmulatorHandle) -> None:
    login(cli, emu)
    base = {k: v for k, v in cli.env.items() if k not in ("CTCT_KEYRING", "CTCT_STORE_KEYRING")}
    base = {k: v for k, v in base.items() if k not in _BUS}
    for extra, imported in (
        ({}, False),  # a server, a container, CI
        ({"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}, False),
        ({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}, True),  # a desktop
    ):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "ctct", "auth", "status"],
            env={**base, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        modules = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
        assert ("keyring" in modules) is imported, extra
