"""Email reporting per campaign activity: ``/v3/reports/email_reports/{id}/tracking/...``
(sends, opens, unique_opens, didnotopens, clicks, forwards, optouts, bounces) and
``/v3/reports/email_reports/{id}/links``. Scope ``campaign_data``, privilege
``ui:campaign:metrics`` (so a campaign creator cannot read reports, as at CC).

Reports cover ``primary_email`` and ``resend`` activities, newest first, with cursor
pages of up to 500 (default 500). The opt-outs and bounces pages always carry
``_links`` (their contract requires it), empty on the last page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, report_common
from ctct.emulator.api.gateway import Caller, Operation, Resource
from ctct.emulator.api.report_common import PRIVILEGE, SCOPE_CAMPAIGNS
from ctct.emulator.api.report_store import Position, ReportStore
from ctct.emulator.api.tracking_plan import BOUNCE_CODES

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT: Final = 500
REPORTED_ROLES: Final = ("primary_email", "resend")


@dataclass(frozen=True)
class Report:
    kind: str  # the events listed
    shown_as: str  # their tracking_activity_type
    unique_by: tuple[str, ...] = ()
    links_required: bool = False
    fields: Callable[[sqlite3.Row], dict[str, Any]] | None = None


def _device(row: sqlite3.Row) -> dict[str, Any]:
    return {"device_type": row["device"]} if row["device"] else {}


def _click(row: sqlite3.Row) -> dict[str, Any]:
    return {**_device(row), "url_id": row["url_id"], "link_url": row["link_url"]}


def _optout(row: sqlite3.Row) -> dict[str, Any]:
    return {"opt_out_reason": row["reason"]} if row["reason"] else {}


def _bounce(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "bounce_code": row["code"],
        "current_email_address": row["current_email"] or row["email"],
    }


REPORTS: Final = {
    "sends": Report("em_sends", "em_sends"),
    "opens": Report("em_opens", "em_opens", fields=_device),
    "unique_opens": Report("em_opens", "em_opens", ("contact_id",), fields=_device),
    "didnotopens": Report("em_sends", "em_didnotopens"),
    "clicks": Report("em_clicks", "em_clicks", fields=_click),
    "forwards": Report("em_forwards", "em_forwards"),
    "optouts": Report("em_optouts", "em_optouts", links_required=True, fields=_optout),
    "bounces": Report("em_bounces", "em_bounces", links_required=True, fields=_bounce),
}


def reported_activity(emu: Emulator, request: Request, caller: Caller) -> sqlite3.Row:
    """The path's email campaign activity, if it is one reports cover."""
    activity_id = report_common.path_uuid(request, "campaign_activity_id")
    row = emu.accounts.emails.activity(caller.account_id, activity_id)
    if row is None:
        raise report_common.not_found(
            "campaign_activity_id", f"Email campaign activity {activity_id} was not found."
        )
    if row["role"] not in REPORTED_ROLES:
        raise report_common.bad_request(
            f"Reports cover primary_email and resend activities; this is the {row['role']}."
        )
    return row


def resources(emu: Emulator) -> list[Resource]:
    reports = ReportStore(emu.db)

    def tracking_report(name: str, report: Report) -> Operation:
        async def handler(request: Request, caller: Caller) -> Response:
            activity = reported_activity(emu, request, caller)
            query = request.query_params
            size = report_common.limit(query, MAX_LIMIT, MAX_LIMIT)
            where, filters = report_common.position(query, emu.clock.now())
            if not query.get("cursor"):
                filters = _filters(name, request)
            clause, params = _where(report, activity["campaign_activity_id"], where, filters)
            rows, more = reports.events(where, size, clause, params, report.unique_by)
            body: dict[str, Any] = {
                "tracking_activities": [_item(report, row) for row in rows],
            }
            if more:
                href = report_common.next_href(request, where, rows[-1], size, filters)
                body["_links"] = {"next": {"href": href}}
            elif report.links_required:
                body["_links"] = {}
            return errors.json_response(body)

        return Operation("GET", handler, SCOPE_CAMPAIGNS, PRIVILEGE)

    async def links(request: Request, caller: Caller) -> Response:
        activity = reported_activity(emu, request, caller)
        problems: list[str] = []
        raw = request.query_params.get("no_clicks", "false").lower()
        if raw not in ("true", "false"):
            problems.append(f"no_clicks must be true or false; got {raw!r}.")
        if problems:
            raise report_common.bad_request(*problems)
        activity_id: str = activity["campaign_activity_id"]
        clicks = reports.link_clicks(activity_id, emu.clock.now())
        counts = [
            {
                "link_url": link.url,
                "url_id": link.url_id,
                "unique_clicks": clicks.get(link.url_id, 0),
            }
            for link in emu.accounts.tracking.store.links(activity_id)
        ]
        if raw != "true":
            counts = [c for c in counts if c["unique_clicks"]]
        counts.sort(key=lambda c: -clicks.get(str(c["url_id"]), 0))
        return errors.json_response(
            {"campaign_activity_id": activity_id, "link_click_counts": counts}
        )

    base = "/reports/email_reports/{campaign_activity_id}"
    return [
        Resource(base + "/links", (Operation("GET", links, SCOPE_CAMPAIGNS, PRIVILEGE),)),
        *(
            Resource(f"{base}/tracking/{name}", (tracking_report(name, report),))
            for name, report in REPORTS.items()
        ),
    ]


def _filters(name: str, request: Request) -> dict[str, Any]:
    """The clicks report's ``url_id`` and the bounces report's ``bounce_code``s."""
    query = request.query_params
    if name == "clicks" and query.get("url_id"):
        raw = query["url_id"]
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= 2**63:
            raise report_common.bad_request(f"url_id must be a link's numeric id; got {raw!r}.")
        return {"url_id": str(int(raw))}
    if name == "bounces":
        codes = [c for value in query.getlist("bounce_code") for c in value.split(",") if c]
        bad = [c for c in codes if c not in BOUNCE_CODES]
        if bad:
            raise report_common.bad_request(
                f"bounce_code must be one of {', '.join(BOUNCE_CODES)}; got {', '.join(bad)}."
            )
        return {"bounce_code": sorted(set(codes))} if codes else {}
    return {}


def _where(
    report: Report, activity_id: str, where: Position, filters: dict[str, Any]
) -> tuple[str, list[Any]]:
    if report.shown_as == "em_didnotopens":
        return ReportStore.did_not_open(activity_id, where.as_of)
    clause = "e.activity_id = ? AND e.kind = ?"
    params: list[Any] = [activity_id, report.kind]
    if "url_id" in filters:
        clause += " AND e.url_id = ?"
        params.append(filters["url_id"])
    codes = filters.get("bounce_code")
    if codes:
        clause += f" AND e.code IN ({','.join('?' * len(codes))})"
        params.extend(codes)
    return clause, params


def _item(report: Report, row: sqlite3.Row) -> dict[str, Any]:
    body: dict[str, Any] = report_common.contact_fields(row)
    body["campaign_activity_id"] = row["activity_id"]
    body["tracking_activity_type"] = report.shown_as
    if report.fields is not None:
        body.update(report.fields(row))
    return report_common.stamp(row, body)
