"""Account Services: ``GET/PUT /v3/account/summary`` and ``GET /v3/account/user/privileges``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import ALICE, BOB, CAROL, FAST, auth, error, ok

SUMMARY = "/v3/account/summary"


@pytest.fixture
def api(start_emulator: StartEmulator) -> Any:
    return start_emulator(**FAST)


def test_summary_comes_from_the_users_account(api: Any) -> None:
    alice = ok(api.client.get(SUMMARY, headers=auth(api.emulator, ALICE)), "Customer")
    assert alice["encoded_account_id"] == "a07e1alice001"
    assert alice["organization_name"] == "Alice's Bakery"
    assert (alice["first_name"], alice["last_name"]) == ("Alice", "Owner")
    assert alice["contact_email"] == ALICE
    # Extra fields only on request.
    assert "physical_address" not in alice
    assert "company_logo" not in alice
    bob = ok(api.client.get(SUMMARY, headers=auth(api.emulator, BOB)), "Customer")
    assert bob["organization_name"] == "Bob's Bikes"
    # Carol logs in to Alice's account: she sees its owner's summary.
    carol = ok(api.client.get(SUMMARY, headers=auth(api.emulator, CAROL)), "Customer")
    assert carol == alice


@pytest.mark.parametrize(
    ("extra", "present"),
    [
        ("physical_address", {"physical_address"}),
        ("company_logo", {"company_logo"}),
        ("physical_address,company_logo", {"physical_address", "company_logo"}),
        ("company_logo, physical_address", {"physical_address", "company_logo"}),
    ],
)
def test_extra_fields(api: Any, extra: str, present: set[str]) -> None:
    body = ok(
        api.client.get(SUMMARY, params={"extra_fields": extra}, headers=auth(api.emulator)),
        "Customer",
    )
    assert {"physical_address", "company_logo"} & set(body) == present
    if "physical_address" in present:
        assert body["physical_address"]["country_code"] == "US"


def test_unknown_extra_field_is_400(api: Any) -> None:
    response = api.client.get(
        SUMMARY, params={"extra_fields": "bank_account"}, headers=auth(api.emulator)
    )
    items = error(response, 400, "account.api.validation.error")
    assert "bank_account" in items[0]["error_message"]


def test_put_updates_only_the_fields_sent(api: Any) -> None:
    headers = auth(api.emulator)
    before = ok(api.client.get(SUMMARY, headers=headers), "Customer")
    changes = {
        "organization_name": "Alice's Patisserie",
        "website": "https://patisserie.example.com",
        "contact_phone": "6175550000",
        "encoded_account_id": "hijacked",  # read-only: ignored
    }
    updated = ok(api.client.put(SUMMARY, headers=headers, json=changes), "CustomerPut")
    assert updated["organization_name"] == "Alice's Patisserie"
    assert updated["encoded_account_id"] == "a07e1alice001"
    assert updated["first_name"] == before["first_name"]  # not sent, so kept
    after = ok(api.client.get(SUMMARY, headers=headers), "Customer")
    assert after == {**before, **{k: v for k, v in changes.items() if k != "encoded_account_id"}}
    # The account is shared: Carol sees the change, Bob's account does not.
    carol = ok(api.client.get(SUMMARY, headers=auth(api.emulator, CAROL)), "Customer")
    assert carol["organization_name"] == "Alice's Patisserie"
    bob = ok(api.client.get(SUMMARY, headers=auth(api.emulator, BOB)), "Customer")
    assert bob["organization_name"] == "Bob's Bikes"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"contact_phone": "1" * 26}, "contact_phone"),
        ({"country_code": "usa"}, "country_code"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"website": 42}, "website"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        (["organization_name"], "JSON object"),
    ],
)
def test_put_rejects_bad_input_and_changes_nothing(api: Any, body: Any, fragment: str) -> None:
    headers = auth(api.emulator)
    before = ok(api.client.get(SUMMARY, headers=headers), "Customer")
    items = error(api.client.put(SUMMARY, headers=headers, json=body), 400)
    assert fragment in items[0]["error_message"]
    assert ok(api.client.get(SUMMARY, headers=headers), "Customer") == before


def test_privileges_follow_the_role(api: Any) -> None:
    def names(user: str) -> set[str]:
        response = api.client.get("/v3/account/user/privileges", headers=auth(api.emulator, user))
        body = ok(response, "UserPrivilegesResource")
        ids = [p["privilege_id"] for p in body]
        assert len(ids) == len(set(ids))
        return {p["privilege_name"] for p in body}

    owner, manager, creator = names(ALICE), names(BOB), names(CAROL)
    assert {"account:read", "account:update", "contacts:read", "contacts:write"} <= owner
    assert manager == owner - {"account:update"}
    assert {"campaign:read", "campaign:write", "contacts:lists:read"} <= creator
    assert not {"contacts:read", "contacts:write", "account:update"} & creator
