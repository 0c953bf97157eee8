"""``POST /v3/contacts/sign_up_form``: 201 created / 200 updated, partial updates that
append lists and custom fields, permission set to explicit, restore of deleted contacts,
SMS sign-ups, validation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import CAROL, FAST, auth, error, ok, seed
from tests.emulator.bulk_support import default_list

URL = "/v3/contacts/sign_up_form"
ALL = "custom_fields,list_memberships,phone_numbers,street_addresses"


class Api:
    def __init__(self, running: Running) -> None:
        self.running = running
        self.client = running.client
        self.headers = auth(running.emulator)
        self.list_id = default_list(running, self.headers)

    def sign_up(self, status: int, **body: Any) -> Any:
        body.setdefault("list_memberships", [self.list_id])
        response = self.client.post(URL, headers=self.headers, json=body)
        return ok(response, "ContactCreateOrUpdateResponse", status)

    def contact(self, contact_id: str) -> Any:
        response = self.client.get(
            f"/v3/contacts/{contact_id}", headers=self.headers, params={"include": ALL}
        )
        return ok(response, "ContactResource")

    def custom_field(self, label: str) -> str:
        # Through the store: this module tests sign-ups, not the custom-field endpoints.
        user = self.running.emulator.config.user("alice@example.com")
        assert user is not None
        row = self.running.emulator.accounts.custom_fields.create(
            user.account_id, label, "string", {}
        )
        field_id: str = row["custom_field_id"]
        return field_id


@pytest.fixture
def api(start_emulator: StartEmulator) -> Api:
    return Api(start_emulator(**FAST))


def test_created_then_updated(api: Api) -> None:
    shoe = api.custom_field("Shoe size")
    colour = api.custom_field("Colour")
    created = api.sign_up(
        201,
        email_address="ann@example.com",
        first_name="Ann",
        job_title="Baker",
        phone_number="555-0100",
        birthday_month=3,
        birthday_day=9,
        street_address={"kind": "home", "street": "1 Main St", "city": "Boston"},
        custom_fields=[{"custom_field_id": shoe, "value": "38"}],
    )
    assert created["action"] == "created"
    ann = api.contact(created["contact_id"])
    assert ann["email_address"]["permission_to_send"] == "explicit"
    assert ann["email_address"]["opt_in_source"] == "Contact"
    assert ann["create_source"] == ann["update_source"] == "Contact"
    assert ann["list_memberships"] == [api.list_id]
    assert ann["phone_numbers"][0]["phone_number"] == "555-0100"
    assert ann["street_addresses"][0]["city"] == "Boston"
    assert ann["birthday_month"] == 3

    vip = seed(api.running, username="alice@example.com", lists=[{"name": "VIP"}])
    vip_id = vip["lists"][0]["list_id"]
    updated = api.sign_up(
        200,
        email_address="ANN@example.com",
        last_name="Lee",
        list_memberships=[vip_id],
        street_address={"kind": "home", "postal_code": "02108"},
        custom_fields=[
            {"custom_field_id": colour, "value": "red"},
            {"custom_field_id": shoe, "value": "39"},
        ],
    )
    assert updated == {"contact_id": created["contact_id"], "action": "updated"}
    ann = api.contact(created["contact_id"])
    # Partial: first_name and job_title stay; lists and custom fields are appended to.
    assert (ann["first_name"], ann["last_name"], ann["job_title"]) == ("Ann", "Lee", "Baker")
    assert sorted(ann["list_memberships"]) == sorted([api.list_id, vip_id])
    assert {f["custom_field_id"]: f["value"] for f in ann["custom_fields"]} == {
        shoe: "39",
        colour: "red",
    }
    (address,) = ann["street_addresses"]
    assert (address["city"], address["postal_code"]) == ("Boston", "02108")


def test_existing_contacts_opt_in_and_deleted_are_restored(api: Api) -> None:
    seed(
        api.running,
        username="alice@example.com",
        contacts=[
            {"email": "gone@example.com", "permission_to_send": "unsubscribed"},
            {"email": "del@example.com", "first_name": "Del", "deleted": True},
        ],
    )
    gone = api.sign_up(200, email_address="gone@example.com")
    contact = api.contact(gone["contact_id"])
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["email_address"]["opt_in_source"] == "Contact"
    assert "opt_out_date" not in contact["email_address"]
    restored = api.sign_up(200, email_address="del@example.com")
    contact = api.contact(restored["contact_id"])
    assert "deleted_at" not in contact and contact["first_name"] == "Del"
    assert contact["list_memberships"] == [api.list_id]


def test_sms_sign_up(api: Api) -> None:
    channel = {
        "dial_code": "1",
        "country_code": "US",
        "sms_address": "6175550123",
        "sms_channel_consents": [
            {"sms_consent_permission": "explicit", "consent_type": "promotional_sms"}
        ],
    }
    created = api.sign_up(201, sms_channel=channel, first_name="Sam")
    again = api.sign_up(200, sms_channel=channel, last_name="Smith")
    assert again["contact_id"] == created["contact_id"]
    contact = api.contact(created["contact_id"])
    assert (contact["first_name"], contact["last_name"]) == ("Sam", "Smith")
    assert contact["sms_channel"]["sms_address"] == "6175550123"


def test_validation(api: Api) -> None:
    def bad(status: int, expect: str, **body: Any) -> None:
        response = api.client.post(URL, headers=api.headers, json=body)
        items = error(response, status)
        assert any(expect in i["error_message"] for i in items), items

    lists = [api.list_id]
    bad(400, "list_memberships is required", email_address="a@example.com")
    bad(400, "list_memberships is required", email_address="a@example.com", list_memberships=[])
    many = [str(uuid.uuid4()) for _ in range(51)]
    bad(400, "1 to 50", email_address="a@example.com", list_memberships=many)
    bad(400, "email_address or sms_channel", list_memberships=lists, first_name="A")
    bad(400, "a string here", list_memberships=lists, email_address={"address": "a@b.co"})
    bad(400, "valid email", list_memberships=lists, email_address="nope")
    bad(400, "valid email", list_memberships=lists, email_address="a" * 40 + "@example.com")
    bad(400, "not a property", list_memberships=lists, email_address="a@b.co", colour="red")
    bad(400, "birthday", list_memberships=lists, email_address="a@b.co", birthday_month=2)
    bad(400, "kind", list_memberships=lists, email_address="a@b.co", street_address={})
    missing = str(uuid.uuid4())
    bad(404, f"list {missing}", email_address="a@example.com", list_memberships=[missing])
    cf = [{"custom_field_id": missing, "value": "x"}]
    bad(400, "does not exist", email_address="a@b.co", list_memberships=lists, custom_fields=cf)
    response = api.client.post(URL, headers=api.headers, content=b"{}")
    error(response, 415)
    carol = auth(api.running.emulator, CAROL)
    response = api.client.post(
        URL, headers=carol, json={"email_address": "a@b.co", "list_memberships": lists}
    )
    error(response, 403, "forbidden")
    # Nothing above created a contact.
    assert ok(api.client.get("/v3/contacts", headers=api.headers), "Contacts")["contacts"] == []
