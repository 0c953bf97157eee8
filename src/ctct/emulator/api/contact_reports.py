"""Contacts reporting: ``/v3/reports/contact_reports/{contact_id}/activity_details``
(the contact's tracking activities, newest first, cursor pages of up to 100),
``.../activity_summary`` (per email activity sent to the contact from ``start`` to
``end``: how many sends, opens, clicks... the most recent 200) and
``.../open_and_click_rates`` (over the same activities: the share the contact opened,
and the share it clicked; there ``start`` to ``end`` is at most 5 years, CC's limit). Scope
``contact_data``, privilege ``ui:campaign:metrics``. Deleted contacts keep their
reports; an id that is no contact of the account is a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, report_common
from ctct.emulator.api.gateway import Caller, Operation, Resource
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.report_common import PRIVILEGE, SCOPE_CONTACTS
from ctct.emulator.api.report_store import ReportStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

ACTIVITY_TYPES: Final = (
    "em_sends",
    "em_opens",
    "em_clicks",
    "em_bounces",
    "em_optouts",
    "em_forwards",
    "p_contact_open",
    "p_contact_click",
    "p_contact_add",
    "p_contact_update",
)
MAX_DETAILS: Final = 100
MAX_SUMMARIES: Final = 200
MAX_RANGE: Final = 5 * 366 * 86_400


def resources(emu: Emulator) -> list[Resource]:
    reports = ReportStore(emu.db)

    def contact(request: Request, caller: Caller) -> str:
        contact_id = report_common.path_uuid(request, "contact_id")
        if emu.accounts.contacts.get(caller.account_id, contact_id) is None:
            raise report_common.not_found("contact_id", f"Contact {contact_id} was not found.")
        return contact_id

    def date_range(request: Request, capped: bool) -> tuple[float, float]:
        problems: list[str] = []
        start = report_common.moment(request.query_params, "start", problems, required=True)
        end = report_common.moment(request.query_params, "end", problems, required=True)
        if start is not None and end is not None:
            if end < start:
                problems.append("end must not be before start.")
            elif capped and end - start > MAX_RANGE:
                problems.append("The range from start to end cannot exceed 5 years.")
        if problems or start is None or end is None:
            raise report_common.bad_request(*problems)
        return start, end

    async def details(request: Request, caller: Caller) -> Response:
        contact_id = contact(request, caller)
        query = request.query_params
        size = report_common.limit(query, MAX_DETAILS, MAX_DETAILS)
        where, filters = report_common.position(query, emu.clock.now())
        if not query.get("cursor"):
            filters = {"types": _types(request), "names": _names(request)}
        types: list[str] = filters.get("types") or list(ACTIVITY_TYPES)
        if not set(types) <= set(ACTIVITY_TYPES):
            raise report_common.bad_request("cursor is not valid: start again without it.")
        clause = f"e.contact_id = ? AND e.kind IN ({','.join('?' * len(types))})"
        rows, more = reports.events(where, size, clause, [contact_id, *types])
        items = []
        for row in rows:
            item: dict[str, Any] = {
                "contact_id": contact_id,
                "campaign_activity_id": row["activity_id"],
                "created_time": format_datetime(row["at"]),
                "tracking_activity_type": row["kind"],
            }
            if filters.get("names", True) and row["campaign_name"]:
                item["campaign_activity_name"] = row["campaign_name"]
            items.append(item)
        body: dict[str, Any] = {"tracking_activities": items}
        if more:
            href = report_common.next_href(request, where, rows[-1], size, filters)
            body["_links"] = {"next": {"href": href}}
        return errors.json_response(body)

    def activities(request: Request, caller: Caller, capped: bool) -> tuple[str, list[Any]]:
        contact_id = contact(request, caller)
        start, end = date_range(request, capped)
        now = emu.clock.now()
        return contact_id, reports.contact_activities(contact_id, start, end, now, MAX_SUMMARIES)

    async def summary(request: Request, caller: Caller) -> Response:
        contact_id, rows = activities(request, caller, capped=False)
        keys = ("em_bounces", "em_clicks", "em_forwards", "em_opens", "em_sends", "em_unsubscribes")
        items = [
            {
                "campaign_activity_id": row["activity_id"],
                "start_on": format_datetime(row["start_on"]),
                **{key: int(row[key]) for key in keys},
            }
            for row in rows
        ]
        return errors.json_response({"contact_id": contact_id, "campaign_activities": items})

    async def rates(request: Request, caller: Caller) -> Response:
        contact_id, rows = activities(request, caller, capped=True)
        included = len(rows)
        opened = sum(1 for row in rows if row["em_opens"])
        clicked = sum(1 for row in rows if row["em_clicks"])
        return errors.json_response(
            {
                "contact_id": contact_id,
                "included_activities_count": included,
                "average_open_rate": round(opened / included, 4) if included else 0.0,
                "average_click_rate": round(clicked / included, 4) if included else 0.0,
            }
        )

    base = "/reports/contact_reports/{contact_id}"
    return [
        Resource(
            base + "/activity_details", (Operation("GET", details, SCOPE_CONTACTS, PRIVILEGE),)
        ),
        Resource(
            base + "/open_and_click_rates", (Operation("GET", rates, SCOPE_CONTACTS, PRIVILEGE),)
        ),
        Resource(
            base + "/activity_summary", (Operation("GET", summary, SCOPE_CONTACTS, PRIVILEGE),)
        ),
    ]


def _types(request: Request) -> list[str]:
    """``tracking_activities_list`` (comma-separated) or ``tracking_activity_type``
    (repeated): exactly one of them (CC: they are mutually exclusive, one is needed)."""
    query = request.query_params
    listed = query.get("tracking_activities_list")
    repeated = query.getlist("tracking_activity_type")
    if listed and repeated:
        raise report_common.bad_request(
            "tracking_activities_list and tracking_activity_type are mutually exclusive: "
            "send one of them."
        )
    values = [v.strip() for v in (listed or ",".join(repeated)).split(",") if v.strip()]
    if not values:
        raise report_common.bad_request(
            "Name the tracking activity types with tracking_activities_list (e.g. "
            f"em_opens,em_clicks) or tracking_activity_type; valid: {', '.join(ACTIVITY_TYPES)}."
        )
    bad = [v for v in values if v not in ACTIVITY_TYPES]
    if bad:
        raise report_common.bad_request(
            f"Not tracking activity types: {', '.join(bad)}; valid: {', '.join(ACTIVITY_TYPES)}."
        )
    return list(dict.fromkeys(values))


def _names(request: Request) -> bool:
    raw = request.query_params.get("include_campaign_activity_names", "true").lower()
    if raw not in ("true", "false"):
        raise report_common.bad_request(
            f"include_campaign_activity_names must be true or false; got {raw!r}."
        )
    return raw == "true"
