"""Events: creating, listing (filters, sorting, next/prev cursors), updating with status
changes, copying, check-in and registrations (seeded through the control API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.area_support import inprocess_tour, seed_alice
from tests.emulator.tours import Tour

REGISTRATIONS = "/events/{event_id}/tracks/{track_id}/registrations"
NO_SUCH = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def create(t: Tour, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = t.call("POST", "/events/default", 201, params=params).json()
    return body


def test_a_default_event(t: Tour) -> None:
    event = create(t)
    assert event["name"] == event["title"] == "New Event 1"
    assert event["status"] == "DRAFT"
    assert event["contact"]["organization_name"] == "Alice's Bakery"
    assert event["time_zone"] == "US/Eastern"
    track = event["default_track"]
    assert len(track["track_id"]) == 6 and event["registration_url"].endswith(track["track_id"])
    named = create(
        t, name="Bake-off", start_time="2031-05-01T10:00:00Z", end_time="2031-05-01T12:00:00Z"
    )
    assert (named["event_start"], named["event_end"]) == (
        "2031-05-01T10:00:00.000Z",
        "2031-05-01T12:00:00.000Z",
    )
    one_hour = create(t, start_time="2031-05-01T10:00:00Z")
    assert one_hour["event_end"] == "2031-05-01T11:00:00.000Z"
    t.call(
        "POST",
        "/events/default",
        400,
        params={"start_time": "2031-05-01T10:00:00Z", "end_time": "2031-05-01T09:00:00Z"},
    )
    t.call("POST", "/events/default", 400, params={"placeholder_campaign_id": "campaign-123"})
    no_settings = t.call(
        "GET", "/events/{event_id}", path=named, params={"include": "false"}
    ).json()
    assert "event_settings" not in no_settings
    t.call("GET", "/events/{event_id}", 400, path=named, params={"include": "maybe"})


def test_list_filter_sort_and_page(t: Tour) -> None:
    for name in ("Cherry", "Apple", "Banana"):
        create(t, name=name)
    first = t.call("GET", "/events", params={"sort_by": "name", "limit": "2"}).json()
    assert [e["name"] for e in first["records"]] == ["Apple", "Banana"]
    assert first["total_records"] == 3 and "prev_cursor" not in first
    second = t.call("GET", "/events", params={"next": first["next_cursor"], "limit": "2"}).json()
    assert [e["name"] for e in second["records"]] == ["Cherry"]
    back = t.call("GET", "/events", params={"prev": second["prev_cursor"], "limit": "2"}).json()
    assert [e["name"] for e in back["records"]] == ["Apple", "Banana"]
    linked = t.running.client.get(
        first["_links"]["next"]["href"], headers={"Authorization": f"Bearer {t.token()}"}
    )
    assert [e["name"] for e in linked.json()["records"]] == ["Cherry"]
    desc = t.call("GET", "/events", params={"sort_by": "name", "sort_order": "DESC"}).json()
    assert [e["name"] for e in desc["records"]] == ["Cherry", "Banana", "Apple"]
    found = t.call("GET", "/events", params={"search_text": "ANAN"}).json()
    assert [e["name"] for e in found["records"]] == ["Banana"]
    assert t.call("GET", "/events", params={"event_status": "ACTIVE"}).json()["records"] == []
    t.call("GET", "/events", 400, params={"sort_by": "size"})
    t.call("GET", "/events", 400, params={"limit": "101"})
    t.call("GET", "/events", 400, params={"next": "x", "prev": "y"})


def test_patch_moves_status_and_guards_finished_events(t: Tour) -> None:
    event = create(t)
    path = {"event_id": event["event_id"]}
    address = {"address_type": "EVENT", "line1": "1 Baker St", "city": "Boston", "latitude": 42.3}
    t.call(
        "PATCH",
        "/events/{event_id}",
        204,
        path=path,
        json={"status": "ACTIVE", "address": address, "location_type": "PHYSICAL"},
    )
    active = t.call("GET", "/events/{event_id}", path=path).json()
    assert active["status"] == "ACTIVE" and "active_time" in active and active["address"] == address
    listed = t.call("GET", "/events", params={"event_status": "ACTIVE"}).json()["records"]
    assert listed[0]["address"] == address
    t.call("PATCH", "/events/{event_id}", 400, path=path, json={"address": {"line1": "x"}})
    t.call(
        "PATCH", "/events/{event_id}", 400, path=path, json={"event_end": "2000-01-01T00:00:00Z"}
    )
    t.call("PATCH", "/events/{event_id}", 400, path=path, json={"colour": "red"})
    t.call("PATCH", "/events/{event_id}", 204, path=path, json={**active, "status": "COMPLETE"})
    t.call("PATCH", "/events/{event_id}", 400, path=path, json={"name": "Too late"})
    t.call("PATCH", "/events/{event_id}", 404, path={"event_id": NO_SUCH}, json={})


def test_copy(t: Tour) -> None:
    event = create(t, name="Original")
    path = {"event_id": event["event_id"]}
    t.call("PATCH", "/events/{event_id}", 204, path=path, json={"status": "ACTIVE"})
    activity = event["default_track"]["campaign_activity_id"]
    copied = t.call(
        "POST",
        "/events/{event_id}/copy",
        path=path,
        json={"target_event_name": "Copy", "source_campaign_activities": [activity]},
    ).json()
    assert copied["status"] == "DRAFT" and copied["name"] == "Copy"
    assert copied["event_id"] != event["event_id"]
    assert copied["default_track"]["track_id"] != event["default_track"]["track_id"]
    assert "active_time" not in copied
    partial = t.call(
        "POST",
        "/events/{event_id}/copy",
        207,
        path=path,
        json={"target_event_name": "Partial", "source_campaign_activities": [NO_SUCH]},
    ).json()
    assert partial["failed_campaign_activities"] == [NO_SUCH]
    t.call("PATCH", "/events/{event_id}", 204, path=path, json={"status": "DELETED"})
    t.call("POST", "/events/{event_id}/copy", 400, path=path, json={"target_event_name": "x"})
    assert all(e["status"] != "DELETED" for e in t.call("GET", "/events").json()["records"])


def seeded_event(t: Tour, status: str = "ACTIVE") -> dict[str, Any]:
    event: dict[str, Any] = seed_alice(
        t,
        events=[
            {
                "name": "Open day",
                "status": status,
                "registrations": [
                    {
                        "email": "ann@example.com",
                        "first_name": "Ann",
                        "last_name": "Lee",
                        "tickets": 2,
                    },
                    {
                        "email": "ben@example.com",
                        "first_name": "Ben",
                        "tickets": [{"ticket_name": "VIP", "price": 25}],
                        "payment_method": "STRIPE",
                        "payment_status": "PENDING",
                    },
                    {"email": "cat@example.com", "registration_status": "CANCELED"},
                ],
            }
        ],
    )["events"][0]
    return event


def test_check_in(t: Tour) -> None:
    event = seeded_event(t)
    ann, _, cat = event["registrations"]
    path = {"event_id": event["event_id"]}
    track = {**path, "track_id": event["track_id"]}
    one = {"order_ticket_keys": ann["order_ticket_keys"][:1]}
    t.call("POST", "/events/{event_id}/check_in/tickets", 204, path=path, json=one)
    detail = t.call(
        "GET",
        REGISTRATIONS + "/{registration_id}",
        path={**track, "registration_id": ann["registration_id"]},
    ).json()
    assert detail["checkin_status"] == "PARTIALLY_CHECKED_IN" and detail["checkedIn_tickets"] == 1
    assert detail["tickets"][0]["checked_in_time"]
    t.call(
        "POST",
        "/events/{event_id}/check_in/tickets",
        204,
        path=path,
        json={"order_ticket_keys": ann["order_ticket_keys"]},
    )
    lite = t.call("GET", REGISTRATIONS, path=track, params={"search_text": "ann"}).json()["records"]
    assert lite[0]["checkin_status"] == "CHECKED_IN" and lite[0]["checkedIn_tickets"] == 2
    problems = t.call(
        "POST",
        "/events/{event_id}/check_in/tickets",
        400,
        path=path,
        json={"order_ticket_keys": cat["order_ticket_keys"]},
    ).json()
    assert "CANCELLED" in problems[0]["error_message"]
    t.call("POST", "/events/{event_id}/undo_check_in/tickets", 204, path=path, json=one)
    t.call(
        "POST",
        "/events/{event_id}/check_in/tickets",
        400,
        path=path,
        json={"order_ticket_keys": []},
    )
    draft = create(t)
    t.call(
        "POST",
        "/events/{event_id}/check_in/tickets",
        400,
        path={"event_id": draft["event_id"]},
        json=one,
    )


def test_registrations_filter_sort_and_update(t: Tour) -> None:
    event = seeded_event(t)
    ann, ben, cat = event["registrations"]
    track = {"event_id": event["event_id"], "track_id": event["track_id"]}
    every = t.call(
        "GET", REGISTRATIONS, path=track, params={"sort_by": "total", "sort_order": "DESC"}
    ).json()
    assert every["records"][0]["email_address"] == "ben@example.com"
    assert every["total_records"] == 3
    paged = t.call("GET", REGISTRATIONS, path=track, params={"limit": "2", "page_size": "2"}).json()
    assert len(paged["records"]) == 2 and paged["next_cursor"]
    t.call("GET", REGISTRATIONS, 400, path=track, params={"limit": "2", "page_size": "3"})
    canceled = t.call(
        "GET", REGISTRATIONS, path=track, params={"registration_status": "CANCELED"}
    ).json()
    assert [r["registration_id"] for r in canceled["records"]] == [cat["registration_id"]]
    t.call("GET", REGISTRATIONS, 400, path=track, params={"payment_status": "MAYBE"})
    # Payment status: only registrations with a payment method change.
    paid = {
        "registration_ids": [ann["registration_id"], ben["registration_id"]],
        "payment_status": "paid",
    }
    t.call("PUT", REGISTRATIONS + "/payment_status", path=track, json=paid)
    by_payment = t.call("GET", REGISTRATIONS, path=track, params={"payment_status": "PAID"}).json()
    assert [r["registration_id"] for r in by_payment["records"]] == [ben["registration_id"]]
    restored = {"registration_ids": [cat["registration_id"]], "registration_status": "REGISTERED"}
    t.call("PUT", REGISTRATIONS, path=track, json=restored)
    t.call(
        "POST",
        "/events/{event_id}/check_in/tickets",
        204,
        path={"event_id": event["event_id"]},
        json={"order_ticket_keys": cat["order_ticket_keys"]},
    )
    mixed = {
        "registration_ids": [ann["registration_id"], NO_SUCH],
        "registration_status": "CANCELED",
    }
    answer = t.call("PUT", REGISTRATIONS, 207, path=track, json=mixed).json()
    assert answer == {"failed_registration_ids": [NO_SUCH]}
    t.call("PUT", REGISTRATIONS, 400, path=track, json={**mixed, "registration_status": "GONE"})
    t.call("PUT", REGISTRATIONS, 400, path=track, params={"increase_count": "yes"}, json=mixed)
    listing = t.call("GET", "/events", params={"event_status": "ACTIVE"}).json()["records"][0]
    metrics = listing["event_registration_summary_metrics"]
    assert metrics == {"registration_count": 2, "ticket_sold": 2, "item_sold": 0}


def test_seed_errors_say_what_to_send(t: Tour) -> None:
    bad = t.running.client.post(
        "/__emulator/seed",
        json={"username": "alice@example.com", "events": [{"name": "x", "status": "LIVE"}]},
    )
    assert bad.status_code == 400 and "status" in bad.json()["error_description"]
    bad = t.running.client.post(
        "/__emulator/seed",
        json={
            "username": "alice@example.com",
            "events": [{"name": "x", "registrations": [{"first_name": "no email"}]}],
        },
    )
    assert bad.status_code == 400 and "email" in bad.json()["error_description"]


def test_campaign_creator_may_manage_events_over_loopback(start_emulator: StartEmulator) -> None:
    t = Tour(start_emulator(**FAST))
    created = t.call("POST", "/events/default", 201, user="carol@example.com").json()
    t.call("GET", "/events/{event_id}", path=created, user="carol@example.com")
    t.call("GET", "/events", 403, scopes=("contact_data",))
