"""Fixtures for the login flows: an emulator on a loopback socket and a ``Login`` that
share one clock, so the device flow's waits advance time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct.emulator import Emulator, EmulatorConfig
from ctct.emulator.clock import Clock
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.emulator.server import EmulatorServer
from ctct.flows import Login, LoginEvent
from ctct.stores import open_store
from ctct.testing import EmulatorHandle

E = TypeVar("E")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class SharedClock:
    """Real time plus an offset, read by the emulator, the store and the flow, so a
    flow's sleep advances all three together."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class FlowEnv:
    server: EmulatorServer
    clock: SharedClock
    provider: Provider
    client: ClientCredentials
    store_url: str
    control: EmulatorHandle
    redirect_uri: str | None = None
    """The registered fixed-port loopback URI (strict mode), else None (any port)."""
    events: list[LoginEvent] = field(default_factory=list)
    managers: list[TokenManager] = field(default_factory=list)

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def manager(self, profile: str = "default") -> TokenManager:
        made = TokenManager(
            provider=self.provider,
            client=self.client,
            store=open_store(self.store_url, clock=self.clock),
            profile=profile,
            clock=self.clock,
            owns_store=True,
        )
        self.managers.append(made)
        return made

    def login(
        self,
        profile: str = "default",
        *,
        on_event: Callable[[LoginEvent], None] | None = None,
        **options: Any,
    ) -> Login:
        def record(event: LoginEvent) -> None:
            self.events.append(event)
            if on_event is not None:
                on_event(event)

        if self.redirect_uri is not None:
            options.setdefault("redirect_uri", self.redirect_uri)
        options.setdefault("sleep", self.clock.sleep)
        options.setdefault("asleep", self.clock.asleep)
        return Login(self.manager(profile), on_event=record, **options)

    def events_of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def stored(self, profile: str = "default") -> Any:
        with open_store(self.store_url, clock=self.clock) as store:
            from ctct.stores import GrantKey

            return store.load(
                GrantKey(profile, self.provider.storage_issuer, self.client.client_id)
            )

    def token_requests(self, grant_type: str) -> dict[str, int]:
        counts: dict[str, int] = self.emu.counters.snapshot()["token_requests"].get(grant_type, {})
        return counts


MakeEnv = Callable[..., FlowEnv]


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[MakeEnv]:
    made: list[FlowEnv] = []

    def make(*, public: bool = False, mode: str = "lenient", **changes: Any) -> FlowEnv:
        """``mode``: the emulator's lenient defaults, ``strict`` (the loopback login then
        uses a registered fixed port) or ``split`` (CC's three hosts on three ports)."""
        clock = SharedClock()
        config = EmulatorConfig().with_changes(**changes)
        if public:
            config = config.with_changes(apps=(replace(config.default_app, client_secret=None),))
        redirect_uri = None
        if mode == "strict":
            redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
            app = config.default_app
            app = replace(app, redirect_uris=(*app.redirect_uris, redirect_uri))
            config = config.with_changes(strict=True, apps=(app, *config.apps[1:]))
        elif mode == "split":
            config = config.with_changes(split_hosts=True)
        emu = Emulator(config, clock=Clock(source=clock))
        server = EmulatorServer(emulator=emu).start()
        origins = server.origins
        env = FlowEnv(
            server=server,
            clock=clock,
            provider=Provider.constant_contact(
                auth_url=origins["authz"], identity_url=origins["identity"], api_url=origins["api"]
            ),
            redirect_uri=redirect_uri,
            client=ClientCredentials(
                DEFAULT_CLIENT_ID, None if public else Secret(DEFAULT_CLIENT_SECRET)
            ),
            store_url=f"sqlite:///{tmp_path}/tokens-{len(made)}.db",
            control=EmulatorHandle(server.base_url),
        )
        made.append(env)
        return env

    yield make
    for env in made:
        for manager in env.managers:
            manager.close()
        env.control.close()
        env.server.stop()


@pytest.fixture
def env(make_env: MakeEnv) -> FlowEnv:
    return make_env()


MODES = ("lenient", "strict", "split")


@pytest.fixture(params=MODES)
def mode_env(make_env: MakeEnv, request: pytest.FixtureRequest) -> FlowEnv:
    """An environment in each of ``MODES``: ctct's logins must cope with all three."""
    return make_env(mode=request.param)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=10) as client:
        yield client
