"""Tour of Events."""

from __future__ import annotations

from tests.emulator.api_support import seed
from tests.emulator.tours import Tour

TAGS = ("Events",)
NO_SUCH = "00000000-0000-4000-8000-000000000000"


def tour(t: Tour) -> None:
    created = t.call("POST", "/events/default", 201, params={"name": "Bake-off"}).json()
    assert created["status"] == "DRAFT"
    t.call("POST", "/events/default", 400, params={"start_time": "soon"})
    event = {"event_id": created["event_id"]}
    t.call("GET", "/events/{event_id}", path=event)
    t.call("GET", "/events/{event_id}", 404, path={"event_id": NO_SUCH})
    t.call("PATCH", "/events/{event_id}", 204, path=event, json={"description": "Bring a loaf"})
    t.call("PATCH", "/events/{event_id}", 400, path=event, json={"status": "COMPLETE"})
    t.call("GET", "/events", params={"event_status": "DRAFT", "sort_by": "name"})
    t.call("GET", "/events", 400, params={"event_status": "SLEEPING"})
    copied = t.call("POST", "/events/{event_id}/copy", path=event, json={"target_event_name": "2"})
    assert copied.json()["status"] == "DRAFT"
    t.call("POST", "/events/{event_id}/copy", 400, path=event, json={})

    seeded = seed(
        t.running,
        username="alice@example.com",
        events=[
            {
                "name": "Open day",
                "registrations": [
                    {"email": "ann@example.com", "first_name": "Ann", "tickets": 2},
                    {
                        "email": "ben@example.com",
                        "payment_method": "STRIPE",
                        "payment_status": "PENDING",
                    },
                ],
            }
        ],
    )["events"][0]
    live = {"event_id": seeded["event_id"]}
    track = {**live, "track_id": seeded["track_id"]}
    ann, ben = seeded["registrations"]
    keys = {"order_ticket_keys": ann["order_ticket_keys"]}
    t.call("POST", "/events/{event_id}/check_in/tickets", 204, path=live, json=keys)
    t.call("POST", "/events/{event_id}/check_in/tickets", 400, path=event, json=keys)
    t.call("POST", "/events/{event_id}/undo_check_in/tickets", 204, path=live, json=keys)
    t.call(
        "POST",
        "/events/{event_id}/undo_check_in/tickets",
        400,
        path=live,
        json={"order_ticket_keys": ["nope"]},
    )
    base = "/events/{event_id}/tracks/{track_id}/registrations"
    listed = t.call("GET", base, path=track, params={"sort_by": "email_address"}).json()
    assert [r["email_address"] for r in listed["records"]] == ["ann@example.com", "ben@example.com"]
    t.call("GET", base, 404, path={**live, "track_id": "zzzzzz"})
    one = {**track, "registration_id": ann["registration_id"]}
    detail = t.call("GET", base + "/{registration_id}", path=one).json()
    assert detail["eligible_checkin_tickets"] == 2
    t.call("GET", base + "/{registration_id}", 404, path={**track, "registration_id": NO_SUCH})
    cancel = {"registration_ids": [ann["registration_id"]], "registration_status": "CANCELED"}
    t.call("PUT", base, path=track, json=cancel)
    t.call("PUT", base, 207, path=track, json={**cancel, "registration_ids": [NO_SUCH]})
    t.call("PUT", base, 400, path=track, json={"registration_ids": []})
    paid = {"registration_ids": [ben["registration_id"]], "payment_status": "Paid"}
    t.call("PUT", base + "/payment_status", path=track, json=paid)
    t.call("PUT", base + "/payment_status", 400, path=track, json={**paid, "payment_status": "?"})
