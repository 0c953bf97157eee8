"""Email summary reports: ``/v3/reports/summary_reports/email_campaign_summaries``
(every sent campaign, last sent first), ``/v3/reports/stats/email_campaigns/{ids}`` (up
to 150 campaigns) and ``/v3/reports/stats/email_campaign_activities/{ids}`` (up to 10
activities). Scope ``campaign_data``, privilege ``ui:campaign:metrics``.

Campaign figures count distinct contacts over the campaign's primary email and resend;
activity figures count that activity only. Stats are live: ``last_refresh_time`` is now.
A malformed id answers 404 for the whole request (CC's rule); an unknown campaign too,
while an unknown activity, or a campaign or activity never sent, is listed under
``errors`` and left out of ``results``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import abtest_store, errors, pagination, report_common
from ctct.emulator.api.gateway import Caller, Operation, Resource
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.report_common import PRIVILEGE, SCOPE_CAMPAIGNS, percent
from ctct.emulator.api.report_store import BOUNCE_KEYS, DEVICES, Counts, ReportStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_CAMPAIGNS: Final = 150
MAX_ACTIVITIES: Final = 10
MAX_SUMMARIES: Final = 500
# BulkEmailCampaignSummary.campaign_type reads like CC's UI names the types.
_TYPE_NAMES: Final = {4: "Newsletter", 5: "Custom Code Email"}


def stats(counts: Counts) -> dict[str, int]:
    """``StatsEmail``: unique and all-event counts, by device."""
    u, t, d = counts.unique, counts.total, counts.devices
    return {
        "em_bounces": u["em_bounces"],
        "em_clicks": u["em_clicks"],
        "em_clicks_all": t["em_clicks"],
        **{f"em_clicks_all_{dev}": d[("em_clicks", dev)] for dev in DEVICES},
        "em_clicks_all_none": t["em_clicks"] - sum(d[("em_clicks", dev)] for dev in DEVICES),
        "em_forwards": u["em_forwards"],
        "em_not_opened": counts.not_opened,
        "em_opens": u["em_opens"],
        "em_opens_all": t["em_opens"],
        **{f"em_opens_all_{dev}": d[("em_opens", dev)] for dev in DEVICES},
        "em_opens_all_none": t["em_opens"] - sum(d[("em_opens", dev)] for dev in DEVICES),
        "em_optouts": u["em_optouts"],
        "em_sends": u["em_sends"],
    }


def activity_stats(counts: Counts) -> dict[str, int]:
    """``StatsEmailActivity``: ``StatsEmail`` plus spam reports and bounces by reason."""
    body = stats(counts)
    body["em_abuse"] = counts.unique["em_abuse"]
    for code, key in BOUNCE_KEYS.items():
        body[key] = counts.bounce_codes[code]
    return body


def percents(counts: Counts) -> dict[str, float]:
    """``PercentsEmail``: open, did-not-open and unsubscribe rates are of the delivered
    (sent, not bounced); click of the openers; bounce of the sends; device shares of all
    opens or clicks (mobile includes tablets)."""
    u, t, d = counts.unique, counts.total, counts.devices
    delivered = u["em_sends"] - u["em_bounces"]
    return {
        "bounce": percent(u["em_bounces"], u["em_sends"]),
        "click": percent(u["em_clicks"], u["em_opens"]),
        "desktop_click": percent(d[("em_clicks", "computer")], t["em_clicks"]),
        "desktop_open": percent(d[("em_opens", "computer")], t["em_opens"]),
        "did_not_open": percent(counts.not_opened, delivered),
        "mobile_click": percent(
            d[("em_clicks", "mobile")] + d[("em_clicks", "tablet")], t["em_clicks"]
        ),
        "mobile_open": percent(
            d[("em_opens", "mobile")] + d[("em_opens", "tablet")], t["em_opens"]
        ),
        "open": percent(u["em_opens"], delivered),
        "unsubscribe": percent(u["em_optouts"], delivered),
    }


def unique_counts(counts: Counts) -> dict[str, int]:
    """``UniqueEmailCounts``."""
    u = counts.unique
    return {
        "sends": u["em_sends"],
        "opens": u["em_opens"],
        "clicks": u["em_clicks"],
        "forwards": u["em_forwards"],
        "optouts": u["em_optouts"],
        "abuse": u["em_abuse"],
        "bounces": u["em_bounces"],
        "not_opened": counts.not_opened,
    }


def resources(emu: Emulator) -> list[Resource]:
    reports = ReportStore(emu.db)
    emails = emu.accounts.emails

    async def summaries(request: Request, caller: Caller) -> Response:
        query = request.query_params
        size = report_common.limit(query, MAX_SUMMARIES, pagination.DEFAULT_LIMIT)
        where, _ = report_common.position(query, emu.clock.now())
        rows, more = reports.sent_campaigns(caller.account_id, where, size)
        items, total = [], Counts()
        for row in rows:
            counts = reports.counts(reports.email_activity_ids(row["campaign_id"]), where.as_of)
            total.unique.update(counts.unique)
            ab_test = abtest_store.has_test(emu.db, row["campaign_id"])
            items.append(
                {
                    "campaign_id": row["campaign_id"],
                    "campaign_type": "A/B Test" if ab_test else _TYPE_NAMES[row["format_type"]],
                    "last_sent_date": format_datetime(row["last_sent"]),
                    "unique_counts": unique_counts(counts),
                }
            )
        page = percents(total)
        body: dict[str, Any] = {
            "bulk_email_campaign_summaries": items,
            "aggregate_percents": {
                k: page[k] for k in ("click", "open", "did_not_open", "bounce", "unsubscribe")
            },
        }
        if more:
            state = {"t": where.as_of, "a": rows[-1]["last_sent"], "f": {}}
            token = pagination.encode_cursor(state, int(rows[-1]["seq"]))
            body["_links"] = pagination.next_link(request.url.path, token, size)
        return errors.json_response(body)

    async def campaign_stats(request: Request, caller: Caller) -> Response:
        ids = report_common.path_uuids(request, "campaign_ids", MAX_CAMPAIGNS)
        now = emu.clock.now()
        missing = [i for i in ids if emails.campaign(caller.account_id, i) is None]
        if missing:
            raise report_common.not_found(
                "invalid_path_param.campaign_ids",
                f"Could not find campaign(s) {', '.join(missing)}.",
            )
        results, problems = [], []
        for campaign_id in ids:
            activity_ids = reports.email_activity_ids(campaign_id)
            if reports.last_sent(activity_ids, now) is None:
                problems.append(_no_stats("campaign", campaign_id))
                continue
            counts = reports.counts(activity_ids, now)
            results.append(
                {
                    "campaign_id": campaign_id,
                    "stats": stats(counts),
                    "percents": percents(counts),
                    "last_refresh_time": format_datetime(now),
                }
            )
        if not results:
            raise report_common.not_found(
                "campaign_stats", "Could not find any campaign stats for all requested campaigns."
            )
        return errors.json_response({"errors": problems, "results": results})

    async def activity_stats_report(request: Request, caller: Caller) -> Response:
        ids = report_common.path_uuids(request, "campaign_activity_ids", MAX_ACTIVITIES)
        now = emu.clock.now()
        results, problems = [], []
        for activity_id in ids:
            row = emails.activity(caller.account_id, activity_id)
            if (
                row is None
                or row["status"] == "REMOVED"
                or row["role"] not in ("primary_email", "resend")
            ):
                problems.append(_no_stats("campaign_activity", activity_id))
                continue
            if reports.last_sent([activity_id], now) is None:
                problems.append(_no_stats("campaign_activity", activity_id))
                continue
            results.append(
                {
                    "campaign_id": row["campaign_id"],
                    "campaign_activity_id": activity_id,
                    "stats": activity_stats(reports.counts([activity_id], now)),
                    "last_refresh_time": format_datetime(now),
                }
            )
        return errors.json_response({"errors": problems, "results": results})

    op = Operation
    return [
        Resource(
            "/reports/summary_reports/email_campaign_summaries",
            (op("GET", summaries, SCOPE_CAMPAIGNS, PRIVILEGE),),
        ),
        Resource(
            "/reports/stats/email_campaigns/{campaign_ids}",
            (op("GET", campaign_stats, SCOPE_CAMPAIGNS, PRIVILEGE),),
        ),
        Resource(
            "/reports/stats/email_campaign_activities/{campaign_activity_ids}",
            (op("GET", activity_stats_report, SCOPE_CAMPAIGNS, PRIVILEGE),),
        ),
    ]


def _no_stats(what: str, item_id: str) -> dict[str, str]:
    return {
        "error_key": f"reportingsvc.not_found.{what}",
        "error_message": f"No stats for {what} {item_id}: it does not exist or was not sent.",
    }
