"""Reporting: email (per activity, links, summaries, stats), contacts, landing pages and
SMS - every operation driven to a 2xx and to representative 4xx errors, over loopback
and in-process, with bodies checked against CC's contract (reporting errors are one
``StatsError`` object); then the filters, pages and permissions of the reports."""

from __future__ import annotations

import pytest

from ctct.emulator.api.pagination import encode_cursor
from tests.conftest import StartEmulator
from tests.emulator.api_support import ALICE, FAST
from tests.emulator.email_tours import (
    LANDING_URL,
    REPORT_DRIVEN,
    REPORT_TAGS,
    drive_reports,
    sent_campaign,
    sms_contact,
)
from tests.emulator.report_support import Driver, get, seed_news, tagged, walk


@pytest.fixture
def d(start_emulator: StartEmulator) -> Driver:
    return Driver(start_emulator(**FAST))


def test_every_operation(d: Driver) -> None:
    drive_reports(d)
    d.assert_drove(REPORT_DRIVEN)
    assert tagged(*REPORT_TAGS) == REPORT_DRIVEN


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
    # Rows show the contact as it is now: a deleted contact has its deletion date.
    gone = bounces[0]["contact_id"]
    assert d.client.delete(f"/v3/contacts/{gone}", headers=d.headers()).status_code == 204
    sends = {s["contact_id"]: s for s in walk(d, base + "/tracking/sends")}
    assert "deleted_at" in sends[gone] and len(sends) == 60
    assert sum("deleted_at" in s for s in sends.values()) == 1
    # A cursor from elsewhere is refused in the reporting service's shape.
    forged = [
        "xyz",
        encode_cursor({"t": "soon", "f": {}}, 1),
        encode_cursor({"t": 1.0, "f": {}}, 2**70),
        encode_cursor({"t": 1.0, "f": {"url_id": {"x": 1}}}, 1),
    ]
    for cursor in forged:
        for report in ("/tracking/sends", "/tracking/clicks"):
            bad = d.client.get(base + report, params={"cursor": cursor}, headers=d.headers())
            assert bad.status_code == 400, bad.text
            assert bad.json()["error_key"] == "reportingsvc.validation.error"


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
