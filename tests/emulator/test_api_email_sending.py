"""Email campaigns beyond create/schedule: V2 id cross-references, test sends, previews,
send history, A/B tests and resends to non-openers - every operation driven to a 2xx
and to representative 4xx errors, over loopback and in-process, with bodies checked
against CC's contract; then what each does to the sends that follow."""

from __future__ import annotations

import json

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import CAROL, FAST
from tests.emulator.email_tours import (
    ABTEST,
    ACTIVITY,
    EMAIL_DRIVEN,
    EMAIL_TAGS,
    HISTORY,
    PREVIEWS,
    RESENDS,
    TESTS,
)
from tests.emulator.report_support import (
    Driver,
    campaign,
    get,
    seed_news,
    send_now,
    tagged,
    walk,
)
from tests.emulator.tours import emails as emails_tour


@pytest.fixture
def d(start_emulator: StartEmulator) -> Driver:
    return Driver(start_emulator(**FAST))


def test_every_operation(d: Driver) -> None:
    # The contract tour of these tags (which the contract coverage test also runs).
    emails_tour.tour(d)
    d.assert_drove(EMAIL_DRIVEN)
    assert tagged(*EMAIL_TAGS) == EMAIL_DRIVEN


def test_xrefs_route_is_no_longer_taken_for_a_campaign_id(d: Driver) -> None:
    # It used to fall into /emails/{campaign_id} and answer "invalid format" (404).
    response = d.client.get(
        "/v3/emails/campaign_id_xrefs",
        params={"v2_email_campaign_ids": "1"},
        headers=d.headers(),
    )
    assert response.status_code == 200 and response.json() == {"xrefs": []}
    for bad in ("\u00b2", "99999999999999999999", "-1"):  # a 400, never a 500
        refused = d.client.get(
            "/v3/emails/campaign_id_xrefs",
            params={"v2_email_campaign_ids": bad},
            headers=d.headers(),
        )
        assert refused.status_code == 400, refused.text


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


def test_a_campaign_can_be_sent_to_a_segment(d: Driver) -> None:
    list_id = seed_news(d, 30)
    condition = {"source": "contact", "field": "first_name", "op": "eq", "value": "Ava"}
    criteria = {"version": "1.0.0", "criteria": {"type": "and", "group": [condition]}}
    segment = d.call(
        "POST", "/segments", 201, json={"name": "Avas", "segment_criteria": json.dumps(criteria)}
    ).json()["segment_id"]
    _, activity_id = campaign(d, "To a segment", None)
    at = {"campaign_activity_id": activity_id}
    headers = {
        "from_name": "Alice's Bakery",
        "from_email": "alice@example.com",
        "reply_to_email": "alice@example.com",
        "subject": "Hello Ava",
    }
    both = {**headers, "contact_list_ids": [list_id], "segment_ids": [segment]}
    d.call("PUT", ACTIVITY, 400, path=at, json=both)
    d.call("PUT", ACTIVITY, 400, path=at, json={**headers, "segment_ids": [segment + 1]})
    put = d.call("PUT", ACTIVITY, path=at, json={**headers, "segment_ids": [segment]}).json()
    assert put["segment_ids"] == [segment] and put["contact_list_ids"] == []
    send_now(d, activity_id)
    (sent,) = d.call("GET", HISTORY, path=at).json()
    assert (sent["segment_ids"], sent["contact_list_ids"], sent["count"]) == ([segment], [], 3)
    sends = walk(d, f"/v3/reports/email_reports/{activity_id}/tracking/sends")
    assert {s["first_name"] for s in sends} == {"Ava"} and len(sends) == 3
