"""Email campaigns: list, create, get; read and update a campaign activity (who receives
it: ``contact_list_ids``), and schedule it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, cast
from urllib.parse import quote

from ctct.api.errors import Requirement
from ctct.api.flow import Flow, Json, get, json_flow, object_flow, with_body
from ctct.api.retry import RetryPolicy
from ctct.api.runner import MAX_PAGE, AsyncRunner, SyncRunner, aiter_items, clean_params, iter_items
from ctct.api.shapes import EmailCampaign

READ = Requirement(("campaign_data",), "campaign:read")
WRITE = Requirement(("campaign_data",), "campaign:write")
SEND = Requirement(("campaign_data",), "campaign:send")


def _list_call(query: dict[str, Any]) -> Any:
    params = clean_params({"limit": MAX_PAGE["campaigns"], **query})
    return get("/emails", params, requirement=READ)


def get_flow(policy: RetryPolicy, campaign_id: str) -> Flow[EmailCampaign]:
    call = get(f"/emails/{quote(campaign_id, safe='')}", requirement=READ)
    return cast(Flow[EmailCampaign], object_flow(call, policy))


def create_flow(policy: RetryPolicy, body: Json) -> Flow[EmailCampaign]:
    # No retry on a 5xx (POST), and a retried POST after a 429 is safe: CC refuses it
    # before processing.
    call = with_body("POST", "/emails", body, requirement=WRITE)
    return cast(Flow[EmailCampaign], object_flow(call, policy))


def _activity_path(campaign_activity_id: str) -> str:
    return f"/emails/activities/{quote(campaign_activity_id, safe='')}"


def get_activity_flow(policy: RetryPolicy, campaign_activity_id: str) -> Flow[Json]:
    return object_flow(get(_activity_path(campaign_activity_id), requirement=READ), policy)


def update_activity_flow(policy: RetryPolicy, campaign_activity_id: str, body: Json) -> Flow[Json]:
    # PUT replaces the activity: callers send the whole activity (see set_recipients).
    return object_flow(
        with_body("PUT", _activity_path(campaign_activity_id), body, requirement=WRITE), policy
    )


def with_recipients(activity: Json, list_ids: list[str]) -> Json:
    """The full activity body for a PUT that sends it to ``list_ids``."""
    return {**activity, "contact_list_ids": list(list_ids)}


def schedule_flow(policy: RetryPolicy, campaign_activity_id: str, scheduled_date: str) -> Flow[Any]:
    path = f"/emails/activities/{quote(campaign_activity_id, safe='')}/schedules"
    return json_flow(
        with_body("POST", path, {"scheduled_date": scheduled_date}, requirement=SEND), policy
    )


def primary_activity_id(campaign: Mapping[str, Any]) -> str | None:
    """The ``campaign_activity_id`` of the campaign's ``primary_email`` activity."""
    for activity in campaign.get("campaign_activities") or []:
        if isinstance(activity, dict) and activity.get("role") == "primary_email":
            value = activity.get("campaign_activity_id")
            return str(value) if value else None
    return None


class EmailCampaigns:
    """``client.emails``: ``iter()``, ``create(body)``, ``get(id)``,
    ``get_activity(id)``, ``set_recipients(id, list_ids)``,
    ``schedule(campaign_activity_id, date, list_ids=...)``."""

    def __init__(self, runner: SyncRunner) -> None:
        self._r = runner

    def iter(self, **query: Any) -> Iterator[EmailCampaign]:
        """Every campaign (``before_date``/``after_date`` filter), page by page."""
        return cast(Iterator[EmailCampaign], iter_items(self._r, _list_call(query), "campaigns"))

    def create(self, body: Json) -> EmailCampaign:
        """``POST /emails`` with ``name`` and ``email_campaign_activities``."""
        return self._r.run(create_flow(self._r.policy, body))

    def get(self, campaign_id: str) -> EmailCampaign:
        return self._r.run(get_flow(self._r.policy, campaign_id))

    def get_activity(self, campaign_activity_id: str) -> Json:
        return self._r.run(get_activity_flow(self._r.policy, campaign_activity_id))

    def update_activity(self, campaign_activity_id: str, body: Json) -> Json:
        """``PUT /emails/activities/{id}`` with the whole activity."""
        return self._r.run(update_activity_flow(self._r.policy, campaign_activity_id, body))

    def set_recipients(self, campaign_activity_id: str, list_ids: list[str]) -> Json:
        """Send the activity to these contact lists (a full PUT of the activity)."""
        activity = self.get_activity(campaign_activity_id)
        return self.update_activity(campaign_activity_id, with_recipients(activity, list_ids))

    def schedule(
        self,
        campaign_activity_id: str,
        scheduled_date: str = "0",
        *,
        list_ids: list[str] | None = None,
    ) -> list[Json]:
        """Schedule the activity (``"0"``: send now; else an ISO-8601 date), to
        ``list_ids`` if given (Constant Contact refuses a schedule without recipients)."""
        if list_ids is not None:
            self.set_recipients(campaign_activity_id, list_ids)
        result = self._r.run(schedule_flow(self._r.policy, campaign_activity_id, scheduled_date))
        return list(result or [])


class AsyncEmailCampaigns:
    def __init__(self, runner: AsyncRunner) -> None:
        self._r = runner

    def iter(self, **query: Any) -> AsyncIterator[EmailCampaign]:
        items = aiter_items(self._r, _list_call(query), "campaigns")
        return cast(AsyncIterator[EmailCampaign], items)

    async def create(self, body: Json) -> EmailCampaign:
        return await self._r.run(create_flow(self._r.policy, body))

    async def get(self, campaign_id: str) -> EmailCampaign:
        return await self._r.run(get_flow(self._r.policy, campaign_id))

    async def get_activity(self, campaign_activity_id: str) -> Json:
        return await self._r.run(get_activity_flow(self._r.policy, campaign_activity_id))

    async def update_activity(self, campaign_activity_id: str, body: Json) -> Json:
        return await self._r.run(update_activity_flow(self._r.policy, campaign_activity_id, body))

    async def set_recipients(self, campaign_activity_id: str, list_ids: list[str]) -> Json:
        activity = await self.get_activity(campaign_activity_id)
        return await self.update_activity(campaign_activity_id, with_recipients(activity, list_ids))

    async def schedule(
        self,
        campaign_activity_id: str,
        scheduled_date: str = "0",
        *,
        list_ids: list[str] | None = None,
    ) -> list[Json]:
        if list_ids is not None:
            await self.set_recipients(campaign_activity_id, list_ids)
        result = await self._r.run(
            schedule_flow(self._r.policy, campaign_activity_id, scheduled_date)
        )
        return list(result or [])
