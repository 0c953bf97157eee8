"""Fixtures for the token core: a scriptable loopback server, an emulator with its
signing keys, and a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.emulator import Emulator
from tests.core._loopback import LoopbackServer


class FakeClock:
    """A clock the test sets by hand (epoch seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def loopback_module() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def loopback(loopback_module: LoopbackServer) -> LoopbackServer:
    """The module's loopback server with no routes and zeroed counters."""
    loopback_module.routes.clear()
    loopback_module.hits.clear()
    loopback_module.requests.clear()
    return loopback_module


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emulator = Emulator()
    yield emulator
    emulator.close()


@pytest.fixture(autouse=True)
def isolated_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's real ``~/.config/ctct/config.toml`` out of every test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
