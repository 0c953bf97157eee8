"""Email campaigns: ``/v3/emails`` (GET paginated, POST), ``/v3/emails/{campaign_id}``
(GET, PATCH name, DELETE), ``/v3/emails/activities/{campaign_activity_id}`` (GET, PUT) and
its ``/schedules`` (GET, POST, DELETE). Scope ``campaign_data``; privileges
``campaign:read``/``write``/``delete``/``send`` as CC's contract assigns them.

POST answers 200 (CC's contract says so, not 201) with a Draft campaign. Only the
``primary_email`` activity can be changed or scheduled, in ``DRAFT``/``DONE`` (PUT) or
``DRAFT``/``DONE``/``ERROR`` (schedule) status, and scheduling needs ``contact_list_ids``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, params
from ctct.emulator.api.email_input import (
    AREA,
    campaign_name,
    parse_activity_put,
    parse_campaign,
    parse_schedule,
)
from ctct.emulator.api.email_store import EmailStore, activity_not_found, campaign_not_found
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.isotime import format_datetime, parse_datetime

if TYPE_CHECKING:
    import sqlite3

    from ctct.emulator.app import Emulator

MAX_LIMIT: Final = 500
MAX_XREFS: Final = 50
INCLUDES: Final = (
    "physical_address_in_footer",
    "permalink_url",
    "html_content",
    "document_properties",
)
_SCOPE: Final = ("campaign_data",)


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.emails

    def senders(account_id: str) -> frozenset[str]:
        """The account's confirmed addresses (``/v3/account/emails``): at first its users'
        logins and its contact email."""
        return emu.accounts.addresses(account_id).confirmed(account_id)

    def campaign_body(account_id: str, campaign_id: str) -> dict[str, Any]:
        row = store.campaign(account_id, campaign_id)
        if row is None:
            raise campaign_not_found(campaign_id)
        return store.campaign_resource(row, with_activities=True)

    def primary(request: Request, caller: Caller, statuses: tuple[str, ...]) -> sqlite3.Row:
        return primary_activity(store, request, caller, statuses)

    async def list_campaigns(request: Request, caller: Caller) -> Response:
        query = request.query_params
        limit = pagination.parse_limit(query.get("limit"), AREA, MAX_LIMIT)
        if query.get("cursor"):
            state, after = pagination.decode_cursor(query["cursor"], AREA)
            before_date, after_date = state.get("b"), state.get("a")
        else:
            after = 0
            before_date, after_date = _dates(query.get("before_date"), query.get("after_date"))
        rows, more = store.page(caller.account_id, after, limit, before_date, after_date)
        body: dict[str, Any] = {
            "campaigns": [store.campaign_resource(r, with_activities=False) for r in rows]
        }
        if more:
            token = pagination.encode_cursor({"b": before_date, "a": after_date}, rows[-1]["seq"])
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def create_campaign(request: Request, caller: Caller) -> Response:
        name, fields = parse_campaign(await read_json(request, AREA), senders(caller.account_id))
        campaign_id = store.create(caller.account_id, name, fields)
        return errors.json_response(campaign_body(caller.account_id, campaign_id))

    async def xrefs(request: Request, caller: Caller) -> Response:
        ids = params.csv_values(request.query_params.get("v2_email_campaign_ids"))
        problems = []
        if not ids:
            problems.append("v2_email_campaign_ids is required: comma-separated V2 campaign ids.")
        if len(ids) > MAX_XREFS:
            problems.append(f"v2_email_campaign_ids: at most {MAX_XREFS} ids; got {len(ids)}.")
        bad = [i for i in ids if not (i.isascii() and i.isdigit()) or int(i) >= 2**63]
        if bad:
            problems.append(f"v2_email_campaign_ids must be numbers; not valid: {', '.join(bad)}.")
        if problems:
            raise errors.validation(AREA, *problems)
        found = store.by_v2_ids(caller.account_id, [int(i) for i in dict.fromkeys(ids)])
        return errors.json_response({"xrefs": found})

    async def get_campaign(request: Request, caller: Caller) -> Response:
        campaign_id = params.path_uuid(request, "campaign_id", AREA)
        return errors.json_response(campaign_body(caller.account_id, campaign_id))

    async def rename_campaign(request: Request, caller: Caller) -> Response:
        campaign_id = params.path_uuid(request, "campaign_id", AREA)
        problems: list[str] = []
        name = campaign_name(await read_json(request, AREA), problems)
        if problems:
            raise errors.validation(AREA, *problems)
        store.rename(caller.account_id, campaign_id, name)
        return errors.json_response(campaign_body(caller.account_id, campaign_id))

    async def delete_campaign(request: Request, caller: Caller) -> Response:
        store.remove(caller.account_id, params.path_uuid(request, "campaign_id", AREA))
        return Response(status_code=204)

    async def get_activity(request: Request, caller: Caller) -> Response:
        activity_id = params.path_uuid(request, "campaign_activity_id", AREA)
        include = params.csv_values(request.query_params.get("include"))
        unknown = [i for i in include if i not in INCLUDES]
        if unknown:
            raise errors.validation(
                AREA, f"include: {', '.join(unknown)} not valid; use {', '.join(INCLUDES)}."
            )
        row = store.activity(caller.account_id, activity_id)
        if row is None:
            raise activity_not_found(activity_id)
        return errors.json_response(store.activity_resource(row, frozenset(include)))

    async def put_activity(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        row = primary(request, caller, ("DRAFT", "DONE"))
        fields, list_ids = parse_activity_put(body, senders(caller.account_id))
        if list_ids:
            with emu.db.transaction() as conn:
                missing = emu.accounts.lists.missing_ids(conn, caller.account_id, list_ids)
            if missing:
                raise errors.validation(
                    AREA, *(f"contact_list_ids: list {m} does not exist." for m in missing)
                )
        for segment_id in fields.get("segment_ids", []):
            if emu.accounts.segments.live(caller.account_id, segment_id) is None:
                raise errors.validation(AREA, f"segment_ids: segment {segment_id} does not exist.")
        data: dict[str, Any] = json.loads(row["data"])
        # PUT replaces properties; sub-resources left out are kept (CC's rule).
        kept: dict[str, Any] = {
            k: data[k]
            for k in ("html_content", "physical_address_in_footer", "document_properties")
            if k in data
        }
        new: dict[str, Any] = {
            **kept,
            **fields,
            "contact_list_ids": list_ids if list_ids is not None else [],
        }
        store.update_activity(row, new)
        updated = store.activity(caller.account_id, row["campaign_activity_id"])
        assert updated is not None  # exists, updated above
        return errors.json_response(store.activity_resource(updated, frozenset()))

    async def get_schedules(request: Request, caller: Caller) -> Response:
        activity_id = params.path_uuid(request, "campaign_activity_id", AREA)
        row = store.activity(caller.account_id, activity_id)
        if row is None:
            raise activity_not_found(activity_id)
        scheduled = row["status"] == "SCHEDULED" and row["scheduled_at"] is not None
        body = [{"scheduled_date": format_datetime(row["scheduled_at"])}] if scheduled else []
        return errors.json_response(body)

    async def post_schedule(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        row = primary(request, caller, ("DRAFT", "DONE", "ERROR"))
        data = json.loads(row["data"])
        if not data.get("contact_list_ids") and not data.get("segment_ids"):
            raise errors.validation(
                AREA,
                "The activity has no contacts to send to: PUT it with contact_list_ids "
                "(or segment_ids) first.",
            )
        when = parse_schedule(body, emu.clock.now())
        store.schedule(row, when)
        answer = [] if when is None else [{"scheduled_date": format_datetime(when)}]
        return errors.json_response(answer, 201)

    async def delete_schedule(request: Request, caller: Caller) -> Response:
        row = primary(request, caller, ("SCHEDULED",))
        store.unschedule(row)
        return Response(status_code=204)

    return [
        Resource(
            "/emails",
            (
                Operation("GET", list_campaigns, _SCOPE, "campaign:read"),
                Operation("POST", create_campaign, _SCOPE, "campaign:write"),
            ),
        ),
        # Fixed paths before /emails/{campaign_id}, which would otherwise take them.
        Resource("/emails/campaign_id_xrefs", (Operation("GET", xrefs, _SCOPE, "campaign:read"),)),
        Resource(
            "/emails/activities/{campaign_activity_id}",
            (
                Operation("GET", get_activity, _SCOPE, "campaign:read"),
                Operation("PUT", put_activity, _SCOPE, "campaign:write"),
            ),
        ),
        Resource(
            "/emails/activities/{campaign_activity_id}/schedules",
            (
                Operation("GET", get_schedules, _SCOPE, "campaign:read"),
                Operation("POST", post_schedule, _SCOPE, "campaign:send"),
                Operation("DELETE", delete_schedule, _SCOPE, "campaign:send"),
            ),
        ),
        Resource(
            "/emails/{campaign_id}",
            (
                Operation("GET", get_campaign, _SCOPE, "campaign:read"),
                Operation("PATCH", rename_campaign, _SCOPE, "campaign:write"),
                Operation("DELETE", delete_campaign, _SCOPE, "campaign:delete"),
            ),
        ),
    ]


def primary_activity(
    store: EmailStore, request: Request, caller: Caller, statuses: tuple[str, ...] | None = None
) -> sqlite3.Row:
    """The path's ``primary_email`` activity, in one of ``statuses`` (None: any); CC's
    404 or 400 otherwise."""
    activity_id = params.path_uuid(request, "campaign_activity_id", AREA)
    row = store.activity(caller.account_id, activity_id)
    if row is None:
        raise activity_not_found(activity_id)
    if row["role"] != "primary_email":
        raise errors.validation(
            AREA, f"This needs the primary_email activity; this is the {row['role']}."
        )
    if statuses is not None and row["status"] not in statuses:
        raise errors.validation(
            AREA,
            f"The activity is {row['status']}; this needs it to be {' or '.join(statuses)}.",
        )
    return row


def _dates(before: str | None, after: str | None) -> tuple[float | None, float | None]:
    problems: list[str] = []
    values: list[float | None] = []
    for name, raw in (("before_date", before), ("after_date", after)):
        if not raw:
            values.append(None)
            continue
        moment = parse_datetime(raw)
        if moment is None:
            problems.append(f"{name} must be an ISO-8601 date-time; got {raw!r}.")
        values.append(moment)
    if problems:
        raise errors.validation(AREA, *problems)
    return values[0], values[1]
