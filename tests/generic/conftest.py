"""Fixtures for the emulator's generic provider mode, reached the way ctct reaches any
provider other than Constant Contact: discovery from ``CTCT_ISSUER``.

``generic`` runs each test twice, against RFC 9068 JWT access tokens and against opaque
ones. The emulator and ctct share one clock (``SharedClock``), so expiries are reached
by advancing it rather than by waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ctct._manager import TokenManager
from ctct._refresh import RefreshPolicy
from ctct._settings import Settings
from ctct.emulator import Emulator, EmulatorConfig
from ctct.emulator.clock import Clock
from ctct.emulator.server import EmulatorServer
from ctct.flows import Login, LoginResult
from ctct.testing import EmulatorHandle
from tests.refresh.conftest import SharedClock

SCOPES = "account_read contact_data"


@dataclass
class Generic:
    """A generic-mode emulator on a loopback port and ctct's settings for it."""

    server: EmulatorServer
    handle: EmulatorHandle
    clock: SharedClock
    format: str  # "jwt" or "opaque"
    env: dict[str, str]
    config_file: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    def settings(self, **env: str) -> Settings:
        return Settings.load(env={**self.env, **env}, config_path=self.config_file)

    def manager(self, **kwargs: Any) -> TokenManager:
        kwargs.setdefault("policy", RefreshPolicy(backoff_initial=0.01, backoff_max=0.05))
        return TokenManager.from_settings(self.settings(), clock=self.clock, **kwargs)

    def device_login(self) -> LoginResult:
        """A device login through discovery (the emulator approves it at once)."""
        settings = self.settings()
        login = Login(
            self.manager(),
            scopes=settings.scopes,
            sleep=self.clock.advance,  # the device flow's waits move the shared clock
            owns_manager=True,
        )
        with login:
            return login.device(timeout=10)

    def refreshes(self) -> dict[str, int]:
        counts: dict[str, int] = self.emu.counters.snapshot()["token_requests"].get(
            "refresh_token", {}
        )
        return counts


def generic_config(access_token_format: str, **changes: Any) -> EmulatorConfig:
    return EmulatorConfig(
        provider="generic",
        access_token_format=access_token_format,  # type: ignore[arg-type]
        auto_approve=True,
        device_poll_interval=1,
    ).with_changes(**changes)


@pytest.fixture(params=["jwt", "opaque"])
def generic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Generic]:
    fmt: str = request.param
    clock = SharedClock()
    emulator = Emulator(generic_config(fmt), clock=Clock(source=clock))
    config_file = tmp_path / "config.toml"
    config_file.touch()
    with (
        EmulatorServer(emulator=emulator) as server,
        EmulatorHandle(server.base_url, emulator=emulator) as handle,
    ):
        env = {
            **handle.env(),
            "CTCT_SCOPES": SCOPES,
            "CTCT_STORE": f"sqlite:///{tmp_path}/tokens.db",
            "CTCT_STORE_KEYRING": "0",
        }
        yield Generic(server, handle, clock, fmt, env, config_file)


def api(generic: Generic, manager: TokenManager) -> httpx2.Client:
    """An httpx2 client for the emulator's V3 API, authenticated by ``manager``."""
    from ctct._auth import BearerAuth

    return httpx2.Client(base_url=generic.base_url, auth=BearerAuth(manager))
