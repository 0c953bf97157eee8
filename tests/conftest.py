"""Shared fixtures: an emulator in-process (ASGI) and on a real loopback socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx2
import pytest

from ctct.emulator import Emulator, EmulatorConfig, create_app
from ctct.emulator.inprocess import SyncASGITransport
from ctct.emulator.server import EmulatorServer
from tests.servers import RedisServer


@dataclass
class Running:
    """An emulator plus a plain HTTP client pointed at it."""

    emulator: Emulator
    base_url: str
    client: httpx2.Client
    mode: str


StartEmulator = Callable[..., Running]


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture(params=["inprocess", "socket"])
def start_emulator(request: pytest.FixtureRequest) -> Iterator[StartEmulator]:
    """A factory: ``start_emulator(**config_changes)`` -> ``Running``, in both modes.

    Tests using it run twice: against the ASGI app in-process and over loopback TCP.
    """
    mode: str = request.param
    cleanups: list[Callable[[], None]] = []

    def start(**changes: object) -> Running:
        config = EmulatorConfig().with_changes(**changes)
        if mode == "inprocess":
            emu = Emulator(config)
            transport = SyncASGITransport(create_app(emulator=emu))
            base_url = "http://127.0.0.1"
            client = httpx2.Client(transport=transport, base_url=base_url)
            cleanups.append(emu.close)
        else:
            server = EmulatorServer(config).start()
            emu, base_url = server.emulator, server.base_url
            client = httpx2.Client(base_url=base_url)
            cleanups.append(server.stop)
        cleanups.append(client.close)
        return Running(emu, base_url, client, mode)

    yield start
    for cleanup in reversed(cleanups):
        cleanup()


@pytest.fixture
def running(start_emulator: StartEmulator) -> Running:
    """The default emulator, in both modes."""
    return start_emulator()


@pytest.fixture
def live_emulator() -> Iterator[EmulatorServer]:
    """The default emulator on a loopback port (for browsers and subprocesses)."""
    with EmulatorServer(EmulatorConfig()) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A durable ``redis-server`` of the test run's own, on a free port."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
