"""Bulk activities over contacts: add/remove list memberships, contact_delete, contact
exports and their CSV file; shapes, sources and filters, chunked progress, 400s."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import CAROL, FAST, auth, error, ok, seed
from tests.emulator.bulk_support import control, wait_done

ADD = "/v3/activities/add_list_memberships"
REMOVE = "/v3/activities/remove_list_memberships"
DELETE = "/v3/activities/contact_delete"
EXPORT = "/v3/activities/contact_exports"


class Api:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)
        result = seed(
            running,
            username="alice@example.com",
            lists=[{"name": "A"}, {"name": "B"}, {"name": "Empty"}],
            contacts=[
                {"email": "ann@example.com", "first_name": "Ann", "list_memberships": ["A"]},
                {"email": "bob@example.com", "first_name": "Bob", "list_memberships": ["A", "B"]},
                {"email": "cy@example.com", "list_memberships": ["B"]},
                {"email": "un@example.com", "permission_to_send": "unsubscribed"},
                {"email": "del@example.com", "deleted": True, "list_memberships": ["A"]},
            ],
        )
        self.lists = {item["name"]: item["list_id"] for item in result["lists"]}
        response = self.client.get(
            "/v3/contacts", headers=self.headers, params={"status": "all", "limit": 500}
        )
        contacts = ok(response, "Contacts")["contacts"]
        self.ids = {c["email_address"]["address"].split("@")[0]: c["contact_id"] for c in contacts}

    def run(self, url: str, body: dict[str, Any], definition: str) -> Any:
        """POST the activity, check the 201, and return the completed activity."""
        response = self.client.post(url, headers=self.headers, json=body)
        queued = ok(response, definition, 201)
        assert queued["state"] == "initialized"
        return wait_done(self.running, self.headers, queued["activity_id"])

    def members(self, list_name: str) -> set[str]:
        response = self.client.get(
            "/v3/contacts",
            headers=self.headers,
            params={"lists": self.lists[list_name], "status": "all"},
        )
        return {
            c["email_address"]["address"].split("@")[0]
            for c in ok(response, "Contacts")["contacts"]
        }


@pytest.fixture
def api(start_emulator: StartEmulator) -> Api:
    return Api(start_emulator(**FAST))


def test_add_by_contact_ids_lists_tags_and_all_active(api: Api) -> None:
    unknown = str(uuid.uuid4())
    done = api.run(
        ADD,
        {"source": {"contact_ids": [api.ids["cy"], unknown]}, "list_ids": [api.lists["Empty"]]},
        "ActivityListsMembership",
    )
    assert done["state"] == "completed"
    assert done["status"] == {"items_total_count": 1, "items_completed_count": 1, "list_count": 1}
    assert done["activity_errors"] == [f"Contact {unknown} was not found."]
    assert api.members("Empty") == {"cy"}

    api.run(
        ADD,
        {
            "source": {"list_ids": [api.lists["A"]]},
            "list_ids": [api.lists["Empty"]],
            "exclude": {"contact_ids": [api.ids["bob"]]},
        },
        "ActivityListsMembership",
    )
    assert api.members("Empty") == {"cy", "ann"}  # deleted del and excluded bob left out

    api.run(
        ADD,
        {"source": {"all_active_contacts": True}, "list_ids": [api.lists["B"]]},
        "ActivityListsMembership",
    )
    assert api.members("B") == {"ann", "bob", "cy"}  # not the unsubscribed one

    tag = ok(
        api.client.post("/v3/contact_tags", headers=api.headers, json={"name": "T"}), "Tag", 201
    )
    response = api.client.put(
        f"/v3/contacts/{api.ids['un']}",
        headers=api.headers,
        json={
            "update_source": "Account",
            "email_address": {"address": "un@example.com"},
            "taggings": [tag["tag_id"]],
        },
    )
    ok(response, "ContactResource")
    api.run(
        ADD,
        {"source": {"tag_ids": [tag["tag_id"]]}, "list_ids": [api.lists["A"]]},
        "ActivityListsMembership",
    )
    assert "un" in api.members("A")


def test_remove_memberships(api: Api) -> None:
    done = api.run(
        REMOVE,
        {"source": {"list_ids": [api.lists["B"]]}, "list_ids": [api.lists["A"], api.lists["B"]]},
        "ActivityListsMembership",
    )
    assert done["status"]["list_count"] == 2
    assert api.members("B") == set()
    assert api.members("A") == {"ann", "del"}  # bob was on B, so off A too; del is deleted


def test_progress_in_chunks(api: Api) -> None:
    seed(api.running, username="alice@example.com", contacts_count=7)
    api.running.emulator.accounts.runner.chunk_size = 3
    control(api.running, "pause")
    response = api.client.post(
        ADD,
        headers=api.headers,
        json={"source": {"all_active_contacts": True}, "list_ids": [api.lists["Empty"]]},
    )
    activity_id = ok(response, "ActivityListsMembership", 201)["activity_id"]
    seen = []
    while control(api.running, "step")["stepped"]:
        response = api.client.get(f"/v3/activities/{activity_id}", headers=api.headers)
        seen.append(ok(response, "Activity"))
    assert [(s["state"], s["status"]["items_completed_count"]) for s in seen] == [
        ("processing", 0),
        ("processing", 3),
        ("processing", 6),
        ("processing", 9),
        ("completed", 10),
    ]
    assert seen[0]["status"]["items_total_count"] == 10  # 3 seeded + 7 generated, active


def test_contact_delete(api: Api) -> None:
    done = api.run(DELETE, {"contact_ids": [api.ids["ann"]]}, "ActivityDeleteStatus")
    assert done["status"]["items_completed_count"] == 1
    done = api.run(DELETE, {"list_ids": [api.lists["B"]]}, "ActivityDeleteStatus")
    assert done["status"] == {"items_total_count": 2, "items_completed_count": 2, "list_count": 1}
    response = api.client.get("/v3/contacts", headers=api.headers, params={"status": "deleted"})
    deleted = {c["email_address"]["address"] for c in ok(response, "Contacts")["contacts"]}
    assert deleted == {"ann@example.com", "bob@example.com", "cy@example.com", "del@example.com"}
    # Deleted contacts can be revived.
    response = api.client.put(
        f"/v3/contacts/{api.ids['ann']}",
        headers=api.headers,
        json={"update_source": "Account", "email_address": {"address": "ann@example.com"}},
    )
    assert "deleted_at" not in ok(response, "ContactResource")


def _csv(api: Api, activity: dict[str, Any]) -> list[dict[str, str]]:
    href = activity["_links"]["results"]["href"]
    assert href == f"/v3/contact_exports/{activity['activity_id']}"
    response = api.client.get(href, headers={**api.headers, "Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_exports(api: Api) -> None:
    field = ok(
        api.client.post(
            "/v3/contact_custom_fields",
            headers=api.headers,
            json={"label": "Shoe size", "type": "string"},
        ),
        "CustomField",
        201,
    )
    response = api.client.put(
        f"/v3/contacts/{api.ids['ann']}",
        headers=api.headers,
        json={
            "update_source": "Account",
            "email_address": {"address": "ann@example.com"},
            "first_name": "Ann",
            "custom_fields": [{"custom_field_id": field["custom_field_id"], "value": "38"}],
        },
    )
    ok(response, "ContactResource")
    everything = api.run(EXPORT, {}, "ActivityExportStatus")
    assert everything["status"]["items_completed_count"] == 4  # all but the deleted one
    rows = _csv(api, everything)
    assert [r["email_address"] for r in rows] == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
        "un@example.com",
    ]
    ann = rows[0]
    assert ann["first_name"] == "Ann" and ann["cf:Shoe_size"] == "38"
    assert ann["permission_to_send"] == "implicit" and ann["contact_id"] == api.ids["ann"]
    assert ann["list_memberships"] == api.lists["A"]

    subset = api.run(
        EXPORT,
        {"list_ids": [api.lists["B"]], "fields": ["email_address", "first_name", "cf:shoe_size"]},
        "ActivityExportStatus",
    )
    text_rows = _csv(api, subset)
    assert list(text_rows[0]) == ["email_address", "first_name", "cf:shoe_size"]
    assert [r["email_address"] for r in text_rows] == ["bob@example.com", "cy@example.com"]
    unsubscribed = api.run(EXPORT, {"status": "unsubscribed"}, "ActivityExportStatus")
    assert [r["email_address"] for r in _csv(api, unsubscribed)] == ["un@example.com"]


def test_export_walks_chunks_and_waits_for_completion(api: Api) -> None:
    seed(api.running, username="alice@example.com", contacts_count=25)
    api.running.emulator.accounts.runner.chunk_size = 4
    control(api.running, "pause")
    response = api.client.post(EXPORT, headers=api.headers, json={"fields": ["email_address"]})
    queued = ok(response, "ActivityExportStatus", 201)
    assert "results" not in queued["_links"]
    file_url = f"/v3/contact_exports/{queued['activity_id']}"
    error(api.client.get(file_url, headers=api.headers), 404)  # not ready yet
    control(api.running, "resume")
    done = wait_done(api.running, api.headers, queued["activity_id"])
    rows = _csv(api, done)
    emails = [r["email_address"] for r in rows]
    assert len(emails) == len(set(emails)) == 29  # each contact once, in order
    assert emails[4:] == [f"contact{n:06d}@example.com" for n in range(6, 31)]
    error(api.client.get(f"/v3/contact_exports/{uuid.uuid4()}", headers=api.headers), 404)
    other = api.run(DELETE, {"contact_ids": [api.ids["cy"]]}, "ActivityDeleteStatus")
    error(api.client.get(f"/v3/contact_exports/{other['activity_id']}", headers=api.headers), 404)


def test_bad_bodies(api: Api) -> None:
    def bad(url: str, body: Any, expect: str) -> None:
        items = error(api.client.post(url, headers=api.headers, json=body), 400)
        assert any(expect in i["error_message"] for i in items), items

    target = [api.lists["A"]]
    bad(ADD, {"list_ids": target}, "exactly one of")
    bad(ADD, {"source": {"all_active_contacts": True}}, "list_ids is required")
    two = {"contact_ids": [api.ids["ann"]], "list_ids": [api.lists["B"]]}
    bad(ADD, {"source": two, "list_ids": target}, "exactly one of")
    many = [str(uuid.uuid4()) for _ in range(501)]
    bad(ADD, {"source": {"contact_ids": many}, "list_ids": target}, "1 to 500")
    bad(ADD, {"source": {"segment_id": "three"}, "list_ids": target}, "segment_id")
    missing = str(uuid.uuid4())
    bad(ADD, {"source": {"all_active_contacts": True}, "list_ids": [missing]}, "does not exist")
    bad(REMOVE, {"source": {"contact_ids": ["x"]}, "list_ids": target}, "UUIDs")
    bad(DELETE, {}, "exactly one of contact_ids or list_ids")
    bad(DELETE, {"contact_ids": [api.ids["ann"]], "list_ids": target}, "exactly one")
    bad(DELETE, {"list_ids": [str(uuid.uuid4()) for _ in range(51)]}, "1 to 50")
    bad(EXPORT, {"fields": ["email_address", "shoe"]}, "'shoe' is not an export field")
    bad(EXPORT, {"fields": ["first_name", "email_optin_date"]}, "need email_address")
    bad(EXPORT, {"status": "gone"}, "status must be one of")
    bad(EXPORT, {"tag_ids": [missing], "status": "active"}, "cannot be combined")
    bad(EXPORT, [], "must be a JSON object")


def test_privileges(api: Api) -> None:
    carol = auth(api.running.emulator, CAROL)
    body = {"source": {"all_active_contacts": True}, "list_ids": [api.lists["A"]]}
    for url in (ADD, REMOVE, DELETE, EXPORT):
        error(api.client.post(url, headers=carol, json=body), 403, "forbidden")
    error(api.client.get(f"/v3/contact_exports/{uuid.uuid4()}", headers=carol), 403)
