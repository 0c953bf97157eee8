"""Middleware that applies what is due on the emulator's clock - scheduled email sends,
their simulated tracking and its effects on contacts - before and after every request
to the V3 API and the control API (OAuth requests touch no account data).

Before: whatever a request reads is current. After: a request that makes something due
at once ("send now", a clock advance) has it done before anything else happens, so a
send's recipients are the contacts at its time, not those of some later request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from ctct.emulator.accounts import AccountStore


_SETTLED = ("/v3/", "/__emulator/")


class SettleMiddleware:
    def __init__(self, app: ASGIApp, accounts: AccountStore) -> None:
        self.app = app
        self.accounts = accounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(_SETTLED):
            await self.app(scope, receive, send)
            return
        self.accounts.settle()
        try:
            await self.app(scope, receive, send)
        finally:
            self.accounts.settle()
