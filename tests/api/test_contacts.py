"""Account and contacts through both clients against the emulator; every success body
is checked against CC's contract."""

from __future__ import annotations

import uuid

import anyio
import pytest

from ctct.api import AsyncClient, Client, NotFound
from ctct.api.shapes import Contact
from tests.api.conftest import ApiEnv
from tests.contract import validate


def test_account(client: Client) -> None:
    summary = client.account.summary()
    validate(summary, "Customer")
    with_address = client.account.summary(["physical_address"])
    validate(with_address, "Customer")
    assert "physical_address" in with_address
    updated = client.account.update_summary({"organization_name": "Alice's Cakes"})
    validate(updated, "CustomerPut")
    assert client.account.summary()["organization_name"] == "Alice's Cakes"
    privileges = client.account.privileges()
    validate(privileges, "UserPrivilegesResource")
    assert "contacts:write" in {p["privilege_name"] for p in privileges}


def test_contacts_crud(client: Client) -> None:
    created = client.contacts.create(
        {
            "email_address": {"address": "ann@example.com", "permission_to_send": "implicit"},
            "first_name": "Ann",
        }
    )
    validate(created, "ContactResource")
    contact_id = created["contact_id"]
    fetched = client.contacts.get(contact_id)
    validate(fetched, "ContactResource")
    assert fetched["first_name"] == "Ann"
    updated = client.contacts.update(
        contact_id,
        {"email_address": {"address": "ann@example.com"}, "first_name": "Anne", "last_name": "Lee"},
    )
    validate(updated, "ContactResource")
    assert (updated["first_name"], updated["last_name"]) == ("Anne", "Lee")
    assert client.contacts.find("ann@example.com") == client.contacts.get(contact_id)
    assert client.contacts.count() == 1
    client.contacts.delete(contact_id)
    assert client.contacts.count() == 0
    assert client.contacts.find("nobody@example.com") is None
    with pytest.raises(NotFound):
        client.contacts.get(str(uuid.uuid4()))


def test_contacts_filters(api_env: ApiEnv, client: Client) -> None:
    seeded = api_env.handle.seed(
        username="alice@example.com",
        lists=[{"name": "VIP"}],
        contacts=[
            {"email": "a@example.com", "first_name": "A", "list_memberships": ["VIP"]},
            {"email": "b@example.com", "first_name": "B"},
            {"email": "c@example.com", "first_name": "C", "deleted": True},
        ],
    )
    vip = seeded["lists"][0]["list_id"]
    assert {c["email_address"]["address"] for c in client.contacts.iter()} == {
        "a@example.com",
        "b@example.com",
    }
    assert [c["email_address"]["address"] for c in client.contacts.iter(lists=[vip])] == [
        "a@example.com"
    ]
    assert len(list(client.contacts.iter(status="all"))) == 3
    members = list(client.contacts.iter(lists=[vip], include=["list_memberships"]))
    assert members[0]["list_memberships"] == [vip]
    validate(members[0], "ContactResource")


def test_pagination_walks_every_page(api_env: ApiEnv, client: Client) -> None:
    api_env.handle.seed(username="alice@example.com", contacts_count=1_234)
    pages = list(client.pages("/contacts", {"limit": 500}))
    assert [len(p["contacts"]) for p in pages] == [500, 500, 234]
    for page in pages:
        validate(page, "Contacts")
    ids = [c["contact_id"] for c in client.contacts.iter()]
    assert len(ids) == len(set(ids)) == 1_234
    assert api_env.api_counts()["GET /v3/contacts"] == {"200": 6}


def test_async_client(api_env: ApiEnv) -> None:
    api_env.handle.seed(username="alice@example.com", contacts_count=620)

    async def main() -> Contact:
        async with api_env.async_client() as client:
            assert isinstance(client, AsyncClient)
            validate(await client.account.summary(), "Customer")
            validate(await client.account.privileges(), "UserPrivilegesResource")
            created = await client.contacts.create({"email_address": {"address": "z@example.com"}})
            validate(created, "ContactResource")
            got = await client.contacts.get(created["contact_id"])
            updated = await client.contacts.update(
                got["contact_id"],
                {"email_address": {"address": "z@example.com"}, "first_name": "Zed"},
            )
            validate(updated, "ContactResource")
            async for page in client.pages("/contacts", {"limit": 500}):
                validate(page, "Contacts")
            ids = [c["contact_id"] async for c in client.contacts.iter()]
            assert len(ids) == len(set(ids)) == 621
            assert await client.contacts.count() == 621
            assert await client.contacts.find("z@example.com") == await client.contacts.get(
                created["contact_id"]
            )
            await client.contacts.delete(created["contact_id"])
            with pytest.raises(NotFound):
                await client.contacts.get(str(uuid.uuid4()))
            return updated

    updated = anyio.run(main)
    assert updated["first_name"] == "Zed"


def test_generic_request(client: Client) -> None:
    response = client.request(
        "POST",
        "/contacts",
        json={"email_address": {"address": "g@example.com"}, "create_source": "Account"},
    )
    assert response.status_code == 201
    validate(response.json(), "ContactResource")
    assert (
        client.request("GET", "/v3/contacts?limit=1").json()["contacts"][0]["email_address"][
            "address"
        ]
        == "g@example.com"
    )
