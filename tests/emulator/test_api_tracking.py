"""Simulated tracking: reports that add up. A sent campaign's activity is planned from a
seed and arrives on the emulator's clock; at every moment each report agrees with every
other (activity and campaign stats, summaries, tracking lists, links, per-contact
reports) and with the contacts (opt-outs unsubscribe them, landing-page sign-ups are
contacts). Plus the control API's switches, determinism and persistence."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ctct.emulator import Emulator, EmulatorConfig, create_app
from ctct.emulator.clock import Clock
from ctct.emulator.inprocess import SyncASGITransport
from tests.conftest import Running
from tests.emulator.api_support import ALICE, FAST
from tests.emulator.email_tours import TRACKING_REPORTS
from tests.emulator.report_support import Driver, campaign, get, seed_news, send_now, walk

SEED = {
    "seed": 2024,
    "bounce": 0.05,
    "open": 0.5,
    "click": 0.4,
    "forward": 0.1,
    "optout": 0.05,
    "abuse": 0.02,
    "window_seconds": 6 * 3_600,
}
# Segment tracking fields and the report listing the same contacts.
SEGMENT_FIELDS = (
    ("sent", "sends"),
    ("opened", "opens"),
    ("clicked", "clicks"),
    ("bounced", "bounces"),
    ("opted_out", "optouts"),
    ("forwarded", "forwards"),
)
FROZEN = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _driver(config: EmulatorConfig, clock: Clock | None) -> tuple[Driver, Emulator]:
    emu = Emulator(config, clock)
    client = httpx2.Client(
        transport=SyncASGITransport(create_app(emulator=emu)), base_url="http://127.0.0.1"
    )
    return Driver(Running(emu, "http://127.0.0.1", client, "inprocess")), emu


class Drivers:
    """Makes in-process emulators (breadth, not transport, is what these tests check)."""

    def __init__(self) -> None:
        self.made: list[tuple[Driver, Emulator]] = []

    def new(self, data: Path | None = None) -> Driver:
        """An emulator whose clock moves only when advanced (so one moment can be read
        through many requests); with ``data``, a persistent one on the real clock."""
        config = EmulatorConfig().with_changes(**FAST)
        clock: Clock | None = Clock(source=lambda: FROZEN)
        if data is not None:
            config, clock = config.with_changes(data_path=data), None
        driver, emu = _driver(config, clock)
        self.made.append((driver, emu))
        return driver


@pytest.fixture
def drivers() -> Iterator[Drivers]:
    made = Drivers()
    yield made
    for driver, emu in reversed(made.made):
        driver.client.close()
        emu.close()


def resend_after_12_hours(d: Driver, activity_id: str, subject: str) -> None:
    d.call(
        "POST",
        "/emails/activities/{campaign_activity_id}/non_opener_resends",
        201,
        path={"campaign_activity_id": activity_id},
        json={"resend_subject": subject, "delay_minutes": 720},
    )


def _scenario(d: Driver, contacts: int = 120) -> tuple[str, str, str, str]:
    """A seeded campaign with a resend to non-openers, sent now."""
    d.control("POST", "/tracking", **SEED)
    list_id = seed_news(d, contacts)
    campaign_id, activity_id = campaign(d, "Spring news", list_id)
    resend_after_12_hours(d, activity_id, "Did you see?")
    send_now(d, activity_id)
    resend_id = next(
        a["campaign_activity_id"]
        for a in get(d, f"/v3/emails/{campaign_id}")["campaign_activities"]
        if a["role"] == "resend"
    )
    return list_id, campaign_id, activity_id, resend_id


def _lists(d: Driver, activity_id: str) -> dict[str, list[Any]]:
    base = f"/v3/reports/email_reports/{activity_id}/tracking/"
    return {name: walk(d, base + name, limit=37) for name in TRACKING_REPORTS}


def _people(items: list[Any]) -> set[str]:
    return {i["contact_id"] for i in items}


def _check_activity(d: Driver, activity_id: str) -> dict[str, Any]:
    """One activity's reports agree with each other; its stats."""
    lists = _lists(d, activity_id)
    stats = get(d, f"/v3/reports/stats/email_campaign_activities/{activity_id}")
    if not stats["results"]:  # not sent yet
        assert not lists["sends"]
        return {}
    s = stats["results"][0]["stats"]
    assert s["em_sends"] == len(lists["sends"]) == len(_people(lists["sends"]))
    assert s["em_opens"] == len(lists["unique_opens"]) == len(_people(lists["opens"]))
    assert s["em_opens_all"] == len(lists["opens"])
    assert s["em_clicks"] == len(_people(lists["clicks"]))
    assert s["em_clicks_all"] == len(lists["clicks"])
    assert s["em_forwards"] == len(_people(lists["forwards"]))
    assert s["em_optouts"] == len(lists["optouts"])
    assert s["em_bounces"] == len(lists["bounces"])
    assert s["em_not_opened"] == len(lists["didnotopens"])
    assert s["em_not_opened"] == s["em_sends"] - s["em_opens"] - s["em_bounces"]
    assert _people(lists["didnotopens"]).isdisjoint(
        _people(lists["opens"]) | _people(lists["bounces"])
    )
    assert _people(lists["clicks"]) <= _people(lists["opens"])
    assert _people(lists["opens"]).isdisjoint(_people(lists["bounces"]))
    for kind in ("opens", "clicks"):
        by_device = Counter(i["device_type"] for i in lists[kind])
        assert (
            sum(s[f"em_{kind}_all_{dev}"] for dev in ("computer", "mobile", "tablet", "other"))
            == s[f"em_{kind}_all"]
        )
        assert all(s[f"em_{kind}_all_{dev}"] == n for dev, n in by_device.items())
    by_code = Counter(b["bounce_code"] for b in lists["bounces"])
    reasons = {
        "B": "nonexistent_address",
        "D": "undeliverable",
        "F": "mailbox_full",
        "S": "suspended",
        "V": "vacation",
        "X": "other",
        "Z": "blocked",
    }
    assert {c: s[f"em_bounces_{r}"] for c, r in reasons.items() if s[f"em_bounces_{r}"]} == dict(
        by_code
    )
    links = get(d, f"/v3/reports/email_reports/{activity_id}/links", no_clicks="true")
    for link in links["link_click_counts"]:
        clicked = [c for c in lists["clicks"] if c["url_id"] == link["url_id"]]
        assert link["unique_clicks"] == len(_people(clicked))
    history = get(d, f"/v3/emails/activities/{activity_id}/send_history")
    assert sum(h["count"] for h in history) == s["em_sends"]
    return {"stats": s, "lists": lists}


def _check_contacts(d: Driver, reports: dict[str, dict[str, Any]], contact_ids: list[str]) -> None:
    """Per-contact reports sum to the activity reports."""
    totals: dict[str, Counter[str]] = {a: Counter() for a in reports}
    details: dict[str, Counter[str]] = {a: Counter() for a in reports}
    for contact_id in contact_ids:
        url = f"/v3/reports/contact_reports/{contact_id}"
        summary = get(
            d, url + "/activity_summary", start="2000-01-01T00:00:00Z", end="2100-01-01T00:00:00Z"
        )
        for item in summary["campaign_activities"]:
            if item["campaign_activity_id"] in totals:
                totals[item["campaign_activity_id"]].update(
                    {k: v for k, v in item.items() if k.startswith("em_")}
                )
        listed = walk(
            d,
            url + "/activity_details",
            tracking_activities_list="em_sends,em_opens,em_clicks,em_bounces,em_optouts,em_forwards",
        )
        for item in listed:
            if item["campaign_activity_id"] in details:
                details[item["campaign_activity_id"]][item["tracking_activity_type"]] += 1
    for activity_id, report in reports.items():
        if not report:
            continue
        s, t = report["stats"], totals[activity_id]
        assert (t["em_sends"], t["em_opens"], t["em_clicks"]) == (
            s["em_sends"],
            s["em_opens_all"],
            s["em_clicks_all"],
        )
        assert (t["em_bounces"], t["em_forwards"], t["em_unsubscribes"]) == (
            s["em_bounces"],
            s["em_forwards"],
            s["em_optouts"],
        )
        expected = {
            k: t[k] for k in ("em_sends", "em_opens", "em_clicks", "em_bounces", "em_forwards")
        }
        expected["em_optouts"] = t["em_unsubscribes"]
        assert details[activity_id] == Counter({k: v for k, v in expected.items() if v})


def _check_campaign(
    d: Driver, campaign_id: str, reports: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    stats = get(d, f"/v3/reports/stats/email_campaigns/{campaign_id}")["results"][0]
    summaries = walk(
        d, "/v3/reports/summary_reports/email_campaign_summaries", "bulk_email_campaign_summaries"
    )
    (summary,) = [s for s in summaries if s["campaign_id"] == campaign_id]
    s, u = stats["stats"], summary["unique_counts"]
    assert (u["sends"], u["opens"], u["clicks"], u["bounces"]) == (
        s["em_sends"],
        s["em_opens"],
        s["em_clicks"],
        s["em_bounces"],
    )
    assert (u["optouts"], u["forwards"], u["not_opened"]) == (
        s["em_optouts"],
        s["em_forwards"],
        s["em_not_opened"],
    )
    # Campaign figures count distinct contacts over the primary email and the resend.
    people = {
        kind: set().union(*(_people(r["lists"][kind]) for r in reports.values() if r))
        for kind in ("sends", "opens", "clicks", "bounces", "optouts")
    }
    assert [len(people[k]) for k in ("sends", "opens", "clicks", "bounces", "optouts")] == [
        s["em_sends"],
        s["em_opens"],
        s["em_clicks"],
        s["em_bounces"],
        s["em_optouts"],
    ]
    delivered = s["em_sends"] - s["em_bounces"]
    assert stats["percents"]["open"] == round(100 * s["em_opens"] / delivered, 1)
    assert stats["percents"]["bounce"] == round(100 * s["em_bounces"] / s["em_sends"], 1)
    return {"stats": s, "optouts": people["optouts"]}


def _segment(d: Driver, field: str, activity_id: str) -> int:
    """A segment of the contacts with ``field`` (opened, clicked...) for the activity."""
    condition = {
        "source": "tracking",
        "field": field,
        "op": "contains-any",
        "const_value": "campaign-activities",
        "param": activity_id,
    }
    criteria = {"version": "1.0.0", "criteria": {"type": "and", "group": [condition]}}
    body = {"name": f"{field} {activity_id}", "segment_criteria": json.dumps(criteria)}
    return int(d.call("POST", "/segments", 201, json=body).json()["segment_id"])


def _segment_members(d: Driver, segment_id: int) -> set[str]:
    found = walk(d, "/v3/contacts", "contacts", segment_id=segment_id, limit=500)
    return {c["contact_id"] for c in found}


def _unsubscribed_by_contact(d: Driver) -> set[str]:
    contacts = walk(d, "/v3/contacts", "contacts", status="unsubscribed", limit=500)
    return {
        c["contact_id"] for c in contacts if c["email_address"].get("opt_out_source") == "Contact"
    }


def test_reports_add_up_at_every_moment(drivers: Drivers) -> None:
    d = drivers.new()
    _, campaign_id, activity_id, resend_id = _scenario(d)
    contact_ids = [c["contact_id"] for c in walk(d, "/v3/contacts", "contacts", limit=500)]
    segments = {
        (activity, field): _segment(d, field, activity)
        for activity in (activity_id, resend_id)
        for field, _ in SEGMENT_FIELDS
    }
    series: list[dict[str, Any]] = []
    # Right after the send, as the activity arrives, once it is in; then the resend.
    for step in (0, 1_800, 6 * 3_600, 12 * 3_600, 6 * 3_600):
        d.advance(step)
        reports = {a: _check_activity(d, a) for a in (activity_id, resend_id)}
        _check_contacts(d, reports, contact_ids)
        totals = _check_campaign(d, campaign_id, reports)
        # Contacts agree: exactly the opted-out recipients are unsubscribed, by themselves;
        # segments of who opened, clicked... each activity are the reports' contacts.
        assert _unsubscribed_by_contact(d) == totals["optouts"]
        for (activity, field), segment_id in segments.items():
            report = dict(SEGMENT_FIELDS)[field]
            listed = _people(reports[activity]["lists"][report]) if reports[activity] else set()
            assert _segment_members(d, segment_id) == listed, (activity, field)
        series.append(totals["stats"])
    # A time series: counts only grow, and the activity arrived over time.
    for earlier, later in itertools.pairwise(series):
        assert all(later[k] >= earlier[k] for k in earlier if k != "em_not_opened")
    assert series[0]["em_opens"] < series[2]["em_opens"]
    # Exact counts from the rates: 6 of 120 bounce (5%), half of the 114 delivered open,
    # 40% of those click, 5% of the delivered opt out.
    primary = get(d, f"/v3/reports/stats/email_campaign_activities/{activity_id}")["results"][0][
        "stats"
    ]
    assert (primary["em_sends"], primary["em_bounces"], primary["em_opens"]) == (120, 6, 57)
    assert (primary["em_clicks"], primary["em_optouts"], primary["em_abuse"]) == (23, 6, 2)
    resent = get(d, f"/v3/reports/stats/email_campaign_activities/{resend_id}")["results"][0][
        "stats"
    ]
    assert resent["em_sends"] == 120 - 6 - 57  # the non-openers, bounces left out


def test_the_same_seed_gives_the_same_activity(drivers: Drivers) -> None:
    def run(seed: int) -> tuple[dict[str, Any], set[str]]:
        d = drivers.new()
        _, _, activity_id, _ = _scenario(d, contacts=60)
        d.control("POST", "/tracking", seed=seed)  # set before the send: the plan is fixed
        d.advance(7 * 3_600)
        stats = get(d, f"/v3/reports/stats/email_campaign_activities/{activity_id}")
        opened = walk(d, f"/v3/reports/email_reports/{activity_id}/tracking/unique_opens")
        return stats["results"][0]["stats"], {o["email_address"] for o in opened}

    first, second = run(1), run(2)
    assert first == second  # the switch changed after the send: same plan
    assert first[0]["em_opens"] == 29  # half of 57 delivered, rounded half up

    def sent_with(seed: int) -> set[str]:
        d = drivers.new()
        d.control("POST", "/tracking", **{**SEED, "seed": seed})
        list_id = seed_news(d, 60)
        _, activity_id = campaign(d, "Spring news", list_id)
        send_now(d, activity_id)
        d.advance(7 * 3_600)
        opened = walk(d, f"/v3/reports/email_reports/{activity_id}/tracking/unique_opens")
        return {o["email_address"] for o in opened}

    assert sent_with(5) == sent_with(5) != sent_with(6)
    assert len(sent_with(6)) == 29


def test_opted_out_contacts_are_not_sent_again(drivers: Drivers) -> None:
    d = drivers.new()
    d.control("POST", "/tracking", open=1.0, optout=0.5, bounce=0.0, window_seconds=60)
    list_id = seed_news(d, 20)
    _, first = campaign(d, "First", list_id)
    send_now(d, first)
    d.advance(120)
    out = _people(walk(d, f"/v3/reports/email_reports/{first}/tracking/optouts"))
    assert len(out) == 10 and _unsubscribed_by_contact(d) == out
    _, second = campaign(d, "Second", list_id)
    send_now(d, second)
    sent = _people(walk(d, f"/v3/reports/email_reports/{second}/tracking/sends"))
    assert len(sent) == 10 and sent.isdisjoint(out)
    contact = get(d, f"/v3/contacts/{sorted(out)[0]}")
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"
    assert contact["update_source"] == "Contact"


def test_landing_page_sign_ups_are_contacts(drivers: Drivers) -> None:
    d = drivers.new()
    list_id = seed_news(d, 20)
    joined = d.call("POST", "/contact_lists", 201, json={"name": "Joined"}).json()["list_id"]
    d.control(
        "POST", "/tracking", landing_page_open=0.5, landing_page_update=1.0, window_seconds=600
    )
    page = d.control(
        "POST",
        "/landing_pages",
        username=ALICE,
        name="Join us",
        contact_list_ids=[list_id],
        list_id=joined,
        new_contacts=4,
    )
    assert page["audience"] == 20
    base = f"/v3/reports/landing_pages/campaign_details/{page['campaign_activity_id']}/"
    d.advance(700)
    adds = walk(d, base + "p_unique_contact_adds")
    members = walk(d, "/v3/contacts", "contacts", lists=joined)
    assert _people(adds) == _people(members) and len(adds) == 4
    assert all(m["create_source"] == "Contact" for m in members)
    updates = walk(d, base + "p_unique_contact_updates")
    opens = walk(d, base + "p_unique_contact_opens")
    assert len(opens) == 10 and _people(updates) == _people(opens)
    assert all(
        get(d, f"/v3/contacts/{u['contact_id']}")["update_source"] == "Contact" for u in updates
    )
    # The contact's own report shows the page's activity too.
    someone = opens[0]["contact_id"]
    mine = walk(
        d,
        f"/v3/reports/contact_reports/{someone}/activity_details",
        tracking_activities_list="p_contact_open,p_contact_update",
    )
    assert {m["tracking_activity_type"] for m in mine} == {"p_contact_open", "p_contact_update"}
    assert {m["campaign_activity_name"] for m in mine} == {"Join us"}


def test_tracking_switches(drivers: Drivers) -> None:
    d = drivers.new()
    defaults = d.control("GET", "/tracking")
    assert defaults["open"] == 0.4 and defaults["seed"] == 0
    changed = d.control("POST", "/tracking", open=0.9, seed=42)
    assert (changed["open"], changed["seed"], changed["click"]) == (0.9, 42, defaults["click"])
    for bad in (
        {"open": 1.5},
        {"seed": -1},
        {"opens": 0.5},
        {"window_seconds": "1h"},
        {"click": True},
    ):
        answer = d.client.post("/__emulator/tracking", json=bad)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", bad
    # Reset forgets what was tracked (account data) and keeps the switches (settings).
    page = d.control("POST", "/landing_pages", username=ALICE, name="Before the reset")
    report = f"/v3/reports/landing_pages/campaign_details/{page['campaign_activity_id']}"
    assert d.client.get(report + "/p_contact_opens", headers=d.headers()).status_code == 200
    d.control("POST", "/reset")
    d.forget_tokens()
    assert d.client.get(report + "/p_contact_opens", headers=d.headers()).status_code == 404
    assert d.control("GET", "/tracking") == changed
    assert d.control("DELETE", "/tracking") == defaults
    d.control("POST", "/landing_pages", 404, username="nobody@example.com", name="x")
    d.control("POST", "/landing_pages", 400, username=ALICE, name="x", contact_list_ids=["nope"])
    d.control("POST", "/sms_campaigns", 400, username=ALICE)


def test_tracking_survives_a_restart(drivers: Drivers, tmp_path: Path) -> None:
    data = tmp_path / "emulator.db"
    d = drivers.new(data)
    d.control("POST", "/tracking", seed=9, window_seconds=600)
    list_id = seed_news(d, 10)
    campaign_id, activity_id = campaign(d, "Kept", list_id)
    resend_after_12_hours(d, activity_id, "Again")
    send_now(d, activity_id)
    before = get(d, f"/v3/reports/stats/email_campaign_activities/{activity_id}")
    again = drivers.new(data)
    assert again.control("GET", "/tracking")["seed"] == 9
    assert (
        get(again, f"/v3/reports/stats/email_campaign_activities/{activity_id}")["results"][0][
            "stats"
        ]["em_sends"]
        == before["results"][0]["stats"]["em_sends"]
    )
    again.advance(13 * 3_600)  # the resend is still due, after the restart
    listed = get(again, f"/v3/emails/activities/{activity_id}/non_opener_resends")
    assert listed[0]["resend_status"] == "DONE"
    assert get(again, f"/v3/reports/stats/email_campaigns/{campaign_id}")["results"]


def test_the_testing_handle_drives_tracking() -> None:
    from ctct.testing import EmulatorControlError, inprocess_emulator

    with inprocess_emulator() as emu:
        assert emu.tracking()["open"] == 0.4
        assert emu.set_tracking(seed=3, open=1.0, window_seconds=0)["open"] == 1.0
        seeded = emu.seed(
            username=ALICE,
            lists=[{"name": "Visitors"}],
            contacts_count=4,
            generated_list_memberships=["Visitors"],
        )
        page = emu.publish_landing_page(
            "Visit us", contact_list_ids=[seeded["lists"][0]["list_id"]], new_contacts=2
        )
        assert (page["audience"], page["new_contacts"]) == (4, 2)
        assert emu.send_sms_campaign("Texts")["recipients"] == 0
        with pytest.raises(EmulatorControlError, match="fraction"):
            emu.set_tracking(open=2)
        assert emu.reset_tracking()["open"] == 0.4
