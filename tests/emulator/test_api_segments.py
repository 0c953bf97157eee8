"""Segments: criteria evaluated on the emulated contacts (``GET /v3/contacts?segment_id=``),
validation, names, paging, and a segment as a bulk-activity source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.area_support import emails, inprocess_tour, run_activities, seed_alice
from tests.emulator.tours import Tour

A1, A2, A3 = (f"3f1c6a9e-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
PEOPLE = ["ann@example.com", "ben@example.com", "cat@example.com", "dee@example.com"]


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def criteria(*group: dict[str, Any], kind: str = "and") -> str:
    return json.dumps({"version": "1.0.0", "criteria": {"type": kind, "group": list(group)}})


def tracking(
    field: str, op: str = "contains-any", choice: str = "last-n-campaigns", param: str = "5"
) -> dict[str, str]:
    return {"source": "tracking", "field": field, "op": op, "const_value": choice, "param": param}


def members(t: Tour, segment_criteria: str, name: str = "S") -> list[str]:
    segment = t.call(
        "POST", "/segments", 201, json={"name": name, "segment_criteria": segment_criteria}
    ).json()
    body = t.call("GET", "/contacts", params={"segment_id": segment["segment_id"]}).json()
    t.call("DELETE", "/segments/{segment_id}", 204, path={"segment_id": segment["segment_id"]})
    return emails(body["contacts"])


def seed_tracking(t: Tour) -> None:
    """Three campaigns: A1 (oldest) to A3 (newest), two days apart."""
    seed_alice(t, contacts=[{"email": e} for e in PEOPLE])
    events = []
    for day, activity in enumerate((A1, A2, A3)):
        at = f"2030-01-0{day * 2 + 1}T12:00:00Z"
        events += [
            {"campaign_activity_id": activity, "contact": e, "kind": "send", "at": at}
            for e in PEOPLE
        ]
    # Ann opens everything; Ben clicks the newest (so opens it); Cat bounces A1.
    events += [
        {"campaign_activity_id": a, "contact": "ann@example.com", "kind": "open"}
        for a in (A1, A2, A3)
    ]
    events += [
        {"campaign_activity_id": A3, "contact": "ben@example.com", "kind": "click"},
        {"campaign_activity_id": A1, "contact": "cat@example.com", "kind": "bounce"},
    ]
    seed_alice(t, tracking=events)


def test_tracking_sets(t: Tour) -> None:
    seed_tracking(t)
    assert members(t, criteria(tracking("opened"))) == PEOPLE[:2]
    assert members(t, criteria(tracking("clicked"))) == ["ben@example.com"]
    # CC's example: did not open (at least one of) the last 5 campaigns.
    assert members(t, criteria(tracking("not_opened"))) == PEOPLE[1:]
    assert members(t, criteria(tracking("opened", "contains-all"))) == ["ann@example.com"]
    assert members(t, criteria(tracking("not_opened", param="1"))) == PEOPLE[2:]
    never_clicked = ["ann@example.com", *PEOPLE[2:]]
    assert members(t, criteria(tracking("not_clicked", "contains-all"))) == never_clicked
    assert members(t, criteria(tracking("bounced"))) == ["cat@example.com"]
    assert members(t, criteria(tracking("bounced", param="2"))) == []  # A1 is not in the last 2
    chosen = tracking("bounced", choice="campaign-activities", param=f"{A1},{A2}")
    assert members(t, criteria(chosen)) == ["cat@example.com"]
    assert members(t, criteria(tracking("sent", "contains-all"))) == PEOPLE


def test_last_n_days_moves_with_the_clock(t: Tour) -> None:
    seed_alice(t, contacts=[{"email": "ann@example.com"}])
    seed_alice(
        t, tracking=[{"campaign_activity_id": A1, "contact": "ann@example.com", "kind": "open"}]
    )
    within = criteria(tracking("opened", choice="last-n-days", param="30"))
    assert members(t, within) == ["ann@example.com"]
    t.advance(31 * 86_400)
    assert members(t, within) == []


def test_contact_lists_and_tags_criteria(t: Tour) -> None:
    tag = t.call("POST", "/contact_tags", 201, json={"name": "VIP"}).json()["tag_id"]
    field = t.call(
        "POST", "/contact_custom_fields", 201, json={"label": "Loaf", "type": "string"}
    ).json()["custom_field_id"]
    seeded = seed_alice(
        t,
        lists=[{"name": "Regulars"}],
        contacts=[
            {
                "email": "ann@example.com",
                "birthday_month": 4,
                "birthday_day": 1,
                "list_memberships": ["Regulars"],
                "street_addresses": [{"kind": "home", "state": "MD", "city": "Baltimore"}],
                "taggings": [tag],
            },
            {
                "email": "ben@example.com",
                "birthday_month": 4,
                "birthday_day": 2,
                "street_addresses": [{"kind": "home", "state": "MA"}],
                "custom_fields": [{"custom_field_id": field, "value": "Rye"}],
            },
            {"email": "cat@example.org", "first_name": "Cat", "list_memberships": ["Regulars"]},
        ],
    )
    regulars = seeded["lists"][0]["list_id"]
    april = {"source": "contact", "field": "birthday_month", "op": "eq", "value": "4"}
    not_maryland = {
        "source": "contact",
        "field": "street_addresses.state",
        "op": "ne",
        "value": "md",
    }
    # CC's own example: birthdays in April, not living in Maryland.
    assert members(t, criteria(april, not_maryland)) == ["ben@example.com"]
    rye = {"source": "contact", "field": f"custom_fields.{field}", "op": "eq", "value": "rye"}
    assert members(t, criteria(rye)) == ["ben@example.com"]
    dot_org = {"source": "contact", "field": "email_address", "op": "contains", "value": ".org"}
    assert members(t, criteria(dot_org)) == ["cat@example.org"]
    nameless = {"source": "contact", "field": "first_name", "op": "is-empty"}
    assert members(t, criteria(nameless)) == ["ann@example.com", "ben@example.com"]
    in_list = {
        "source": "list_membership",
        "field": "list_id",
        "op": "contains-any",
        "value": [regulars],
    }
    assert members(t, criteria(in_list)) == ["ann@example.com", "cat@example.org"]
    untagged = {"source": "tags", "field": "tag_id", "op": "not-contains-any", "value": tag}
    assert members(t, criteria(in_list, untagged)) == ["cat@example.org"]
    either = {"type": "or", "group": [rye, dot_org]}
    assert members(t, criteria(either)) == ["ben@example.com", "cat@example.org"]


def test_segments_are_dynamic_and_page(t: Tour) -> None:
    seed_alice(t, contacts_count=5)
    everyone = criteria(
        {"source": "contact", "field": "email_address", "op": "contains", "value": "contact"}
    )
    segment = t.call("POST", "/segments", 201, json={"name": "All", "segment_criteria": everyone})
    segment_id = segment.json()["segment_id"]
    first = t.call("GET", "/contacts", params={"segment_id": segment_id, "limit": 2}).json()
    assert len(first["contacts"]) == 2
    seen = emails(first["contacts"])
    href = first["_links"]["next"]["href"]
    while href:
        page = t.running.client.get(href, headers={"Authorization": f"Bearer {t.token()}"}).json()
        seen += emails(page["contacts"])
        href = page.get("_links", {}).get("next", {}).get("href")
    assert len(seen) == len(set(seen)) == 5
    seed_alice(t, contacts_count=1)  # a new contact joins the segment at once
    again = t.call("GET", "/contacts", params={"segment_id": segment_id, "limit": 50}).json()
    assert len(again["contacts"]) == 6
    t.call("GET", "/contacts", 400, params={"segment_id": segment_id, "status": "all"})
    t.call("DELETE", "/segments/{segment_id}", 204, path={"segment_id": segment_id})
    t.call("GET", "/contacts", 404, params={"segment_id": segment_id})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"version":"2.0.0","criteria":{"type":"and","group":[]}}', "version"),
        (criteria(tracking("opened"), kind="or"), '"and"'),
        (criteria(tracking("opened", param="501")), "1 to 500"),
        (criteria(tracking("opened", choice="last-n-days", param="1826")), "1 to 1825"),
        (criteria(tracking("glanced")), "field"),
        (criteria({"source": "weather"}), "source"),
        (
            criteria({"source": "contact", "field": "shoe_size", "op": "eq", "value": "9"}),
            "contact property",
        ),
        (
            criteria({"source": "tags", "field": "tag_id", "op": "contains-any", "value": ["x"]}),
            "UUIDs",
        ),
        ("x" * 20_001, "20,000"),
    ],
)
def test_bad_criteria_are_400(t: Tour, text: str, fragment: str) -> None:
    response = t.call("POST", "/segments", 400, json={"name": "Bad", "segment_criteria": text})
    assert any(fragment in e["error_message"] for e in response.json()), response.json()


def test_names_are_unique_until_deleted_and_lists_sort(t: Tour) -> None:
    body = {"name": "Beta", "segment_criteria": criteria(tracking("opened"))}
    beta = t.call("POST", "/segments", 201, json=body).json()
    t.call("POST", "/segments", 409, json={**body, "name": "BETA"})
    alpha = t.call("POST", "/segments", 201, json={**body, "name": "Alpha"}).json()
    t.call("PATCH", "/segments/{segment_id}/name", 409, path=beta, json={"name": "alpha"})
    by_name = t.call("GET", "/segments", params={"sort_by": "name", "limit": "1"}).json()
    assert [s["name"] for s in by_name["segments"]] == ["Alpha"]
    rest = t.running.client.get(
        by_name["_links"]["next"]["href"], headers={"Authorization": f"Bearer {t.token()}"}
    ).json()
    assert [s["name"] for s in rest["segments"]] == ["Beta"]
    newest = t.call("GET", "/segments").json()["segments"]
    assert [s["segment_id"] for s in newest] == [alpha["segment_id"], beta["segment_id"]]
    t.call("DELETE", "/segments/{segment_id}", 204, path=beta)
    assert [s["name"] for s in t.call("GET", "/segments").json()["segments"]] == ["Alpha"]
    t.call("POST", "/segments", 201, json=body)  # the deleted segment's name is free again
    t.call("PUT", "/segments/{segment_id}", 404, path=beta, json=body)
    t.call("GET", "/segments/{segment_id}", 404, path={"segment_id": "fourteen"})


def test_a_segment_as_a_membership_source(t: Tour) -> None:
    seeded = seed_alice(
        t,
        lists=[{"name": "Openers"}],
        contacts=[{"email": "ann@example.com"}, {"email": "ben@example.com"}],
    )
    seed_alice(
        t, tracking=[{"campaign_activity_id": A1, "contact": "ann@example.com", "kind": "open"}]
    )
    target = seeded["lists"][0]["list_id"]
    segment = t.call(
        "POST",
        "/segments",
        201,
        json={"name": "Openers", "segment_criteria": criteria(tracking("opened"))},
    ).json()
    body = {"source": {"segment_id": segment["segment_id"]}, "list_ids": [target]}
    t.call("POST", "/activities/add_list_memberships", 201, json=body)
    run_activities(t)
    listed = t.call("GET", "/contacts", params={"lists": target}).json()
    assert emails(listed["contacts"]) == ["ann@example.com"]
    missing = {"source": {"segment_id": 999}, "list_ids": [target]}
    t.call("POST", "/activities/add_list_memberships", 400, json=missing)


def test_over_loopback_too(start_emulator: StartEmulator) -> None:
    t = Tour(start_emulator(**FAST))
    seed_tracking(t)
    assert members(t, criteria(tracking("clicked"))) == ["ben@example.com"]
