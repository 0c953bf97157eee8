"""Drive every operation of the email, scheduling, A/B test and reporting tags of CC's
contract: a 2xx and representative 4xx each. The functions take any ``Drives`` - the
tests' ``Driver`` or a contract tour's ``Tour`` - and assert what they need along the
way; the tests in ``test_api_email_sending.py`` and ``test_api_reports.py`` run them
over loopback and in-process and check that everything was driven.
"""

from __future__ import annotations

import uuid
from typing import Any

from ctct.emulator.api.email_store import V2_ID_BASE
from tests.emulator.api_support import ALICE, CAROL
from tests.emulator.report_support import (
    Drives,
    campaign,
    client,
    control,
    get,
    seed_news,
    send_now,
)

ACTIVITY = "/emails/activities/{campaign_activity_id}"
XREFS = "/emails/campaign_id_xrefs"
TESTS = ACTIVITY + "/tests"
PREVIEWS = ACTIVITY + "/previews"
HISTORY = ACTIVITY + "/send_history"
ABTEST = ACTIVITY + "/abtest"
RESENDS = ACTIVITY + "/non_opener_resends"
RESEND = RESENDS + "/{resend_request_id}"
SCHEDULES = ACTIVITY + "/schedules"

EMAIL_TAGS = ("Email Campaigns", "Email Scheduling", "Email Campaigns AB Tests")
EMAILS, CAMPAIGN = "/emails", "/emails/{campaign_id}"
EMAIL_DRIVEN = {
    ("GET", EMAILS),
    ("POST", EMAILS),
    ("GET", CAMPAIGN),
    ("PATCH", CAMPAIGN),
    ("DELETE", CAMPAIGN),
    ("GET", ACTIVITY),
    ("PUT", ACTIVITY),
    ("GET", SCHEDULES),
    ("POST", SCHEDULES),
    ("DELETE", SCHEDULES),
    ("GET", XREFS),
    ("POST", TESTS),
    ("GET", PREVIEWS),
    ("GET", HISTORY),
    ("GET", ABTEST),
    ("POST", ABTEST),
    ("DELETE", ABTEST),
    ("GET", RESENDS),
    ("POST", RESENDS),
    ("DELETE", RESEND),
}


EMAIL = "/reports/email_reports/{campaign_activity_id}"
TRACKING_REPORTS = (
    "sends",
    "opens",
    "unique_opens",
    "didnotopens",
    "clicks",
    "forwards",
    "optouts",
    "bounces",
)
TRACKING = [EMAIL + f"/tracking/{name}" for name in TRACKING_REPORTS]
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
REPORT_TAGS = ("Email Reporting", "Contacts Reporting", "Landing Pages Reporting", "SMS Reporting")
REPORT_DRIVEN = {
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


def drive_campaigns(d: Drives) -> None:
    """The operations of creating, changing, scheduling and deleting a campaign (their
    behaviour is tested in test_api_emails.py): a 2xx and a 4xx each."""
    list_id = seed_news(d, 3, "Basics")
    activity = {
        "format_type": 5,
        "from_name": "Alice's Bakery",
        "from_email": "alice@example.com",
        "reply_to_email": "alice@example.com",
        "subject": "Basics",
        "html_content": "<html><body>Hi</body></html>",
    }
    body = {"name": "Basics", "email_campaign_activities": [activity]}
    created = d.call("POST", EMAILS, json=body).json()
    d.call("POST", EMAILS, 409, json=body)
    d.call("GET", EMAILS, params={"limit": "10"})
    d.call("GET", EMAILS, 400, params={"limit": "0"})
    campaign_id = {"campaign_id": created["campaign_id"]}
    d.call("GET", CAMPAIGN, path=campaign_id)
    d.call("GET", CAMPAIGN, 404, path={"campaign_id": str(uuid.uuid4())})
    d.call("PATCH", CAMPAIGN, path=campaign_id, json={"name": "Basics, renamed"})
    d.call("PATCH", CAMPAIGN, 400, path=campaign_id, json={"name": ""})
    at = {"campaign_activity_id": created["campaign_activities"][0]["campaign_activity_id"]}
    d.call("GET", ACTIVITY, path=at)
    d.call("GET", ACTIVITY, 404, path={"campaign_activity_id": str(uuid.uuid4())})
    put = {k: v for k, v in activity.items() if k not in ("format_type", "html_content")}
    d.call("PUT", ACTIVITY, path=at, json={**put, "contact_list_ids": [list_id]})
    d.call("PUT", ACTIVITY, 400, path=at, json={**put, "from_email": "nobody@example.org"})
    assert d.call("GET", SCHEDULES, path=at).json() == []
    d.call("GET", SCHEDULES, 404, path={"campaign_activity_id": str(uuid.uuid4())})
    d.call("POST", SCHEDULES, 400, path=at, json={"scheduled_date": "2000-01-01"})
    d.call("POST", SCHEDULES, 201, path=at, json={"scheduled_date": "2100-01-01T00:00:00Z"})
    d.call("DELETE", SCHEDULES, 204, path=at)
    d.call("DELETE", SCHEDULES, 400, path=at)  # a draft has no schedule
    d.call("DELETE", CAMPAIGN, 204, path=campaign_id)
    d.call("DELETE", CAMPAIGN, 404, path={"campaign_id": str(uuid.uuid4())})


def drive_email_sending(d: Drives) -> None:
    """Every operation this module adds: a 2xx and representative 4xx."""
    list_id = seed_news(d, 10)
    campaign_id, activity_id = campaign(d, "Tour of sending", list_id)
    at = {"campaign_activity_id": activity_id}
    unknown = {"campaign_activity_id": str(uuid.uuid4())}

    # Cross-references: the first campaign of a new emulator has V2 id 1100000000001.
    v2 = str(V2_ID_BASE + 1)
    body = d.call("GET", XREFS, params={"v2_email_campaign_ids": f"{v2},42"}).json()
    assert body == {
        "xrefs": [
            {
                "v2_email_campaign_id": v2,
                "campaign_id": campaign_id,
                "campaign_activity_id": activity_id,
            }
        ]
    }
    d.call("GET", XREFS, 400)
    d.call("GET", XREFS, 400, params={"v2_email_campaign_ids": "12,abc"})
    d.call("GET", XREFS, 400, params={"v2_email_campaign_ids": ",".join(map(str, range(51)))})
    d.call("GET", XREFS, 403, scopes=("contact_data",))

    # Test send, preview.
    d.call("POST", TESTS, 204, path=at, json={"email_addresses": ["qa@example.com"]})
    d.call("POST", TESTS, 400, path=at, json={"email_addresses": []})
    d.call("POST", TESTS, 404, path=unknown, json={"email_addresses": ["qa@example.com"]})
    preview = d.call("GET", PREVIEWS, path=at).json()
    assert "[[trackingImage]]" not in preview["preview_html_content"]
    assert preview["preview_text_content"] == "Spring is here. Shop Read more"
    d.call("GET", PREVIEWS, 404, path=unknown)

    # A/B test on the draft.
    d.call("GET", ABTEST, 404, path=at)
    test = {"alternative_subject": "Warm bread", "test_size": 10, "winner_wait_duration": 6}
    assert d.call("POST", ABTEST, 201, path=at, json=test).json() == test
    d.call("POST", ABTEST, 409, path=at, json=test)
    d.call("POST", ABTEST, 400, path=at, json={**test, "test_size": 60})
    assert d.call("GET", ABTEST, path=at).json() == test
    d.call("DELETE", ABTEST, 204, path=at)
    d.call("DELETE", ABTEST, 404, path=at)

    # Resend to non-openers, while a draft.
    assert d.call("GET", RESENDS, path=at).json() == []
    d.call("GET", RESENDS, 404, path=unknown)
    resend = {"resend_subject": "In case you missed it", "delay_minutes": 720}
    created = d.call("POST", RESENDS, 201, path=at, json=resend).json()
    assert created["resend_request_id"] == "DRAFT"
    d.call("POST", RESENDS, 409, path=at, json=resend)
    d.call("POST", RESENDS, 400, path=at, json={"resend_subject": "x", "delay_minutes": 10})
    d.call("DELETE", RESEND, 404, path={**at, "resend_request_id": "12345"})
    d.call("DELETE", RESEND, 204, path={**at, "resend_request_id": "DRAFT"})

    # Send history, before and after a send.
    assert d.call("GET", HISTORY, path=at).json() == []
    d.call("GET", HISTORY, 404, path=unknown)
    d.call("POST", RESENDS, 201, path=at, json=resend)
    send_now(d, activity_id)
    history = d.call("GET", HISTORY, path=at).json()
    assert [(h["send_id"], h["count"], h["send_status"]) for h in history] == [(1, 10, "COMPLETED")]
    # Sent: the resend is scheduled under its number, and cannot take an A/B test now.
    listed = d.call("GET", RESENDS, path=at).json()
    assert listed[0]["resend_status"] == "SCHEDULED" and listed[0]["resend_request_id"].isdigit()
    d.call("POST", ABTEST, 400, path=at, json=test)
    d.advance(720 * 60 + 10)
    listed = d.call("GET", RESENDS, path=at).json()
    assert listed[0]["resend_status"] == "DONE" and "resend_date" in listed[0]
    number = {**at, "resend_request_id": listed[0]["resend_request_id"]}
    d.call("DELETE", RESEND, 409, path=number)


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


def sent_campaign(d: Drives, contacts: int = 20) -> tuple[str, str, str]:
    """A campaign sent to ``contacts`` seeded contacts, its activity all arrived."""
    control(d, "POST", "/tracking", **RATES_FOR_TESTS)
    list_id = seed_news(d, contacts)
    campaign_id, activity_id = campaign(d, "Reported", list_id)
    send_now(d, activity_id)
    d.advance(2 * 3_600)
    return list_id, campaign_id, activity_id


def drive_reports(d: Drives, reporting_errors: bool = True) -> None:
    """Every reporting operation to a 2xx, and to the gateway's 403 (a campaign creator
    lacks ``ui:campaign:metrics``); with ``reporting_errors``, also to the reporting
    service's own 400s and 404s (one ``StatsError`` object, which a driver that expects
    CC's usual error array cannot check)."""
    list_id, campaign_id, activity_id = sent_campaign(d)
    at = {"campaign_activity_id": activity_id}
    unknown = {"campaign_activity_id": str(uuid.uuid4())}
    contact_id = get(d, "/v3/contacts", limit=1)["contacts"][0]["contact_id"]
    who = {"contact_id": contact_id}
    page = control(
        d,
        "POST",
        "/landing_pages",
        username=ALICE,
        name="Spring sign-up",
        contact_list_ids=[list_id],
        list_id=list_id,
        new_contacts=3,
    )
    client(d).post(
        "/__emulator/seed",
        json={
            "username": ALICE,
            "lists": [{"name": "Texters"}],
            "contacts": [sms_contact(n) for n in range(4)],
        },
    )
    control(d, "POST", "/sms_campaigns", username=ALICE, name="Flash sale")
    d.advance(3_600)
    lp = {"campaign_activity_id": page["campaign_activity_id"]}
    calls: list[tuple[str, dict[str, str], Any]] = [
        *((t, at, None) for t in TRACKING),
        (TRACKING[4], at, {"url_id": "1"}),
        (TRACKING[7], at, [("bounce_code", "B"), ("bounce_code", "D")]),
        (LINKS, at, {"no_clicks": "true"}),
        (SUMMARIES, {}, {"limit": "5"}),
        (CAMPAIGN_STATS, {"campaign_ids": campaign_id}, None),
        (ACTIVITY_STATS, {"campaign_activity_ids": activity_id}, None),
        (DETAILS, who, {"tracking_activities_list": "em_sends,em_opens"}),
        (DETAILS, who, [("tracking_activity_type", "em_sends")]),
        (RATES, who, RANGE),
        (SUMMARY, who, RANGE),
        *((t, lp, {"contacts_filter": "example"}) for t in LANDING),
        (SMS, {}, {"start_at": "2000-01-01T00:00:00Z"}),
    ]
    for template, where, params in calls:
        d.call("GET", template, path=where, params=params)
        d.call("GET", template, 403, path=where, params=params, user=CAROL)
    types = {"tracking_activities_list": "em_sends"}
    d.call("GET", DETAILS, 403, path=who, params=types, scopes=("campaign_data",))
    stats = d.call(
        "GET",
        ACTIVITY_STATS,
        path={"campaign_activity_ids": f"{activity_id},{unknown['campaign_activity_id']}"},
    ).json()
    assert [r["campaign_activity_id"] for r in stats["results"]] == [activity_id]
    assert len(stats["errors"]) == 1
    if reporting_errors:
        _drive_reporting_errors(d, at, unknown, who, lp)


def _drive_reporting_errors(
    d: Drives,
    at: dict[str, str],
    unknown: dict[str, str],
    who: dict[str, str],
    lp: dict[str, str],
) -> None:
    for template in TRACKING:
        d.call("GET", template, 404, path=unknown)
        d.call("GET", template, 400, path=at, params={"limit": "0"})
    d.call("GET", TRACKING[4], 400, path=at, params={"url_id": "abc"})
    d.call("GET", TRACKING[7], 400, path=at, params={"bounce_code": "Q"})
    d.call("GET", LINKS, 400, path=at, params={"no_clicks": "maybe"})
    d.call("GET", LINKS, 404, path={"campaign_activity_id": "not-a-uuid"})
    d.call("GET", SUMMARIES, 400, params={"limit": "501"})
    d.call("GET", CAMPAIGN_STATS, 404, path={"campaign_ids": f"{uuid.uuid4()},nope"})
    d.call("GET", CAMPAIGN_STATS, 404, path={"campaign_ids": str(uuid.uuid4())})
    d.call("GET", ACTIVITY_STATS, 404, path={"campaign_activity_ids": "x"})
    many = ",".join(str(uuid.uuid4()) for _ in range(11))
    d.call("GET", ACTIVITY_STATS, 400, path={"campaign_activity_ids": many})
    d.call("GET", DETAILS, 400, path=who)
    d.call(
        "GET",
        DETAILS,
        404,
        path={"contact_id": str(uuid.uuid4())},
        params={"tracking_activities_list": "em_sends"},
    )
    d.call("GET", RATES, 400, path=who, params={"end": RANGE["end"]})
    d.call("GET", SUMMARY, 400, path=who, params={"start": RANGE["end"], "end": RANGE["start"]})
    for template in LANDING:
        d.call("GET", template, 404, path=unknown)
        d.call("GET", template, 400, path=lp, params={"limit": "0"})
    d.call("GET", SMS, 400)
    d.call("GET", SMS, 400, params={"start_at": "yesterday"})
