"""Assembles the emulator: shared state (``Emulator``) and the ASGI app serving
CC's authorization-server paths, the V3 API and the control API on one origin, or on
CC's three hosts' origins with ``split_hosts`` (see ``hosts``)."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctct.emulator import accounts, api, control, generic, grants, oauth
from ctct.emulator.api.amzn import AmznHeadersMiddleware
from ctct.emulator.clock import Clock
from ctct.emulator.config import EmulatorConfig
from ctct.emulator.control_guard import ControlGuardMiddleware
from ctct.emulator.counters import Counters
from ctct.emulator.db import Database
from ctct.emulator.faults import FaultMiddleware, Faults
from ctct.emulator.hosts import HostRoles, SplitHostsMiddleware
from ctct.emulator.keys import KeyRing
from ctct.emulator.ratelimit import DailyQuota, TokenBucket
from ctct.emulator.settle import SettleMiddleware

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class Emulator:
    """Everything the emulator's routes share. One instance per running emulator."""

    def __init__(self, config: EmulatorConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        generic.check_config(self.config)
        self.db = Database(self.config.data_path)
        offset = float(self.db.get_meta("clock_offset") or 0.0)
        self.clock = clock or Clock(offset=offset)
        self.clock.listeners.append(lambda off: self.db.set_meta("clock_offset", repr(off)))
        self.keys = KeyRing(self.db, self.clock)
        self.counters = Counters()
        self.faults = Faults()
        self.token_limiter = TokenBucket(
            self.clock, self.config.token_rate_per_second, self.config.token_burst
        )
        self.api_limiter = TokenBucket(
            self.clock, self.config.api_rate_per_second, self.config.api_burst
        )
        self.api_quota = DailyQuota(self.clock, self.config.api_daily_quota)
        self.grants = grants.GrantStore(self)
        self.accounts = accounts.AccountStore(self)
        # Filled in by whoever binds the ports when the config splits the hosts.
        self.host_roles = HostRoles()

    def reset(self) -> None:
        """Forget grants, data, counters, faults and limits; keep config and keys."""
        self.counters.reset()
        self.faults.reset()
        self.token_limiter.reset()
        self.api_limiter.reset()
        self.api_quota.reset()
        self.grants.reset()
        self.accounts.reset()
        # Access tokens minted before the reset must stop working with their grants.
        self.db.clear(["access_tokens"])

    def close(self) -> None:
        self.accounts.close()  # stop the bulk-activity worker before its database goes
        self.db.close()


class HostCheckMiddleware:
    """Refuse requests whose Host is not one we serve (DNS-rebinding protection:
    the control API has no authentication)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _host_of(scope)
            if host not in self.allowed:
                response = PlainTextResponse(
                    f"Host {host!r} is not served by this emulator", status_code=421
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            host: str = value.decode("latin-1").lower()
            if host.startswith("["):
                return host.split("]")[0] + "]"
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    server: Any = scope.get("server")
    return str(server[0]) if server else ""


class DateHeaderMiddleware:
    """Set ``Date`` from the emulator's clock, so advancing the clock moves it too."""

    def __init__(self, app: ASGIApp, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                date = formatdate(self.clock.now(), usegmt=True).encode("ascii")
                headers.append((b"date", date))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_date)


def create_app(config: EmulatorConfig | None = None, emulator: Emulator | None = None) -> Starlette:
    """Build the ASGI app. ``app.state.emulator`` is the shared ``Emulator``."""
    emu = emulator or Emulator(config)
    allowed = frozenset(LOOPBACK_HOSTS | {h.lower() for h in emu.config.allowed_hosts})
    middleware: list[Any] = [
        Middleware(HostCheckMiddleware, allowed=allowed),
        Middleware(ControlGuardMiddleware),
        Middleware(DateHeaderMiddleware, clock=emu.clock),
        Middleware(SplitHostsMiddleware, roles=emu.host_roles),
        Middleware(AmznHeadersMiddleware),
        Middleware(FaultMiddleware, faults=emu.faults),
        Middleware(SettleMiddleware, accounts=emu.accounts),
    ]
    if generic.enabled(emu.config):
        middleware.insert(1, Middleware(generic.IssuerMiddleware))
    app = Starlette(
        routes=[*oauth.routes(emu), *api.routes(emu), *control.routes(emu)],
        middleware=middleware,
    )
    app.state.emulator = emu
    return app
