"""Reporting: email (per activity, links, summaries, stats), contacts, landing pages and
SMS - every operation driven to a 2xx and to representative 4xx errors, over loopback
and in-process, with bodies checked against CC's contract (reporting errors are one
``StatsError`` object); then the filters, pages and permissions of the reports."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import ALICE, CAROL, FAST
from tests.emulator.report_support import Driver, campaign, get, seed_news, send_now, tagged, walk

EMAIL = "/reports/email_reports/{campaign_activity_id}"
TRACKING = [
    EMAIL + f"/tracking/{name}"
    for name in (
        "sends",
        "opens",
        "unique_opens",
        "didnotopens",
        "clicks",
        "forwards",
        "optouts",
        "bounces",
    )
]
LINKS = EMAIL + "/links"
SUMMARIES = "/reports/summary_reports/email_campaign_summaries"
CAMPAIGN_STATS = "/reports/stats/email_campaigns/{campaign_ids}"
ACTIVITY_STATS = "/reports/stats/email_campaign_activities/{campaign_activity_ids}"
CONTACT = "/reports/contact_reports/{contact_id}"
DETAILS, RATES, SUMMARY = (
    CONTACT + "/activity_details",
    CONTACT + "/open_and_click_rates",
    CONTACT + "/activity_summary",
)
PAGE = "/reports/landing_pages/campaign_details/{campaign_activity_id}/"
LANDING = [
    PAGE + name
    for name in (
        "p_unique_contact_clicks",
        "p_unique_contact_opens",
        "p_contact_opens",
        "p_unique_contact_updates",
        "p_unique_contact_adds",
        "p_unique_contact_sms_optins",
    )
]
SMS = "/reports/summary_reports/sms_campaign_summaries"
LANDING_URL = "/v3/reports/landing_pages/campaign_details/{}/{}"
TAGS = ("Email Reporting", "Contacts Reporting", "Landing Pages Reporting", "SMS Reporting")
DRIVEN = {
    ("GET", t)
    for t in (
        *TRACKING,
        LINKS,
        SUMMARIES,
        CAMPAIGN_STATS,
        ACTIVITY_STATS,
        DETAILS,
        RATES,
        SUMMARY,
        *LANDING,
        SMS,
    )
}
RATES_FOR_TESTS = {
    "seed": 11,
    "bounce": 0.1,
    "open": 0.5,
    "click": 0.5,
    "forward": 0.2,
    "optout": 0.1,
    "window_seconds": 3_600,
}
RANGE = {"start": "2000-01-01T00:00:00-0500", "end": "2004-12-31T00:00:00Z"}


def sms_contact(n: int, permission: str = "explicit") -> dict[str, Any]:
    return {
        "email": f"texter{n}@example.com",
        "list_memberships": ["Texters"],
        "sms_channel": {
            "full_sms_address": f"1617555{n:04d}",
            "sms_channel_consents": [
                {"sms_consent_permission": permission, "consent_type": "promotional_sms"}
            ],
        },
    }


def sent_campaign(d: Driver, contacts: int = 20) -> tuple[str, str, str]:
    """A campaign sent to ``contacts`` seeded contacts, its activity all arrived."""
    d.control("POST", "/tracking", **RATES_FOR_TESTS)
    list_id = seed_news(d, contacts)
    campaign_id, activity_id = campaign(d, "Reported", list_id)
    send_now(d, activity_id)
    d.advance(2 * 3_600)
    return list_id, campaign_id, activity_id


def drive_reports(d: Driver) -> None:
    list_id, campaign_id, activity_id = sent_campaign(d)
    at = {"campaign_activity_id": activity_id}
    unknown = {"campaign_activity_id": str(uuid.uuid4())}

    for template in TRACKING:
        d.call("GET", template, path=at)
        d.call("GET", template, 404, path=unknown)
        d.call("GET", template, 400, path=at, params={"limit": "0"})
    d.call("GET", TRACKING[4], 400, path=at, params={"url_id": "abc"})
    d.call("GET", TRACKING[7], 400, path=at, params={"bounce_code": "Q"})
    d.call("GET", LINKS, path=at, params={"no_clicks": "true"})
    d.call("GET", LINKS, 400, path=at, params={"no_clicks": "maybe"})
    d.call("GET", LINKS, 404, path={"campaign_activity_id": "not-a-uuid"})
    d.call("GET", SUMMARIES)
    d.call("GET", SUMMARIES, 400, params={"limit": "501"})
    d.call("GET", SUMMARIES, 403, user=CAROL)  # a campaign creator sees no reports
    d.call("GET", CAMPAIGN_STATS, path={"campaign_ids": campaign_id})
    d.call("GET", CAMPAIGN_STATS, 404, path={"campaign_ids": f"{campaign_id},nope"})
    d.call("GET", CAMPAIGN_STATS, 404, path={"campaign_ids": str(uuid.uuid4())})
    stats = d.call(
        "GET",
        ACTIVITY_STATS,
        path={"campaign_activity_ids": f"{activity_id},{unknown['campaign_activity_id']}"},
    ).json()
    assert [r["campaign_activity_id"] for r in stats["results"]] == [activity_id]
    assert len(stats["errors"]) == 1
    d.call("GET", ACTIVITY_STATS, 404, path={"campaign_activity_ids": "x"})
    many = ",".join(str(uuid.uuid4()) for _ in range(11))
    d.call("GET", ACTIVITY_STATS, 400, path={"campaign_activity_ids": many})

    contact_id = get(d, "/v3/contacts", limit=1)["contacts"][0]["contact_id"]
    who = {"contact_id": contact_id}
    d.call("GET", DETAILS, path=who, params={"tracking_activities_list": "em_sends,em_opens"})
    d.call("GET", DETAILS, path=who, params=[("tracking_activity_type", t) for t in ("em_sends",)])
    d.call("GET", DETAILS, 400, path=who)
    d.call(
        "GET",
        DETAILS,
        404,
        path={"contact_id": str(uuid.uuid4())},
        params={"tracking_activities_list": "em_sends"},
    )
    d.call("GET", DETAILS, 403, path=who, scopes=("campaign_data",))
    d.call("GET", RATES, path=who, params=RANGE)
    d.call("GET", RATES, 400, path=who, params={"end": RANGE["end"]})
    d.call("GET", SUMMARY, path=who, params=RANGE)
    d.call("GET", SUMMARY, 400, path=who, params={"start": RANGE["end"], "end": RANGE["start"]})

    page = d.control(
        "POST",
        "/landing_pages",
        username=ALICE,
        name="Spring sign-up",
        contact_list_ids=[list_id],
        list_id=list_id,
        new_contacts=3,
    )
    d.advance(3_600)
    for template in LANDING:
        d.call("GET", template, path={"campaign_activity_id": page["campaign_activity_id"]})
        d.call("GET", template, 404, path=unknown)
        d.call(
            "GET",
            template,
            400,
            path={"campaign_activity_id": page["campaign_activity_id"]},
            params={"limit": "0"},
        )

    d.client.post(
        "/__emulator/seed",
        json={
            "username": ALICE,
            "lists": [{"name": "Texters"}],
            "contacts": [sms_contact(n) for n in range(4)],
        },
    )
    d.control("POST", "/sms_campaigns", username=ALICE, name="Flash sale")
    d.call("GET", SMS, params={"start_at": "2000-01-01T00:00:00Z"})
    d.call("GET", SMS, 400)
    d.call("GET", SMS, 400, params={"start_at": "yesterday"})


@pytest.fixture
def d(start_emulator: StartEmulator) -> Driver:
    return Driver(start_emulator(**FAST))


def test_every_operation(d: Driver) -> None:
    drive_reports(d)
    d.assert_drove(DRIVEN)
    assert tagged(*TAGS) == DRIVEN


def test_tracking_filters_and_pages(d: Driver) -> None:
    _, _, activity_id = sent_campaign(d, 60)
    base = f"/v3/reports/email_reports/{activity_id}"
    opens = walk(d, base + "/tracking/opens")
    assert len(walk(d, base + "/tracking/opens", limit=7)) == len(opens) > 30
    assert [o["created_time"] for o in opens] == sorted(
        (o["created_time"] for o in opens), reverse=True
    )
    unique = walk(d, base + "/tracking/unique_opens", limit=5)
    assert len(unique) == len({o["contact_id"] for o in opens}) == 27  # half of 54 delivered
    links = get(d, base + "/links")["link_click_counts"]
    assert sorted(link["link_url"] for link in links) == [
        "https://blog.example.com/news",
        "https://shop.example.com/spring",
    ]
    for link in links:
        clicks = walk(d, base + "/tracking/clicks", url_id=link["url_id"])
        assert {c["link_url"] for c in clicks} == {link["link_url"]}
        assert len({c["contact_id"] for c in clicks}) == link["unique_clicks"]
    bounces = walk(d, base + "/tracking/bounces")
    codes = {b["bounce_code"] for b in bounces}
    some = sorted(codes)[0]
    filtered = walk(d, base + "/tracking/bounces", bounce_code=some)
    assert filtered and {b["bounce_code"] for b in filtered} == {some}
    # The last page of opt-outs and bounces still carries _links (their contract needs it).
    assert get(d, base + "/tracking/optouts")["_links"] == {}
    # A cursor from elsewhere is refused in the reporting service's shape.
    bad = d.client.get(base + "/tracking/sends", params={"cursor": "xyz"}, headers=d.headers())
    assert bad.status_code == 400 and bad.json()["error_key"] == "reportingsvc.validation.error"


def test_landing_page_report_filters_and_last_page(d: Driver) -> None:
    list_id = seed_news(d, 30)
    d.control("POST", "/tracking", landing_page_open=1.0, window_seconds=600)
    page = d.control(
        "POST", "/landing_pages", username=ALICE, name="Join", contact_list_ids=[list_id]
    )
    d.advance(700)
    url = LANDING_URL.format(page["campaign_activity_id"], "p_unique_contact_opens")
    everyone = walk(d, url, limit=7)
    assert len(everyone) == 30
    last = get(d, url, limit=500)
    assert last["_links"] == {"next": {"href": ""}}  # the contract requires next.href
    chosen = everyone[0]["email_address"]
    found = walk(d, url, contacts_filter=chosen[:13].upper())
    assert [f["email_address"] for f in found] == [chosen]


def test_sms_summaries_page_and_percents(d: Driver) -> None:
    d.client.post(
        "/__emulator/seed",
        json={
            "username": ALICE,
            "lists": [{"name": "Texters"}],
            "contacts": [sms_contact(n) for n in range(50)] + [sms_contact(99, "unsubscribed")],
        },
    )
    d.control("POST", "/tracking", sms_bounce=0.1, sms_click=0.2, sms_optout=0.1, window_seconds=60)
    for name in ("One", "Two", "Three"):
        sent = d.control("POST", "/sms_campaigns", username=ALICE, name=name)
        assert sent["recipients"] == 50 if name == "One" else sent["recipients"] < 50
        d.advance(120)
    items = walk(
        d,
        "/v3/reports/summary_reports/sms_campaign_summaries",
        "bulk_sms_campaign_summaries",
        start_at="2000-01-01T00:00:00Z",
        limit=2,
    )
    assert [i["campaign_name"] for i in items] == ["Three", "Two", "One"]
    first = items[-1]["unique_counts"]
    assert first == {"sends": 50, "delivers": 45, "clicks": 9, "optouts": 5}
    # SMS opt-outs unsubscribe the contacts' SMS consent: later campaigns skip them.
    assert items[-2]["unique_counts"]["sends"] == 45
