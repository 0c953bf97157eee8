"""Fixtures for the API client: an emulator (in-process and over loopback), a grant
obtained by the device flow at it, and clients that use that grant.

Tests that are not about limits run with a high rate on both sides (CC's 4/s would
make every test about limits); limit tests ask for CC's real numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from ctct._secret import Secret
from ctct.api import AsyncClient, Client, RateLimits, RetryPolicy, set_testing
from ctct.emulator import Emulator, EmulatorConfig
from ctct.stores import open_store
from ctct.testing import EmulatorHandle, inprocess_emulator, start_emulator

FAST_EMULATOR: dict[str, Any] = {"api_rate_per_second": 10_000.0, "token_rate_per_second": 1_000.0}
FAST_CLIENT = RateLimits(rate_per_second=5_000.0, daily_quota=None)
SCOPES = ("account_read", "account_update", "contact_data", "campaign_data", "offline_access")


@dataclass
class ApiEnv:
    handle: EmulatorHandle
    mode: str
    store_url: str
    limits: RateLimits
    managers: list[TokenManager] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)

    @property
    def emu(self) -> Emulator:
        assert self.handle.emulator is not None
        return self.handle.emulator

    def clock(self) -> float:
        return self.emu.clock.now()

    def manager(self) -> TokenManager:
        manager = TokenManager(
            provider=Provider.constant_contact(self.handle.base_url),
            client=ClientCredentials(
                self.handle.client_id, Secret(self.handle.client_secret or "")
            ),
            store=open_store(self.store_url),
            http=self.handle.http_client(),
            async_http=self.handle.async_http_client(),
            clock=self.clock,
            owns_store=True,
        )
        self.managers.append(manager)
        return manager

    def login(self, scopes: tuple[str, ...] = SCOPES) -> None:
        """A device-flow login (the emulator auto-approves it as its default user),
        stored for the clients."""
        manager = self.manager()
        provider, client = manager.provider, manager.client
        with self.handle.http_client() as http:
            response = http.send(device_authorization_request(provider, client, scopes))
            device = parse_device_authorization_response(response, received_at=self.clock())
            poll = http.send(device_token_request(provider, client, device.device_code))
            tokens = parse_device_poll_response(
                poll, provider=provider, client_id=client.client_id, received_at=self.clock()
            )
        assert not isinstance(tokens, DevicePending)
        manager.save(tokens)

    def client(self, **kwargs: Any) -> Client:
        kwargs.setdefault("limits", self.limits)
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("poll_interval", 0.05)
        client = Client(self.manager(), transport=self.handle.transport, **kwargs)
        self.clients.append(client)
        return client

    def async_client(self, **kwargs: Any) -> AsyncClient:
        kwargs.setdefault("limits", self.limits)
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("poll_interval", 0.05)
        return AsyncClient(self.manager(), transport=self.handle.async_transport(), **kwargs)

    def api_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = self.handle.counters()["api_requests"]
        return counts

    def statuses(self) -> dict[str, int]:
        """Responses by status over every API route."""
        total: dict[str, int] = {}
        for by_status in self.api_counts().values():
            for status, n in by_status.items():
                total[status] = total.get(status, 0) + n
        return total

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for manager in self.managers:
            manager.close()


MakeApiEnv = Callable[..., ApiEnv]


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    set_testing(True)
    yield
    set_testing(False)


@pytest.fixture(params=["inprocess", "socket"])
def make_api_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeApiEnv]:
    """``make_api_env(limits=..., login=True, **emulator_changes)`` in both modes."""
    mode: str = request.param
    envs: list[tuple[ApiEnv, Any]] = []

    def make(
        *,
        limits: RateLimits = FAST_CLIENT,
        login: bool = True,
        scopes: tuple[str, ...] = SCOPES,
        **changes: Any,
    ) -> ApiEnv:
        config = EmulatorConfig(auto_approve=True).with_changes(**{**FAST_EMULATOR, **changes})
        context = inprocess_emulator(config) if mode == "inprocess" else start_emulator(config)
        handle = context.__enter__()
        env = ApiEnv(handle, mode, f"sqlite:///{tmp_path}/store-{len(envs)}.db", limits)
        envs.append((env, context))
        if login:
            env.login(scopes)
        return env

    yield make
    for env, context in reversed(envs):
        env.close()
        context.__exit__(None, None, None)


@pytest.fixture
def api_env(make_api_env: MakeApiEnv) -> ApiEnv:
    return make_api_env()


@pytest.fixture
def client(api_env: ApiEnv) -> Client:
    return api_env.client()


NO_RETRY = RetryPolicy(attempts=1)
