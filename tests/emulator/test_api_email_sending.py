"""Email campaigns beyond create/schedule: V2 id cross-references, test sends, previews,
send history, A/B tests and resends to non-openers - every operation driven to a 2xx
and to representative 4xx errors, over loopback and in-process, with bodies checked
against CC's contract; then what each does to the sends that follow."""

from __future__ import annotations

import uuid

import pytest

from ctct.emulator.api.email_store import V2_ID_BASE
from tests.conftest import StartEmulator
from tests.emulator.api_support import CAROL, FAST
from tests.emulator.report_support import (
    Driver,
    campaign,
    get,
    seed_news,
    send_now,
    tagged,
    walk,
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

TAGS = ("Email Campaigns", "Email Scheduling", "Email Campaigns AB Tests")
EMAILS, CAMPAIGN = "/emails", "/emails/{campaign_id}"
DRIVEN = {
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


@pytest.fixture
def d(start_emulator: StartEmulator) -> Driver:
    return Driver(start_emulator(**FAST))


def drive_campaigns(d: Driver) -> None:
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


def drive_email_sending(d: Driver) -> None:
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


def test_every_operation(d: Driver) -> None:
    drive_email_sending(d)
    drive_campaigns(d)
    d.assert_drove(DRIVEN)
    assert tagged(*TAGS) == DRIVEN


def test_xrefs_route_is_no_longer_taken_for_a_campaign_id(d: Driver) -> None:
    # It used to fall into /emails/{campaign_id} and answer "invalid format" (404).
    response = d.client.get(
        "/v3/emails/campaign_id_xrefs",
        params={"v2_email_campaign_ids": "1"},
        headers=d.headers(),
    )
    assert response.status_code == 200 and response.json() == {"xrefs": []}


def test_test_sends_are_recorded_and_limited_to_50_a_day(d: Driver) -> None:
    _, activity_id = campaign(d, "Tests", None)
    at = {"campaign_activity_id": activity_id}
    addresses = [f"qa{i}@example.com" for i in range(5)]
    for _ in range(10):
        d.call("POST", TESTS, 204, path=at, json={"email_addresses": addresses})
    refused = d.call("POST", TESTS, 400, path=at, json={"email_addresses": ["one@example.com"]})
    assert "50" in refused.json()[0]["error_message"]
    events = d.control("GET", "/events?kind=email_test")["events"]
    assert len(events) == 10 and events[0]["email_addresses"] == addresses
    d.advance(86_400)  # a new day (UTC) on the emulator's clock
    d.call("POST", TESTS, 204, path=at, json={"email_addresses": ["one@example.com"]})
    # Only the primary email can be test sent; the body is checked.
    roles = get(d, f"/v3/emails/{get(d, f'/v3/emails/activities/{activity_id}')['campaign_id']}")
    permalink = roles["campaign_activities"][1]["campaign_activity_id"]
    d.call(
        "POST",
        TESTS,
        400,
        path={"campaign_activity_id": permalink},
        json={"email_addresses": ["qa@example.com"]},
    )
    bad = d.call("POST", TESTS, 400, path=at, json={"email_addresses": ["x@example.com"], "cc": 1})
    assert "cc is not a property" in bad.json()[0]["error_message"]


def test_ab_test_changes_the_type_and_sends_the_winner_later(d: Driver) -> None:
    list_id = seed_news(d, 100)
    campaign_id, activity_id = campaign(d, "Split", list_id)
    at = {"campaign_activity_id": activity_id}
    test = {"alternative_subject": "Hot bread", "test_size": 20, "winner_wait_duration": 12}
    d.call("POST", ABTEST, 201, path=at, json=test)
    assert (get(d, f"/v3/emails/{campaign_id}")["type_code"]) == 57
    send_now(d, activity_id)
    # 20% get subject A and 20% subject B now; the other 60 get the winner 12 hours later.
    history = d.call("GET", HISTORY, path=at).json()
    assert [h["count"] for h in history] == [40]
    sends = f"/v3/reports/email_reports/{activity_id}/tracking/sends"
    assert len(walk(d, sends)) == 40
    d.advance(12 * 3_600 + 5)
    history = d.call("GET", HISTORY, path=at).json()
    assert [(h["send_id"], h["count"]) for h in history] == [(1, 40), (2, 60)]
    assert len(walk(d, sends)) == 100
    d.call("DELETE", ABTEST, 400, path=at)  # sent: only a draft's test can go
    # Deleting a draft's test restores the type.
    other_id, other = campaign(d, "No split", list_id)
    d.call("POST", ABTEST, 201, path={"campaign_activity_id": other}, json=test)
    d.call("DELETE", ABTEST, 204, path={"campaign_activity_id": other})
    assert get(d, f"/v3/emails/{other_id}")["type"] == "CUSTOM_CODE_EMAIL"


def test_resend_goes_to_non_openers_after_the_delay(d: Driver) -> None:
    d.control("POST", "/tracking", seed=3, open=0.5, bounce=0.1, window_seconds=3_600)
    list_id = seed_news(d, 60)
    campaign_id, activity_id = campaign(d, "Resend me", list_id)
    at = {"campaign_activity_id": activity_id}
    d.call("POST", RESENDS, 201, path=at, json={"resend_subject": "Again", "delay_days": 1})
    resend_id = next(
        a["campaign_activity_id"]
        for a in get(d, f"/v3/emails/{campaign_id}")["campaign_activities"]
        if a["role"] == "resend"
    )
    assert get(d, f"/v3/emails/activities/{resend_id}")["current_status"] == "DRAFT"
    send_now(d, activity_id)
    assert get(d, f"/v3/emails/activities/{resend_id}")["current_status"] == "SCHEDULED"
    d.advance(2 * 3_600)  # the primary's activity is all in (window: 1 hour)
    report = f"/v3/reports/email_reports/{activity_id}/tracking"
    non_openers = {r["contact_id"] for r in walk(d, report + "/didnotopens")}
    assert len(non_openers) == 60 - 6 - 27  # 10% bounce, half of the 54 delivered open
    d.advance(86_400)
    resent = get(d, f"/v3/emails/activities/{resend_id}")
    assert resent["current_status"] == "DONE" and resent["subject"] == "Again"
    resent_to = {
        r["contact_id"] for r in walk(d, f"/v3/reports/email_reports/{resend_id}/tracking/sends")
    }
    assert resent_to == non_openers
    history = d.call("GET", HISTORY, path={"campaign_activity_id": resend_id}).json()
    assert [h["count"] for h in history] == [len(non_openers)]
    # A resend must still be ahead: once sent, a delay already past is refused.
    _, late = campaign(d, "Too late", list_id)
    send_now(d, late)
    d.advance(13 * 3_600)
    d.call(
        "POST",
        RESENDS,
        400,
        path={"campaign_activity_id": late},
        json={"resend_subject": "x", "delay_minutes": 720},
    )


def test_a_second_send_goes_only_to_new_list_members(d: Driver) -> None:
    list_id = seed_news(d, 5)
    _, activity_id = campaign(d, "Twice", list_id)
    send_now(d, activity_id)
    d.advance(5)
    d.client.post(
        "/__emulator/seed",
        json={
            "username": "alice@example.com",
            "contacts_count": 3,
            "generated_list_memberships": ["News"],
        },
    )
    send_now(d, activity_id)  # a Done activity can be scheduled again
    d.advance(5)
    history = get(d, f"/v3/emails/activities/{activity_id}/send_history")
    assert [(h["send_id"], h["count"]) for h in history] == [(1, 5), (2, 3)]
    # Nobody to send to: CC's reason code 12, still COMPLETED.
    send_now(d, activity_id)
    d.advance(5)
    last = get(d, f"/v3/emails/activities/{activity_id}/send_history")[-1]
    assert (last["count"], last["reason_code"], last["send_status"]) == (0, 12, "COMPLETED")


def test_campaign_creator_may_send_tests_but_the_scope_is_needed(d: Driver) -> None:
    _, activity_id = campaign(d, "Roles", None)
    at = {"campaign_activity_id": activity_id}
    d.call("POST", TESTS, 204, path=at, json={"email_addresses": ["qa@example.com"]}, user=CAROL)
    d.call("GET", PREVIEWS, 403, path=at, scopes=("contact_data",))
