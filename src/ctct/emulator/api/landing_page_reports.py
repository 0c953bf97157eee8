"""Landing pages reporting: ``/v3/reports/landing_pages/campaign_details/{id}/...``
``p_contact_opens`` (every open), ``p_unique_contact_opens``, ``p_unique_contact_clicks``
(per contact and link), ``p_unique_contact_updates``, ``p_unique_contact_adds`` and
``p_unique_contact_sms_optins`` (the latest per contact), newest first, cursor pages of
up to 500 (default 50), ``contacts_filter`` matching part of a first name, last name or
email address. Scope ``campaign_data``, privilege ``ui:campaign:metrics``.

The id is a landing page's ``campaign_activity_id`` (from ``POST
/__emulator/landing_pages``). The contract requires ``_links.next.href`` on every page;
on the last page it is the empty string (the contract's schema says a string, its text
says null there: clients test it for truth either way).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, report_common
from ctct.emulator.api.gateway import Caller, Operation, Resource
from ctct.emulator.api.report_common import PRIVILEGE, SCOPE_CAMPAIGNS
from ctct.emulator.api.report_store import ReportStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT: Final = 500
DEFAULT_LIMIT: Final = 50


@dataclass(frozen=True)
class Report:
    kind: str
    shown_as: str  # the contract's example tracking_activity_type of each report
    unique_by: tuple[str, ...]
    device: bool = False
    link: bool = False


REPORTS: Final = {
    "p_contact_opens": Report("p_contact_open", "p_contact_opens", (), device=True),
    "p_unique_contact_opens": Report(
        "p_contact_open", "p_contact_opens", ("contact_id",), device=True
    ),
    "p_unique_contact_clicks": Report(
        "p_contact_click", "p_contact_click", ("contact_id", "url_id"), device=True, link=True
    ),
    "p_unique_contact_updates": Report("p_contact_update", "p_contact_updates", ("contact_id",)),
    "p_unique_contact_adds": Report("p_contact_add", "p_contact_adds", ("contact_id",)),
    "p_unique_contact_sms_optins": Report(
        "p_contact_sms_optin", "p_contact_sms_optins", ("contact_id",)
    ),
}


def resources(emu: Emulator) -> list[Resource]:
    reports = ReportStore(emu.db)
    pages = emu.accounts.tracking.landing_pages

    def report_operation(report: Report) -> Operation:
        async def handler(request: Request, caller: Caller) -> Response:
            activity_id = report_common.path_uuid(request, "campaign_activity_id")
            if pages.get(caller.account_id, activity_id) is None:
                raise report_common.not_found(
                    "campaign_activity_id", f"Landing page activity {activity_id} was not found."
                )
            query = request.query_params
            size = report_common.limit(query, MAX_LIMIT, DEFAULT_LIMIT)
            where, filters = report_common.position(query, emu.clock.now())
            if not query.get("cursor"):
                text = (query.get("contacts_filter") or "").strip().lower()
                filters = {"contacts": text} if text else {}
            clause = "e.activity_id = ? AND e.kind = ? AND e.contact_id IS NOT NULL"
            params: list[Any] = [activity_id, report.kind]
            if filters.get("contacts"):
                clause += (
                    " AND (instr(lower(e.email), ?) OR instr(lower(COALESCE(json_extract("
                    "c.data, '$.first_name'), '')), ?) OR instr(lower(COALESCE(json_extract("
                    "c.data, '$.last_name'), '')), ?))"
                )
                params += [filters["contacts"]] * 3
            rows, more = reports.events(where, size, clause, params, report.unique_by)
            href = report_common.next_href(request, where, rows[-1], size, filters) if more else ""
            return errors.json_response(
                {
                    "tracking_activities": [_item(report, row) for row in rows],
                    "_links": {"next": {"href": href}},
                }
            )

        return Operation("GET", handler, SCOPE_CAMPAIGNS, PRIVILEGE)

    base = "/reports/landing_pages/campaign_details/{campaign_activity_id}/"
    return [Resource(base + name, (report_operation(r),)) for name, r in REPORTS.items()]


def _item(report: Report, row: sqlite3.Row) -> dict[str, Any]:
    body = report_common.contact_fields(row)
    body["campaign_activity_id"] = row["activity_id"]
    body["tracking_activity_type"] = report.shown_as
    if report.device and row["device"]:
        body["device_type"] = row["device"]
    if report.link:
        body["url_id"] = row["url_id"]
        body["link_url"] = row["link_url"]
    return report_common.stamp(row, body)
