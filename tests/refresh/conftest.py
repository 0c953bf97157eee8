"""Fixtures for the refresh engine: an emulator and a TokenManager sharing one clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from ctct._manager import TokenManager
from ctct._oauth_requests import (
    ClientCredentials,
    DevicePending,
    device_authorization_request,
    device_token_request,
    parse_device_authorization_response,
    parse_device_poll_response,
)
from ctct._provider import Provider
from ctct._refresh import RefreshPolicy
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.emulator import Emulator, EmulatorConfig
from ctct.emulator.clock import Clock
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.emulator.server import EmulatorServer
from ctct.stores import open_store


class SharedClock:
    """Real time plus an offset, read by the emulator *and* the client, so advancing it
    moves both sides (expiry maths, Date headers) together."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Env:
    server: EmulatorServer
    clock: SharedClock
    provider: Provider
    client: ClientCredentials
    store_url: str
    http: httpx2.Client

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    @property
    def api_origin(self) -> str:
        """Where the V3 API is (its own origin with split hosts)."""
        return self.server.origins["api"]

    def manager(self, profile: str = "default", **kwargs: object) -> TokenManager:
        return TokenManager(
            provider=self.provider,
            client=self.client,
            store=open_store(self.store_url),
            profile=profile,
            clock=self.clock,
            owns_store=True,
            **kwargs,  # type: ignore[arg-type]
        )

    def login(self, manager: TokenManager, scopes: tuple[str, ...] | None = None) -> TokenSet:
        """Obtain a grant by device flow (the emulator auto-approves) and store it."""
        wanted = scopes or ("account_read", "contact_data", "offline_access")
        self.clock.advance(1.1)  # the token endpoint allows 1 request/second
        response = self.http.send(device_authorization_request(self.provider, self.client, wanted))
        parse_device_authorization_response(response, received_at=self.clock())
        device = response.json()["device_code"]
        self.clock.advance(1.1)
        poll = self.http.send(device_token_request(self.provider, self.client, Secret(device)))
        tokens = parse_device_poll_response(
            poll, provider=self.provider, client_id=self.client.client_id, received_at=self.clock()
        )
        assert not isinstance(tokens, DevicePending)
        manager.save(tokens)
        return tokens

    def revoke_grant(self) -> None:
        """Revoke every grant at the emulator (as a user disconnecting the app would)."""
        base = self.server.base_url
        for grant in self.http.get(f"{base}/__emulator/grants").json()["grants"]:
            self.http.post(f"{base}/__emulator/grants/{grant['grant_id']}/revoke", json={})

    def refreshes(self) -> int:
        counts = self.emu.counters.snapshot()["token_requests"].get("refresh_token", {})
        return int(counts.get("success", 0))


MakeEnv = Callable[..., Env]


def login_with_device_flow(base_url: str, store_url: str, profile: str = "default") -> TokenSet:
    """Log ``profile`` in at an auto-approving emulator, in real time."""
    provider = Provider.constant_contact(base_url)
    client = ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET))
    with (
        httpx2.Client() as http,
        TokenManager(
            provider=provider,
            client=client,
            store=open_store(store_url),
            profile=profile,
            owns_store=True,
        ) as manager,
    ):
        wanted = ("account_read", "contact_data", "offline_access")
        response = http.send(device_authorization_request(provider, client, wanted))
        device = parse_device_authorization_response(response, received_at=time.time())
        while True:
            time.sleep(1.05)  # the token endpoint allows 1 request/second
            poll = http.send(device_token_request(provider, client, device.device_code))
            tokens = parse_device_poll_response(
                poll, provider=provider, client_id=client.client_id, received_at=time.time()
            )
            if not isinstance(tokens, DevicePending):
                manager.save(tokens)
                return tokens


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[MakeEnv]:
    made: list[Env] = []

    def make(*, public: bool = False, mode: str = "lenient", **changes: object) -> Env:
        """``mode``: the emulator's lenient defaults, ``strict`` (a reused rotated refresh
        token revokes the grant, Basic client auth only...) or ``split`` (CC's three
        hosts on three ports: the token endpoint, JWKS and API on different origins)."""
        clock = SharedClock()
        if mode == "strict":
            changes = {"strict": True, **changes}
        elif mode == "split":
            changes = {"split_hosts": True, **changes}
        config = EmulatorConfig(auto_approve=True).with_changes(**changes)
        if public:
            app = config.default_app
            from dataclasses import replace

            config = config.with_changes(apps=(replace(app, client_secret=None),))
        emu = Emulator(config, clock=Clock(source=clock))
        server = EmulatorServer(emulator=emu).start()
        origins = server.origins
        provider = Provider.constant_contact(
            auth_url=origins["authz"], identity_url=origins["identity"], api_url=origins["api"]
        )
        secret = None if public else Secret(DEFAULT_CLIENT_SECRET)
        env = Env(
            server=server,
            clock=clock,
            provider=provider,
            client=ClientCredentials(DEFAULT_CLIENT_ID, secret),
            store_url=f"sqlite:///{tmp_path}/tokens-{len(made)}.db",
            http=httpx2.Client(),
        )
        made.append(env)
        return env

    yield make
    for env in made:
        env.http.close()
        env.server.stop()


@pytest.fixture
def env(make_env: MakeEnv) -> Env:
    return make_env()


MODES = ("lenient", "strict", "split")


@pytest.fixture(params=MODES)
def mode_env(make_env: MakeEnv, request: pytest.FixtureRequest) -> Env:
    """An environment in each of ``MODES``: ctct's refresh must cope with all three."""
    return make_env(mode=request.param)


FAST = RefreshPolicy(backoff_initial=0.01, backoff_max=0.05)
