"""Contact lists: create/get/put, 409 on duplicate names, filters and counts, cursor
pagination, DELETE as an asynchronous ``list_delete`` activity, privileges, restart."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import CAROL, FAST, auth, error, ok, seed
from tests.emulator.bulk_support import activity, control, wait_done


class Lists:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)

    def create(self, status: int = 201, **body: Any) -> Any:
        response = self.client.post("/v3/contact_lists", headers=self.headers, json=body)
        return ok(response, "ContactListPutPost", status)

    def get(self, list_id: str, **query: Any) -> Any:
        response = self.client.get(
            f"/v3/contact_lists/{list_id}", headers=self.headers, params=query
        )
        return ok(response, "ContactList")

    def page(self, url: str = "/v3/contact_lists", **query: Any) -> Any:
        # No params= for a next link: it would replace the link's own query.
        response = self.client.get(url, headers=self.headers, params=query or None)
        return ok(response, "ContactListArray")

    def names(self, **query: Any) -> list[str]:
        return [item["name"] for item in self.page(limit=1000, **query)["lists"]]


@pytest.fixture
def lists(start_emulator: StartEmulator) -> Lists:
    return Lists(start_emulator(**FAST))


def test_create_get_put(lists: Lists) -> None:
    created = lists.create(name="Bakers", description="People who bake", favorite=True)
    assert created["name"] == "Bakers"
    assert created["description"] == "People who bake"
    assert created["favorite"] is True
    assert created["created_at"] == created["updated_at"]
    assert "deleted_at" not in created
    assert lists.get(created["list_id"]) == created

    response = lists.client.put(
        f"/v3/contact_lists/{created['list_id']}",
        headers=lists.headers,
        json={"name": "Bread bakers"},
    )
    updated = ok(response, "ContactListPutPost")
    assert updated["name"] == "Bread bakers"
    assert updated["favorite"] is False  # PUT replaces: omitted favorite is the default
    assert "description" not in updated
    assert updated["created_at"] == created["created_at"]

    minimal = lists.create(name="Minimal")
    assert minimal["favorite"] is False and "description" not in minimal


def test_duplicate_names_conflict(lists: Lists) -> None:
    first = lists.create(name="VIP")
    items = error(
        lists.client.post("/v3/contact_lists", headers=lists.headers, json={"name": "vip"}),
        409,
        "lists.api.conflict",
    )
    assert first["list_id"] in items[0]["error_message"]
    other = lists.create(name="Other")
    response = lists.client.put(
        f"/v3/contact_lists/{other['list_id']}", headers=lists.headers, json={"name": "VIP"}
    )
    error(response, 409, "lists.api.conflict")
    # Renaming a list to its own name is no conflict.
    response = lists.client.put(
        f"/v3/contact_lists/{first['list_id']}", headers=lists.headers, json={"name": "VIP"}
    )
    ok(response, "ContactListPutPost")


def test_invalid_bodies(lists: Lists) -> None:
    post = lists.client.post
    error(
        post("/v3/contact_lists", headers=lists.headers, json={}), 400, "lists.api.validation.error"
    )
    error(post("/v3/contact_lists", headers=lists.headers, json={"name": "x" * 256}), 400)
    lists.create(name="x" * 255)
    items = error(
        post(
            "/v3/contact_lists",
            headers=lists.headers,
            json={"name": "", "favorite": "yes", "colour": "red"},
        ),
        400,
    )
    assert len(items) == 3  # every problem at once
    response = post(
        "/v3/contact_lists",
        headers=lists.headers,
        content=b"{",
    )
    error(response, 415)  # no JSON content type
    headers = {**lists.headers, "Content-Type": "application/json"}
    error(post("/v3/contact_lists", headers=headers, content=b"{"), 400)


def test_unknown_and_malformed_ids(lists: Lists) -> None:
    missing = str(uuid.uuid4())
    for method in ("GET", "PUT", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"name": "A"}} if method == "PUT" else {}
        response = lists.client.request(
            method, f"/v3/contact_lists/{missing}", headers=lists.headers, **kwargs
        )
        error(response, 404, "lists.api.not_found")
        response = lists.client.request(
            method, "/v3/contact_lists/not-a-uuid", headers=lists.headers, **kwargs
        )
        error(response, 404, "lists.api.not_found")


def test_filters_and_counts(lists: Lists) -> None:
    result = seed(
        lists.running,
        username="alice@example.com",
        lists=[{"name": "VIP"}, {"name": "Empty"}],
        contacts=[
            {"email": "a@example.com", "list_memberships": ["VIP"]},
            {"email": "b@example.com", "list_memberships": ["VIP", "Empty"], "deleted": True},
            {
                "email": "c@example.com",
                "permission_to_send": "unsubscribed",
                "list_memberships": ["VIP"],
            },
        ],
    )
    vip = result["lists"][0]["list_id"]
    page = lists.page(include_membership_count="all", include_count="true")
    counts = {item["name"]: item["membership_count"] for item in page["lists"]}
    # Deleted contacts are not members; unsubscribed ones are, but are not active.
    assert counts == {"General Interest": 0, "VIP": 2, "Empty": 0}
    assert page["lists_count"] == 3
    page = lists.page(include_membership_count="active")
    assert {i["name"]: i["membership_count"] for i in page["lists"]}["VIP"] == 1
    assert "membership_count" not in lists.page()["lists"][0]
    assert "lists_count" not in lists.page()
    assert lists.get(vip, include_membership_count="all")["membership_count"] == 2
    assert lists.names(name="vip") == ["VIP"]
    assert lists.names(name="nothing") == []
    assert lists.names(channel_type="email") == ["General Interest", "VIP", "Empty"]
    for bad in (
        {"status": "gone"},
        {"include_membership_count": "some"},
        {"include_count": "yes"},
        {"channel_type": "sms"},
        {"limit": "0"},
        {"limit": "1001"},
    ):
        response = lists.client.get("/v3/contact_lists", headers=lists.headers, params=bad)
        error(response, 400, "lists.api.validation.error")


def test_pagination_walk(lists: Lists) -> None:
    seed(
        lists.running,
        username="alice@example.com",
        lists=[{"name": f"L{n:02d}"} for n in range(25)],
    )
    names: list[str] = []
    url: str | None = "/v3/contact_lists?limit=10&include_count=true&include_membership_count=all"
    pages = 0
    while url is not None:
        page = lists.page(url)
        pages += 1
        assert page["lists_count"] == 26  # the filters and options ride in the cursor
        assert all("membership_count" in item for item in page["lists"])
        names.extend(item["name"] for item in page["lists"])
        url = page.get("_links", {}).get("next", {}).get("href")
        if url is not None:
            parts = urlsplit(url)
            assert not parts.netloc and parts.path == "/v3/contact_lists"
            assert parse_qs(parts.query)["limit"] == ["10"]
    assert pages == 3
    assert names == ["General Interest", *(f"L{n:02d}" for n in range(25))]
    response = lists.client.get(
        "/v3/contact_lists", headers=lists.headers, params={"cursor": "garbage"}
    )
    error(response, 400)


def test_delete_is_an_activity(lists: Lists) -> None:
    running = lists.running
    result = seed(
        running,
        username="alice@example.com",
        lists=[{"name": "Doomed"}],
        contacts=[{"email": "a@example.com", "list_memberships": ["Doomed"]}],
    )
    doomed = result["lists"][0]["list_id"]
    control(running, "pause")
    response = lists.client.delete(f"/v3/contact_lists/{doomed}", headers=lists.headers)
    accepted = ok(response, "ActivityDeleteListResponse", 202)
    assert accepted["state"] == "initialized"
    assert accepted["percent_done"] == 0
    assert accepted["activity_errors"] == []
    href = accepted["_links"]["self"]["href"]
    assert href == f"/v3/activities/{accepted['activity_id']}"
    # Asynchronous: until the activity runs, the list is still there.
    assert "deleted_at" not in lists.get(doomed)
    assert activity(running, lists.headers, accepted["activity_id"])["state"] == "initialized"

    assert control(running, "step") == {"stepped": True}
    started = activity(running, lists.headers, accepted["activity_id"])
    assert started["state"] == "processing"
    assert started["status"] == {
        "items_total_count": 1,
        "items_completed_count": 0,
        "list_count": 1,
    }
    assert "started_at" in started and "completed_at" not in started

    control(running, "resume")
    done = wait_done(running, lists.headers, accepted["activity_id"])
    assert done["state"] == "completed" and done["percent_done"] == 100
    assert done["status"]["items_completed_count"] == 1
    gone = lists.get(doomed)
    assert "deleted_at" in gone
    assert "Doomed" not in lists.names()
    assert "Doomed" in lists.names(status="deleted")
    assert "Doomed" in lists.names(status="all")
    contacts = ok(
        lists.client.get(
            "/v3/contacts", headers=lists.headers, params={"include": "list_memberships"}
        ),
        "Contacts",
    )["contacts"]
    assert contacts[0]["list_memberships"] == []
    # Deleted: a second DELETE or a PUT finds nothing; the name is free again.
    error(lists.client.delete(f"/v3/contact_lists/{doomed}", headers=lists.headers), 404)
    response = lists.client.put(
        f"/v3/contact_lists/{doomed}", headers=lists.headers, json={"name": "Back"}
    )
    error(response, 404)
    lists.create(name="Doomed")


def test_scope_and_privileges(lists: Lists) -> None:
    running = lists.running
    carol = auth(running.emulator, CAROL)  # campaign_creator: may view lists only
    ok(running.client.get("/v3/contact_lists", headers=carol), "ContactListArray")
    response = running.client.post("/v3/contact_lists", headers=carol, json={"name": "X"})
    error(response, 403, "forbidden")
    no_scope = auth(running.emulator, scopes=("account_read",))
    error(running.client.get("/v3/contact_lists", headers=no_scope), 403, "forbidden")
    error(running.client.patch("/v3/contact_lists", headers=lists.headers), 405)


def test_lists_and_activities_survive_a_restart(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    data = tmp_path / "emulator.db"
    first = Lists(start_emulator(data_path=data, **FAST))
    kept = first.create(name="Kept")
    doomed = first.create(name="Doomed")
    control(first.running, "pause")
    response = first.client.delete(f"/v3/contact_lists/{doomed['list_id']}", headers=first.headers)
    pending = ok(response, "ActivityDeleteListResponse", 202)
    first.running.emulator.accounts.close()
    first.running.emulator.close()

    second = start_emulator(data_path=data, **FAST)
    headers = first.headers  # keys persist, so the old token still works
    # The unfinished activity resumes on its own after the restart.
    done = wait_done(second, headers, pending["activity_id"])
    assert done["state"] == "completed"
    response = second.client.get("/v3/contact_lists", headers=headers, params={"status": "all"})
    by_name = {item["name"]: item for item in ok(response, "ContactListArray")["lists"]}
    assert by_name["Kept"] == kept
    assert "deleted_at" in by_name["Doomed"]
