"""SMS reporting: ``GET /v3/reports/summary_reports/sms_campaign_summaries`` - each SMS
campaign sent from ``start_at`` (required) to ``end_at`` (default: now), last sent
first, cursor pages of 1 to 50 (default 50), with unique counts (sends, delivers,
clicks, opt-outs) and the page's aggregate percents: deliver and bounce of the sends,
click and unsubscribe of the delivered. Scope ``campaign_data``, privilege
``ui:campaign:metrics``. SMS campaigns come from ``POST /__emulator/sms_campaigns``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, report_common
from ctct.emulator.api.gateway import Caller, Operation, Resource
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.report_common import PRIVILEGE, SCOPE_CAMPAIGNS, percent
from ctct.emulator.api.report_store import ReportStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT: Final = 50
_COUNTS: Final = {
    "sends": "sms_sends",
    "delivers": "sms_delivers",
    "clicks": "sms_clicks",
    "optouts": "sms_optouts",
}


def resources(emu: Emulator) -> list[Resource]:
    reports = ReportStore(emu.db)
    sms = emu.accounts.tracking.sms

    async def summaries(request: Request, caller: Caller) -> Response:
        query = request.query_params
        size = report_common.limit(query, MAX_LIMIT, MAX_LIMIT)
        now = emu.clock.now()
        if query.get("cursor"):
            where, filters = report_common.position(query, now)
            try:
                start, end, after = filters["s"], filters["e"], where.seq
                if not all(isinstance(v, int | float) for v in (start, end)):
                    raise TypeError("not numbers")
                start, end = float(start), float(end)
            except (KeyError, TypeError, ValueError):
                raise report_common.bad_request(
                    "cursor is not valid: use the cursor from the previous page's _links.next.href."
                ) from None
        else:
            problems: list[str] = []
            begin = report_common.moment(query, "start_at", problems, required=True)
            finish = report_common.moment(query, "end_at", problems, required=False)
            if problems or begin is None:
                raise report_common.bad_request(*problems)
            start, end, after = begin, min(now, finish if finish is not None else now), 0
        rows, more = sms.page(caller.account_id, start, end, after, size)
        items, total = [], Counter[str]()
        for row in rows:
            counts = reports.counts([row["campaign_activity_id"]], end)
            unique = {name: counts.unique[kind] for name, kind in _COUNTS.items()}
            total.update(unique)
            items.append(
                {
                    "campaign_id": row["campaign_id"],
                    "campaign_name": row["name"],
                    "last_sent_date": format_datetime(row["sent_at"]),
                    "unique_counts": unique,
                    "campaign_type": "SMS",
                }
            )
        body: dict[str, Any] = {
            "bulk_sms_campaign_summaries": items,
            "aggregate_percents": {
                "deliver": percent(total["delivers"], total["sends"]),
                "click": percent(total["clicks"], total["delivers"]),
                "bounce": percent(total["sends"] - total["delivers"], total["sends"]),
                "unsubscribe": percent(total["optouts"], total["delivers"]),
            },
        }
        if more:
            state = {"t": end, "a": None, "f": {"s": start, "e": end}}
            token = pagination.encode_cursor(state, int(rows[-1]["seq"]))
            body["_links"] = pagination.next_link(request.url.path, token, size)
        return errors.json_response(body)

    return [
        Resource(
            "/reports/summary_reports/sms_campaign_summaries",
            (Operation("GET", summaries, SCOPE_CAMPAIGNS, PRIVILEGE),),
        )
    ]
