"""``POST /__emulator/seed``, reset, and account data surviving a restart on a data file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import BOB, FAST, auth, ok, seed


@pytest.fixture
def api(start_emulator: StartEmulator) -> Running:
    return start_emulator(**FAST)


def _contacts(running: Running, user: str = "alice@example.com", **params: Any) -> list[Any]:
    headers = auth(running.emulator, user)
    response = running.client.get("/v3/contacts", headers=headers, params={"limit": 500, **params})
    contacts: list[Any] = ok(response, "Contacts")["contacts"]
    return contacts


def test_seed_shapes(api: Running) -> None:
    result = seed(
        api,
        username="alice@example.com",
        lists=[{"name": "VIP", "description": "Best customers", "favorite": True}, {"name": "B"}],
        contacts=[
            {
                "email": "ann@example.com",
                "first_name": "Ann",
                "last_name": "Lee",
                "list_memberships": ["VIP", "B"],
                "phone_numbers": [{"phone_number": "555-0100", "kind": "work"}],
            },
            {"email": "bo@example.com", "permission_to_send": "unsubscribed"},
        ],
        contacts_count=5,
        generated_list_memberships=["B"],
    )
    assert result["account_id"] == "a07e1alice001"
    assert result["contacts"] == 7
    assert [item["name"] for item in result["lists"]] == ["VIP", "B"]
    assert all(set(item) == {"list_id", "name"} for item in result["lists"])
    vip, b = (item["list_id"] for item in result["lists"])
    contacts = _contacts(api, include="list_memberships,phone_numbers")
    by_email = {c["email_address"]["address"]: c for c in contacts}
    assert by_email["ann@example.com"]["first_name"] == "Ann"
    assert sorted(by_email["ann@example.com"]["list_memberships"]) == sorted([vip, b])
    assert by_email["ann@example.com"]["phone_numbers"][0]["kind"] == "work"
    assert by_email["bo@example.com"]["email_address"]["permission_to_send"] == "unsubscribed"
    generated = [c for a, c in by_email.items() if a.startswith("contact")]
    assert len(generated) == 5
    assert all(c["list_memberships"] == [b] for c in generated)
    # Seeding again reuses lists by name and numbers new contacts after the old ones.
    again = seed(api, username="alice@example.com", lists=[{"name": "vip"}], contacts_count=2)
    assert again["lists"] == [{"list_id": vip, "name": "VIP"}]
    emails = {c["email_address"]["address"] for c in _contacts(api)}
    assert {"contact000008@example.com", "contact000009@example.com"} <= emails


def test_seed_by_account_id_and_isolation(api: Running) -> None:
    result = seed(api, account_id="a07e1bob00002", contacts_count=3)
    assert result == {"account_id": "a07e1bob00002", "contacts": 3, "lists": []}
    assert len(_contacts(api, BOB)) == 3
    assert _contacts(api) == []


def test_seed_bypasses_the_rate_limits(start_emulator: StartEmulator) -> None:
    running = start_emulator(api_rate_per_second=1.0, api_daily_quota=1)
    for _ in range(5):
        seed(running, username="alice@example.com", contacts_count=1)
    client_id = running.emulator.config.default_app.client_id
    assert running.emulator.api_quota.used(client_id) == 0


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"username": "mallory@example.com"}, 404, "mallory"),
        ({"account_id": "nope"}, 404, "nope"),
        ({}, 404, "username or account_id"),
        ({"username": "alice@example.com", "contact_count": 3}, 400, "contact_count"),
        ({"username": "alice@example.com", "contacts_count": -1}, 400, "contacts_count"),
        ({"username": "alice@example.com", "contacts_count": "3"}, 400, "contacts_count"),
        ({"username": "alice@example.com", "lists": [{"title": "x"}]}, 400, "name"),
        ({"username": "alice@example.com", "contacts": [{"job_title": "x"}]}, 400, "contacts[0]"),
        (
            {
                "username": "alice@example.com",
                "contacts": [{"email": "a@x.io", "list_memberships": ["Z"]}],
            },
            400,
            "'Z'",
        ),
        (
            {
                "username": "alice@example.com",
                "contacts": [{"email": "a@x.io"}, {"email": "A@x.io"}],
            },
            409,
            "already",
        ),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_seed_errors_change_nothing(api: Running, body: Any, status: int, fragment: str) -> None:
    response = api.client.post("/__emulator/seed", json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error", "error_description"}
    assert payload["error"] == {400: "invalid_request", 404: "not_found", 409: "conflict"}[status]
    assert fragment in payload["error_description"]
    assert _contacts(api, status="all") == []


def test_seed_body_must_be_json(api: Running) -> None:
    json_type = {"content-type": "application/json"}  # (any other type is a 415 first)
    response = api.client.post("/__emulator/seed", content=b"contacts_count=3", headers=json_type)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_reset_wipes_data_and_restores_defaults(api: Running) -> None:
    before = seed(api, username="alice@example.com", lists=[{"name": "General Interest"}])
    seed(api, username="alice@example.com", contacts_count=10, lists=[{"name": "VIP"}])
    headers = auth(api.emulator)
    response = api.client.put(
        "/v3/account/summary", headers=headers, json={"organization_name": "Renamed"}
    )
    ok(response, "CustomerPut")
    assert api.client.post("/__emulator/reset", json={}).status_code == 200
    assert _contacts(api, status="all") == []
    summary = ok(api.client.get("/v3/account/summary", headers=auth(api.emulator)), "Customer")
    assert summary["organization_name"] == "Alice's Bakery"
    after = seed(api, username="alice@example.com", lists=[{"name": "General Interest"}])
    assert after["lists"][0]["list_id"] != before["lists"][0]["list_id"]  # re-created default


def test_data_survives_a_restart_on_the_same_file(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    data = tmp_path / "emulator.db"
    first = start_emulator(data_path=data, **FAST)
    token_headers = auth(first.emulator)
    default_list = seed(first, username="alice@example.com", lists=[{"name": "General Interest"}])
    seed(first, username="alice@example.com", contacts_count=25)
    response = first.client.post(
        "/v3/contacts",
        headers=token_headers,
        json={"create_source": "Account", "email_address": {"address": "ann@example.com"}},
    )
    ann = ok(response, "ContactResource", 201)
    response = first.client.put(
        "/v3/account/summary", headers=token_headers, json={"website": "https://ann.example"}
    )
    ok(response, "CustomerPut")
    first.emulator.close()

    second = start_emulator(data_path=data, **FAST)
    # Keys persist too, so the token minted before the restart is still honoured.
    response = second.client.get(f"/v3/contacts/{ann['contact_id']}", headers=token_headers)
    assert ok(response, "ContactResource") == ann
    assert len(_contacts(second)) == 26
    summary = ok(second.client.get("/v3/account/summary", headers=token_headers), "Customer")
    assert summary["website"] == "https://ann.example"
    # Defaults are not created twice.
    again = seed(second, username="alice@example.com", lists=[{"name": "General Interest"}])
    assert again["lists"] == default_list["lists"]


def test_a_hundred_thousand_contacts_in_one_seed(api: Running) -> None:
    body = {
        "username": "alice@example.com",
        "lists": [{"name": "Big"}],
        "contacts_count": 100_000,
        "generated_list_memberships": ["Big"],
    }
    response = api.client.post("/__emulator/seed", json=body, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["contacts"] == 100_000
    params = {"include_count": "true", "limit": 500, "lists": result["lists"][0]["list_id"]}
    response = api.client.get("/v3/contacts", headers=auth(api.emulator), params=params)
    page = ok(response, "Contacts")
    assert page["contacts_count"] == 100_000
    assert len(page["contacts"]) == 500
