"""A broker in this process, serving an emulator-backed grant over a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from ctct._manager import TokenManager
from ctct.broker.server import Listen
from ctct.broker.service import Broker, BrokerOptions
from ctct.broker.sink import SinkSpec
from ctct.stores import open_store
from tests.cli.conftest import (  # noqa: F401  (the CLI fixtures these tests reuse)
    cli,
    emu,
    emulator_changes,
    emulator_mode,
    redirect_port,
)
from tests.refresh.conftest import FAST, Env, MakeEnv, make_env  # noqa: F401  (fixture)

HEADERS = {"Ctct-Broker": "1"}


@dataclass
class Running:
    env: Env
    broker: Broker
    socket: Path | None
    base_url: str

    def client(self, **kwargs: object) -> httpx2.Client:
        if self.socket is not None:
            transport = httpx2.HTTPTransport(uds=str(self.socket))
            return httpx2.Client(transport=transport, base_url="http://broker", **kwargs)  # type: ignore[arg-type]
        return httpx2.Client(base_url=self.base_url, **kwargs)  # type: ignore[arg-type]

    def async_client(self, **kwargs: object) -> httpx2.AsyncClient:
        transport = httpx2.AsyncHTTPTransport(uds=str(self.socket))
        return httpx2.AsyncClient(transport=transport, base_url="http://broker", **kwargs)  # type: ignore[arg-type]


StartBroker = Callable[..., Running]


@pytest.fixture
def start_broker(tmp_path: Path, make_env: MakeEnv) -> Iterator[StartBroker]:  # noqa: F811
    started: list[Broker] = []

    def start(
        env: Env | None = None,
        *,
        tcp: bool = False,
        key_file: Path | None = None,
        policy_file: Path | None = None,
        socket_mode: int = 0o600,
        sinks: dict[str, SinkSpec] | None = None,
        forced_interval: float | None = None,
        socket_dir: Path | None = None,
    ) -> Running:
        env = env or make_env()
        store = open_store(env.store_url)

        def manager_for(profile: str) -> TokenManager:
            return TokenManager(
                provider=env.provider,
                client=env.client,
                store=store,
                profile=profile,
                clock=env.clock,
                policy=FAST,
            )

        socket = None if tcp else (socket_dir or tmp_path) / f"broker-{len(started)}.sock"
        listen = Listen(socket_path=socket, socket_mode=socket_mode) if socket else Listen()
        options = BrokerOptions(
            listen=listen, key_file=key_file, policy_file=policy_file, sinks=sinks or {}
        )
        if forced_interval is not None:
            options.forced_interval = forced_interval
        broker = Broker(options, manager_for, store=store, clock=env.clock)
        broker.start()
        started.append(broker)
        return Running(env, broker, socket, broker.server.address)

    yield start
    for broker in started:
        broker.stop()
