"""An emulator behind an ``EchoProxy``, and ctct's library pointed at the proxy: the
setup of the library-level "no secret echoed" tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct.emulator import AppConfig
from ctct.emulator.config import DEFAULT_CLIENT_ID
from ctct.flows import Login
from ctct.stores import open_store
from ctct.testing import EmulatorHandle, start_emulator
from tests.support.echo_proxy import MARKERS, EchoProxy, leaks


@dataclass
class EchoEnv:
    emu: EmulatorHandle
    proxy: EchoProxy
    provider: Provider
    client: ClientCredentials
    client_secret: str
    http: httpx2.Client
    _store: str = field(default_factory=lambda: f"memory://echo-{secrets.token_hex(6)}")

    def manager(self, **kwargs: Any) -> TokenManager:
        return TokenManager(
            provider=self.provider,
            client=self.client,
            store=open_store(self._store),
            owns_store=True,
            **kwargs,
        )

    def login(self, manager: TokenManager) -> None:
        """A real device login through the proxy (the emulator approves by itself)."""
        Login(manager).device(timeout=30)

    def assert_clean(self, *texts: str, echoed: bool = True) -> None:
        """No secret the proxy saw in ``texts``; with ``echoed``, its ids readable."""
        text = "\n".join(texts)
        found = leaks(text, [*self.proxy.seen, self.client_secret])
        assert not found, f"secrets shown: {found}\n{text}"
        assert "\x1b" not in text
        if echoed:
            for marker in MARKERS:
                assert marker in text, f"{marker} was mangled or dropped:\n{text}"


def describe(error: BaseException) -> str:
    """Everything an exception shows: str, repr, args and every attribute."""
    parts = [str(error), repr(error), repr(error.args)]
    parts.extend(f"{k}={v!r}" for k, v in vars(error).items())
    return "\n".join(parts)


@contextmanager
def echo_env(**changes: Any) -> Iterator[EchoEnv]:
    """An emulator (a confidential app with a random secret, logins approved at once)
    behind an echoing proxy; the provider profile points every endpoint at the proxy."""
    client_secret = "cs-" + secrets.token_urlsafe(24)
    app = AppConfig(DEFAULT_CLIENT_ID, client_secret, name="Echo test app")
    settings: dict[str, Any] = {
        "apps": (app,),
        "auto_approve": True,
        "device_poll_interval": 0,
        "token_rate_per_second": 100.0,
        **changes,
    }
    with (
        start_emulator(**settings) as emu,
        EchoProxy(emu.base_url) as proxy,
        httpx2.Client(timeout=30) as http,
    ):
        proxy.remember(client_secret)
        yield EchoEnv(
            emu,
            proxy,
            # No client-side token-endpoint pacing: the emulator is told to allow 100/s.
            replace(Provider.constant_contact(proxy.base_url), token_rate_per_second=None),
            ClientCredentials(DEFAULT_CLIENT_ID, Secret(client_secret)),
            client_secret,
            http,
        )
