"""Contacts: create, get, CC's PUT semantics, soft delete and revive, errors, filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from ctct.emulator.api.contact_input import SUBRESOURCES
from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import BOB, CAROL, FAST, auth, error, ok, seed

ALL_INCLUDES = ",".join(SUBRESOURCES)


class Api:
    """Alice's view of the API, over one running emulator."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)

    def create(self, status: int = 201, **body: Any) -> Any:
        body.setdefault("create_source", "Account")
        response = self.client.post("/v3/contacts", headers=self.headers, json=body)
        return ok(response, "ContactResource", status)

    def get(self, contact_id: str, include: str | None = None) -> Any:
        params = {"include": include} if include else {}
        response = self.client.get(
            f"/v3/contacts/{contact_id}", headers=self.headers, params=params
        )
        return ok(response, "ContactResource")

    def put(self, contact_id: str, **body: Any) -> Any:
        response = self.client.put(f"/v3/contacts/{contact_id}", headers=self.headers, json=body)
        return ok(response, "ContactResource")

    def list(self, **params: Any) -> Any:
        return ok(self.client.get("/v3/contacts", headers=self.headers, params=params), "Contacts")

    def emails(self, **params: Any) -> set[str]:
        return {c["email_address"]["address"] for c in self.list(limit=500, **params)["contacts"]}


@pytest.fixture
def api(start_emulator: StartEmulator) -> Api:
    return Api(start_emulator(**FAST))


def _email(address: str, permission: str | None = None) -> dict[str, str]:
    email = {"address": address}
    if permission:
        email["permission_to_send"] = permission
    return email


def test_create_and_get(api: Api) -> None:
    created = api.create(
        email_address=_email("ann@example.com", "explicit"),
        first_name="Ann",
        last_name="Lee",
        job_title="Baker",
        company_name="Crumbs",
        birthday_month=11,
        birthday_day=24,
        anniversary="2006-11-15",
    )
    assert created["email_address"]["address"] == "ann@example.com"
    assert created["email_address"]["permission_to_send"] == "explicit"
    assert created["email_address"]["opt_in_source"] == "Account"
    assert created["create_source"] == created["update_source"] == "Account"
    assert created["created_at"] == created["updated_at"]
    assert "deleted_at" not in created
    assert not set(SUBRESOURCES) & set(created)  # none sent, none shown
    fetched = api.get(created["contact_id"])
    assert fetched == created


def test_create_with_only_a_name_or_an_sms_channel(api: Api) -> None:
    assert "email_address" not in api.create(last_name="Only")
    sms = api.create(
        sms_channel={
            "full_sms_address": "17815551212",
            "sms_channel_consents": [
                {"consent_type": "promotional_sms", "sms_consent_permission": "explicit"}
            ],
        }
    )
    assert sms["sms_channel"]["sms_address"] == "7815551212"
    assert sms["sms_channel"]["dial_code"] == "1"


def test_sub_resources_appear_only_when_included(api: Api) -> None:
    lists = seed(api.running, username="alice@example.com", lists=[{"name": "VIP"}])["lists"]
    vip = lists[0]["list_id"]
    field_id, tag_id = str(uuid.uuid4()), str(uuid.uuid4())
    created = api.create(
        email_address=_email("ann@example.com"),
        custom_fields=[{"custom_field_id": field_id, "value": "Tesla"}],
        list_memberships=[vip],
        phone_numbers=[{"phone_number": "+1-555-555-0100", "kind": "mobile"}],
        street_addresses=[{"kind": "home", "street": "1 Main St", "city": "Boston"}],
        taggings=[tag_id],
        notes=[{"content": "Met at the fair"}],
    )
    assert set(SUBRESOURCES) <= set(created)  # sent, so echoed
    contact_id = created["contact_id"]
    assert not set(SUBRESOURCES) & set(api.get(contact_id))
    full = api.get(contact_id, ALL_INCLUDES)
    assert full["custom_fields"] == [{"custom_field_id": field_id, "value": "Tesla"}]
    assert full["list_memberships"] == [vip]
    assert full["phone_numbers"][0]["kind"] == "mobile"
    assert full["street_addresses"][0]["city"] == "Boston"
    assert full["taggings"] == [tag_id]
    assert full["notes"][0]["content"] == "Met at the fair"
    partial = api.get(contact_id, "phone_numbers,taggings")
    assert {"phone_numbers", "taggings"} == set(SUBRESOURCES) & set(partial)
    listed = api.list(include="list_memberships,notes")["contacts"][0]
    assert {"list_memberships", "notes"} == set(SUBRESOURCES) & set(listed)
    error(
        api.client.get(
            f"/v3/contacts/{contact_id}", headers=api.headers, params={"include": "friends"}
        ),
        400,
        "contacts.api.validation.error",
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"first_name": "Ann", "create_source": None}, "create_source"),
        ({"first_name": "Ann", "create_source": "Robot"}, "create_source"),
        ({"job_title": "Baker"}, "at least one of"),
        ({"email_address": {"address": "not-an-email"}}, "not a valid email"),
        ({"email_address": {"address": "a@example.com", "permission_to_send": "yes"}}, "permis"),
        ({"first_name": "x" * 51}, "first_name"),
        ({"first_name": "Ann", "birthday_month": 13, "birthday_day": 1}, "birthday_month"),
        ({"first_name": "Ann", "birthday_month": 2}, "together"),
        ({"first_name": "Ann", "anniversary": "last spring"}, "anniversary"),
        ({"first_name": "Ann", "phone_numbers": [{}] * 4}, "at most 3"),
        ({"first_name": "Ann", "street_addresses": [{"street": "1 Main"}]}, "kind"),
        ({"first_name": "Ann", "list_memberships": ["not-a-uuid"]}, "UUID"),
        ({"first_name": "Ann", "taggings": [[], {}]}, "UUID"),  # found by the fuzzer: a 500
        ({"first_name": "Ann", "list_memberships": [str(uuid.uuid4())]}, "does not exist"),
        ({"first_name": "Ann", "nickname": "Annie"}, "nickname"),
    ],
)
def test_create_validation(api: Api, body: dict[str, Any], fragment: str) -> None:
    body = {"create_source": "Account", **body}
    if body["create_source"] is None:
        del body["create_source"]
    response = api.client.post("/v3/contacts", headers=api.headers, json=body)
    items = error(response, 400, "contacts.api.validation.error")
    assert any(fragment in i["error_message"] for i in items), items
    assert api.list(status="all")["contacts"] == []


def test_every_problem_is_listed(api: Api) -> None:
    body = {"first_name": "x" * 60, "last_name": 5, "birthday_month": 1}
    items = error(api.client.post("/v3/contacts", headers=api.headers, json=body), 400)
    assert len(items) >= 4  # create_source, first_name, last_name, birthday pair


def test_duplicate_email_is_409(api: Api) -> None:
    first = api.create(email_address=_email("Ann@Example.com"))
    response = api.client.post(
        "/v3/contacts",
        headers=api.headers,
        json={"create_source": "Contact", "email_address": _email("ann@example.com")},
    )
    items = error(response, 409, "contacts.api.conflict")
    assert first["contact_id"] in items[0]["error_message"]
    # Deleted contacts keep their address: revive them instead.
    api.client.delete(f"/v3/contacts/{first['contact_id']}", headers=api.headers)
    response = api.client.post(
        "/v3/contacts",
        headers=api.headers,
        json={"create_source": "Contact", "email_address": _email("ann@example.com")},
    )
    error(response, 409)
    # Another account may use the same address.
    bob = api.client.post(
        "/v3/contacts",
        headers=auth(api.running.emulator, BOB),
        json={"create_source": "Contact", "email_address": _email("ann@example.com")},
    )
    ok(bob, "ContactResource", 201)


def test_put_replaces_top_level_fields_and_keeps_omitted_sub_resources(api: Api) -> None:
    vip = seed(api.running, username="alice@example.com", lists=[{"name": "VIP"}])["lists"][0]
    created = api.create(
        email_address=_email("ann@example.com"),
        first_name="Ann",
        last_name="Lee",
        job_title="Baker",
        birthday_month=3,
        birthday_day=4,
        phone_numbers=[{"phone_number": "555-0100", "kind": "home"}],
        list_memberships=[vip["list_id"]],
        notes=[{"content": "first note"}],
    )
    contact_id = created["contact_id"]
    api.running.emulator.clock.advance(5)
    updated = api.put(contact_id, update_source="Contact", first_name="Annie")
    assert updated["first_name"] == "Annie"
    for cleared in ("last_name", "job_title", "birthday_month", "birthday_day"):
        assert cleared not in updated  # omitted on PUT: cleared
    assert updated["email_address"] == created["email_address"]  # channel kept
    assert updated["update_source"] == "Contact"
    assert updated["create_source"] == "Account"
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]
    full = api.get(contact_id, ALL_INCLUDES)
    assert full["phone_numbers"] == created["phone_numbers"]  # omitted: kept
    assert full["list_memberships"] == [vip["list_id"]]
    assert full["notes"] == created["notes"]
    # Sent sub-resources replace the old ones; an empty array empties them.
    replaced = api.put(
        contact_id,
        update_source="Account",
        first_name="Annie",
        phone_numbers=[
            {"phone_number": "555-0100", "kind": "home"},
            {"phone_number": "555-0199", "kind": "work"},
        ],
        list_memberships=[],
    )
    assert replaced["phone_numbers"][0] == created["phone_numbers"][0]  # unchanged item kept
    assert replaced["phone_numbers"][1]["phone_number"] == "555-0199"
    assert replaced["list_memberships"] == []
    full = api.get(contact_id, ALL_INCLUDES)
    assert full["list_memberships"] == []
    assert len(full["phone_numbers"]) == 2
    assert full["notes"] == created["notes"]


def test_put_changes_email_and_permission(api: Api) -> None:
    contact = api.create(email_address=_email("ann@example.com", "implicit"), first_name="Ann")
    api.running.emulator.clock.advance(5)
    unsubscribed = api.put(
        contact["contact_id"],
        update_source="Contact",
        first_name="Ann",
        email_address={
            "address": "ann@example.com",
            "permission_to_send": "unsubscribed",
            "opt_out_reason": "Too many emails",
        },
    )
    email = unsubscribed["email_address"]
    assert email["permission_to_send"] == "unsubscribed"
    assert email["opt_out_source"] == "Contact"
    assert email["opt_out_reason"] == "Too many emails"
    assert email["created_at"] == contact["email_address"]["created_at"]
    assert api.emails(status="unsubscribed") == {"ann@example.com"}
    assert api.emails(status="active") == set()
    moved = api.put(
        contact["contact_id"],
        update_source="Account",
        first_name="Ann",
        email_address={"address": "ann.lee@example.com"},
    )
    assert moved["email_address"]["address"] == "ann.lee@example.com"
    other = api.create(email_address=_email("bo@example.com"), first_name="Bo")
    clash = api.client.put(
        f"/v3/contacts/{other['contact_id']}",
        headers=api.headers,
        json={"update_source": "Account", "email_address": {"address": "ANN.LEE@example.com"}},
    )
    error(clash, 409, "contacts.api.conflict")


def test_put_validation(api: Api) -> None:
    contact = api.create(first_name="Ann")
    path = f"/v3/contacts/{contact['contact_id']}"
    items = error(api.client.put(path, headers=api.headers, json={"first_name": "A"}), 400)
    assert "update_source" in items[0]["error_message"]
    response = api.client.put(path, headers=api.headers, json={"update_source": "Account"})
    items = error(response, 400)  # nothing would identify the contact any more
    assert "at least one of" in items[0]["error_message"]
    assert api.get(contact["contact_id"])["first_name"] == "Ann"


def test_delete_is_soft_and_put_revives(api: Api) -> None:
    contact = api.create(email_address=_email("ann@example.com"), first_name="Ann")
    kept = api.create(email_address=_email("bo@example.com"), first_name="Bo")
    contact_id = contact["contact_id"]
    response = api.client.delete(f"/v3/contacts/{contact_id}", headers=api.headers)
    assert response.status_code == 204
    assert response.content == b""
    deleted = api.get(contact_id)
    assert len(deleted["deleted_at"]) == len("2026-07-08")  # the contract's format: date
    assert deleted["first_name"] == "Ann"
    assert api.emails() == {"bo@example.com"}
    assert api.emails(status="deleted") == {"ann@example.com"}
    assert api.emails(status="all") == {"ann@example.com", "bo@example.com"}
    assert api.emails(status="active,deleted") == {"ann@example.com", "bo@example.com"}
    # Deleting again changes nothing.
    assert api.client.delete(f"/v3/contacts/{contact_id}", headers=api.headers).status_code == 204
    assert api.get(contact_id)["deleted_at"] == deleted["deleted_at"]
    # CC revives only with update_source Account.
    response = api.client.put(
        f"/v3/contacts/{contact_id}",
        headers=api.headers,
        json={"update_source": "Contact", "first_name": "Ann"},
    )
    assert "update_source to Account" in error(response, 400)[0]["error_message"]
    revived = api.put(contact_id, update_source="Account", first_name="Ann")
    assert "deleted_at" not in revived
    assert revived["email_address"]["address"] == "ann@example.com"
    assert api.emails() == {"ann@example.com", "bo@example.com"}
    assert api.emails(status="deleted") == set()
    assert kept == api.get(kept["contact_id"])


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_and_malformed_ids_are_404(api: Api, method: str) -> None:
    body = {"update_source": "Account", "first_name": "X"} if method == "PUT" else None
    unknown = str(uuid.uuid4())
    response = api.client.request(method, f"/v3/contacts/{unknown}", headers=api.headers, json=body)
    items = error(response, 404, "contacts.api.not_found")
    assert unknown in items[0]["error_message"]
    response = api.client.request(method, "/v3/contacts/12345-nope", headers=api.headers, json=body)
    items = error(response, 404, "contacts.api.not_found")
    assert items[0]["error_message"] == "contact_id is in an invalid format."


def test_accounts_do_not_see_each_others_contacts(api: Api) -> None:
    contact = api.create(email_address=_email("ann@example.com"))
    bob = auth(api.running.emulator, BOB)
    response = api.client.get(f"/v3/contacts/{contact['contact_id']}", headers=bob)
    error(response, 404)
    response = api.client.delete(f"/v3/contacts/{contact['contact_id']}", headers=bob)
    error(response, 404)
    assert ok(api.client.get("/v3/contacts", headers=bob), "Contacts")["contacts"] == []
    # Carol shares Alice's account but may not read contacts at all.
    carol = auth(api.running.emulator, CAROL)
    error(api.client.get(f"/v3/contacts/{contact['contact_id']}", headers=carol), 403)


def test_filters(api: Api) -> None:
    emu = api.running.emulator
    seed(
        api.running,
        username="alice@example.com",
        lists=[{"name": "VIP"}],
        contacts=[
            {"email": "old@example.com", "first_name": "Old", "list_memberships": ["VIP"]},
            {"email": "pending@example.com", "permission_to_send": "pending_confirmation"},
            {"email": "gone@example.com", "first_name": "Gone", "deleted": True},
            {"email": "hold@example.com", "permission_to_send": "temp_hold"},
            {"email": "notset@example.com", "permission_to_send": "not_set"},
        ],
    )
    emu.clock.advance(60)
    mark = api.running.client.get("/__emulator/clock").json()["now"]
    emu.clock.advance(60)
    api.create(email_address=_email("Fresh@Example.com"), first_name="Fresh")
    everyone = {
        "old@example.com",
        "pending@example.com",
        "hold@example.com",
        "notset@example.com",
        "Fresh@Example.com",
    }
    assert api.emails() == everyone
    assert api.emails(status="all") == everyone | {"gone@example.com"}
    assert api.emails(status="active") == {"old@example.com", "Fresh@Example.com"}
    assert api.emails(status="pending_confirmation,temp_hold") == {
        "pending@example.com",
        "hold@example.com",
    }
    assert api.emails(status="not_set") == {"notset@example.com"}
    assert api.emails(email="fresh@example.COM") == {"Fresh@Example.com"}
    assert api.emails(email="gone@example.com") == set()
    assert api.emails(email="gone@example.com", status="all") == {"gone@example.com"}
    after = datetime.fromtimestamp(mark, UTC).isoformat().replace("+00:00", "Z")
    assert api.emails(updated_after=after) == {"Fresh@Example.com"}
    assert api.emails(updated_before=after) == everyone - {"Fresh@Example.com"}
    assert api.emails(created_after=after) == {"Fresh@Example.com"}
    vip = seed(api.running, username="alice@example.com", lists=[{"name": "VIP"}])["lists"][0]
    assert api.emails(lists=vip["list_id"]) == {"old@example.com"}
    counted = api.list(include_count="true", limit=2, status="all")
    assert counted["contacts_count"] == 6
    assert len(counted["contacts"]) == 2
    assert "contacts_count" not in api.list()
    # Updating a contact moves it into updated_after's window.
    old = api.list(email="old@example.com")["contacts"][0]
    api.put(old["contact_id"], update_source="Account", first_name="Old")
    assert api.emails(updated_after=after) == {"Fresh@Example.com", "old@example.com"}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"status": "vip"}, "status"),
        ({"updated_after": "yesterday"}, "updated_after"),
        ({"include_count": "maybe"}, "include_count"),
        ({"include": "friends"}, "include"),
        ({"lists": "not-a-uuid"}, "lists"),
        ({"segment_id": "fourteen"}, "segment_id"),
        ({"segment_id": "14", "email": "ann@example.com"}, "segment_id"),
        ({"tags": "not-a-uuid"}, "tags"),
        ({"sms_status": "loud"}, "sms_status"),
        ({"optout_after": "yesterday"}, "optout_after"),
    ],
)
def test_bad_filters_are_400(api: Api, params: dict[str, str], fragment: str) -> None:
    response = api.client.get("/v3/contacts", headers=api.headers, params=params)
    items = error(response, 400, "contacts.api.validation.error")
    assert any(fragment in i["error_message"] for i in items), items
