"""Account services: the account summary and the user's privileges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ctct.api.errors import Requirement
from ctct.api.flow import Flow, Json, get, json_flow, object_flow, with_body
from ctct.api.retry import RetryPolicy
from ctct.api.runner import AsyncRunner, SyncRunner, clean_params
from ctct.api.shapes import AccountSummary

READ = Requirement(("account_read", "account_update"), "account:read")
UPDATE = Requirement(("account_update",), "account:update")


def summary_flow(policy: RetryPolicy, extra_fields: Sequence[str] = ()) -> Flow[AccountSummary]:
    params = clean_params({"extra_fields": list(extra_fields)})
    return cast(
        Flow[AccountSummary], object_flow(get("/account/summary", params, requirement=READ), policy)
    )


def update_summary_flow(policy: RetryPolicy, changes: Json) -> Flow[AccountSummary]:
    call = with_body("PUT", "/account/summary", changes, requirement=UPDATE)
    return cast(Flow[AccountSummary], object_flow(call, policy))


def privileges_flow(policy: RetryPolicy) -> Flow[Any]:
    return json_flow(get("/account/user/privileges"), policy)


class Account:
    """``client.account``: ``summary()``, ``update_summary(changes)``, ``privileges()``."""

    def __init__(self, runner: SyncRunner) -> None:
        self._r = runner

    def summary(self, extra_fields: Sequence[str] = ()) -> AccountSummary:
        """``GET /account/summary`` (``extra_fields``: physical_address, company_logo)."""
        return self._r.run(summary_flow(self._r.policy, extra_fields))

    def update_summary(self, changes: Json) -> AccountSummary:
        """``PUT /account/summary`` with the properties to change."""
        return self._r.run(update_summary_flow(self._r.policy, changes))

    def privileges(self) -> list[Json]:
        """``GET /account/user/privileges``: the logged-in user's privileges."""
        return list(self._r.run(privileges_flow(self._r.policy)) or [])


class AsyncAccount:
    """``async_client.account``: the same operations as ``Account``, awaited."""

    def __init__(self, runner: AsyncRunner) -> None:
        self._r = runner

    async def summary(self, extra_fields: Sequence[str] = ()) -> AccountSummary:
        return await self._r.run(summary_flow(self._r.policy, extra_fields))

    async def update_summary(self, changes: Json) -> AccountSummary:
        return await self._r.run(update_summary_flow(self._r.policy, changes))

    async def privileges(self) -> list[Json]:
        return list(await self._r.run(privileges_flow(self._r.policy)) or [])
