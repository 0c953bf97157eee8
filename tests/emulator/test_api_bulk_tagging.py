"""Bulk activities added by issue 13: tagging and un-tagging contacts, deleting tags,
lists and custom fields in bulk. Each request answers 201 with an activity; the work is
checked once the activity has run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.area_support import emails, inprocess_tour, run_activities, seed_alice
from tests.emulator.tours import Tour

NO_SUCH = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def setup(t: Tour) -> dict[str, Any]:
    seeded = seed_alice(
        t,
        lists=[{"name": "Regulars"}, {"name": "Old"}],
        contacts=[
            {"email": "ann@example.com", "list_memberships": ["Regulars"]},
            {"email": "ben@example.com", "list_memberships": ["Regulars", "Old"]},
            {"email": "cat@example.com", "permission_to_send": "unsubscribed"},
        ],
    )
    regulars, old = (x["list_id"] for x in seeded["lists"])
    tag = t.call("POST", "/contact_tags", 201, json={"name": "Loyal"}).json()["tag_id"]
    ids = {
        c["email_address"]["address"]: c["contact_id"]
        for c in t.call("GET", "/contacts", params={"status": "all"}).json()["contacts"]
    }
    return {"regulars": regulars, "old": old, "tag": tag, "ids": ids}


def tagged(t: Tour, tag: str) -> list[str]:
    return emails(
        t.call("GET", "/contacts", params={"tags": tag, "status": "all"}).json()["contacts"]
    )


def activity(t: Tour, started: dict[str, Any]) -> dict[str, Any]:
    run_activities(t)
    done: dict[str, Any] = t.call(
        "GET", "/activities/{activity_id}", path={"activity_id": started["activity_id"]}
    ).json()
    assert done["state"] == "completed", done
    return done


def test_tag_a_list_but_its_excluded_contact_then_untag(t: Tour) -> None:
    s = setup(t)
    body = {
        "source": {"list_ids": [s["regulars"]]},
        "exclude": {"contact_ids": [s["ids"]["ben@example.com"]]},
        "tag_ids": [s["tag"]],
    }
    started = t.call("POST", "/activities/contacts_taggings_add", 201, json=body).json()
    assert started["state"] == "initialized"
    done = activity(t, started)
    assert done["status"]["items_total_count"] == 1
    assert tagged(t, s["tag"]) == ["ann@example.com"]
    everyone = {"source": {"all_active_contacts": True}, "tag_ids": [s["tag"]]}
    activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=everyone).json())
    assert tagged(t, s["tag"]) == ["ann@example.com", "ben@example.com"]  # cat is not active
    by_tag = {"source": {"tag_ids": [s["tag"]]}, "tag_ids": [s["tag"]]}
    activity(t, t.call("POST", "/activities/contacts_taggings_remove", 201, json=by_tag).json())
    assert tagged(t, s["tag"]) == []
    contacts = {"source": {"contact_ids": [s["ids"]["cat@example.com"]]}, "tag_ids": [s["tag"]]}
    activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=contacts).json())
    assert tagged(t, s["tag"]) == ["cat@example.com"]
    tag_count = t.call(
        "GET", "/contact_tags/{tag_id}", path={"tag_id": s["tag"]}, params={"include_count": "true"}
    )
    assert tag_count.status_code == 200


def test_new_subscribers_are_the_last_30_days(t: Tour) -> None:
    s = setup(t)
    t.advance(31 * 86_400)
    seed_alice(t, contacts=[{"email": "new@example.com"}])
    body = {"source": {"new_subscriber": True}, "tag_ids": [s["tag"]]}
    activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=body).json())
    assert tagged(t, s["tag"]) == ["new@example.com"]


def test_a_contact_holds_at_most_50_tags(t: Tour) -> None:
    seed_alice(t, contacts=[{"email": "ann@example.com"}])
    tags = [
        t.call("POST", "/contact_tags", 201, json={"name": f"T{n}"}).json()["tag_id"]
        for n in range(52)
    ]
    first = {"source": {"all_active_contacts": True}, "tag_ids": tags[:49]}
    activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=first).json())
    more = {"source": {"all_active_contacts": True}, "tag_ids": tags[49:]}
    done = activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=more).json())
    assert done["activity_errors"] and "added 1 of 3" in done["activity_errors"][0]
    found = t.call("GET", "/contacts", params={"include": "taggings"}).json()["contacts"][0]
    assert len(found["taggings"]) == 50


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"source": {"contact_ids": [NO_SUCH]}, "tag_ids": [NO_SUCH]}, 404, "tag"),
        ({"source": {"list_ids": [NO_SUCH]}, "tag_ids": "$tag"}, 404, "list"),
        ({"source": {}, "tag_ids": "$tag"}, 400, "exactly one"),
        (
            {"source": {"all_active_contacts": True, "list_ids": "$list"}, "tag_ids": "$tag"},
            400,
            "exactly one",
        ),
        (
            {
                "source": {"contact_ids": [NO_SUCH]},
                "exclude": {"contact_ids": [NO_SUCH]},
                "tag_ids": "$tag",
            },
            400,
            "exclude applies only",
        ),
        ({"source": {"all_active_contacts": True}}, 400, "tag_ids is required"),
        ({"source": {"all_active_contacts": True}, "tag_ids": ["x"] * 51}, 400, "1 to 50"),
        ({"source": {"segment_id": 1}, "tag_ids": "$tag"}, 400, "not a source"),
    ],
)
def test_bad_tagging_requests(t: Tour, body: dict[str, Any], status: int, fragment: str) -> None:
    s = setup(t)
    filled = _fill(body, s)
    problems = t.call("POST", "/activities/contacts_taggings_add", status, json=filled).json()
    assert any(fragment in p["error_message"] for p in problems), problems


def _fill(body: Any, s: dict[str, Any]) -> Any:
    if body == "$tag":
        return [s["tag"]]
    if body == "$list":
        return [s["regulars"]]
    if isinstance(body, dict):
        return {k: _fill(v, s) for k, v in body.items()}
    return body


def test_delete_tags_lists_and_custom_fields_in_bulk(t: Tour) -> None:
    s = setup(t)
    second = t.call("POST", "/contact_tags", 201, json={"name": "Second"}).json()["tag_id"]
    both = {"source": {"all_active_contacts": True}, "tag_ids": [s["tag"], second]}
    activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=both).json())
    deleted = t.call(
        "POST", "/activities/contacts_tags_delete", 201, json={"tag_ids": [s["tag"], second]}
    )
    activity(t, deleted.json())
    assert t.call("GET", "/contact_tags").json()["tags"] == []
    assert tagged(t, second) == []

    started = t.call(
        "POST", "/activities/list_delete", 201, json={"list_ids": [s["regulars"], s["old"]]}
    ).json()
    assert started["status"] == {"list_count": 2}
    activity(t, started)
    names = [x["name"] for x in t.call("GET", "/contact_lists").json()["lists"]]
    assert names == ["General Interest"]
    t.call("POST", "/activities/list_delete", 400, json={"list_ids": [s["regulars"]]})  # gone now
    t.call("POST", "/activities/list_delete", 400, json={"list_ids": [NO_SUCH] * 101})

    field = t.call(
        "POST", "/contact_custom_fields", 201, json={"label": "Loaf", "type": "string"}
    ).json()
    ann = s["ids"]["ann@example.com"]
    put = {
        "email_address": {"address": "ann@example.com"},
        "update_source": "Account",
        "custom_fields": [{"custom_field_id": field["custom_field_id"], "value": "Rye"}],
    }
    t.call("PUT", "/contacts/{contact_id}", path={"contact_id": ann}, json=put)
    started = t.call(
        "POST",
        "/activities/custom_fields_delete",
        201,
        json={"custom_field_ids": [field["custom_field_id"]]},
    ).json()
    assert "status" not in started
    activity(t, started)
    t.call("GET", "/contact_custom_fields/{custom_field_id}", 404, path=field)
    after = t.call(
        "GET",
        "/contacts/{contact_id}",
        path={"contact_id": ann},
        params={"include": "custom_fields"},
    )
    assert after.json()["custom_fields"] == []
    t.call("POST", "/activities/custom_fields_delete", 400, json={"custom_field_ids": []})
    t.call("POST", "/activities/contacts_tags_delete", 400, json={"tag_ids": [NO_SUCH] * 501})


def test_tagging_over_loopback(start_emulator: StartEmulator) -> None:
    t = Tour(start_emulator(**FAST))
    s = setup(t)
    body = {"source": {"list_ids": [s["regulars"]]}, "tag_ids": [s["tag"]]}
    activity(t, t.call("POST", "/activities/contacts_taggings_add", 201, json=body).json())
    assert tagged(t, s["tag"]) == ["ann@example.com", "ben@example.com"]
