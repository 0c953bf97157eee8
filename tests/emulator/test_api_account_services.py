"""Account Services added by issue 13: ``/v3/account/emails`` (GET, POST; confirming an
address makes it a campaign sender) and the physical address (GET, POST, PUT)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Running, StartEmulator
from tests.emulator.api_support import ALICE, CAROL, FAST
from tests.emulator.area_support import inprocess_tour, seed_alice
from tests.emulator.tours import Tour

EMAILS = "/account/emails"
ADDRESS = "/account/summary/physical_address"


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def test_an_account_starts_with_its_confirmed_addresses(t: Tour) -> None:
    body = t.call("GET", EMAILS).json()
    by_address = {e["email_address"]: e for e in body}
    # Alice's contact email (the owner's roles) and Carol's login on the same account.
    assert set(by_address) == {ALICE, CAROL}
    assert by_address[ALICE]["roles"] == ["CONTACT", "BILLING", "REPLY_TO"]
    assert by_address[CAROL]["roles"] == ["OTHER"]
    assert {e["confirm_status"] for e in body} == {"CONFIRMED"}
    assert len({e["email_id"] for e in body}) == 2


def test_added_addresses_wait_for_confirmation_then_send_campaigns(t: Tour) -> None:
    added = t.call("POST", EMAILS, 201, json={"email_address": "news@example.com"}).json()
    assert added["confirm_status"] == "UNCONFIRMED" and added["email_id"] >= 1
    campaign = {
        "name": "Spring",
        "email_campaign_activities": [
            {
                "format_type": 5,
                "from_name": "Bakery",
                "from_email": "news@example.com",
                "reply_to_email": ALICE,
                "subject": "Spring bread",
                "html_content": "<p>Fresh</p>[[trackingImage]]",
            }
        ],
    }
    refused = t.call("POST", "/emails", 400, json=campaign).json()
    assert "news@example.com" in refused[0]["error_message"]
    unconfirmed = t.call("GET", EMAILS, params={"confirm_status": "U"}).json()
    assert [e["email_address"] for e in unconfirmed] == ["news@example.com"]
    # The owner clicks the link CC emails: the control API plays that.
    confirmed = t.running.client.post(
        "/__emulator/account_emails/confirm",
        json={"username": ALICE, "email_address": "NEWS@example.com"},
    )
    assert confirmed.status_code == 200 and confirmed.json()["confirm_status"] == "CONFIRMED"
    t.call("POST", "/emails", 200, json=campaign)
    only = t.call("GET", EMAILS, params={"email_address": "news@example.com"}).json()
    assert only[0]["roles"] == ["OTHER"] and only[0]["confirm_source_type"] == "SITE_OWNER"
    unknown = t.running.client.post(
        "/__emulator/account_emails/confirm",
        json={"username": ALICE, "email_address": "nobody@example.com"},
    )
    assert unknown.status_code == 404 and "POST it first" in unknown.json()["error_description"]


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ({"confirm_status": "CONFIRMED"}, {ALICE, CAROL}),
        ({"confirm_status": "c"}, {ALICE, CAROL}),
        ({"role_code": "BILLING"}, {ALICE}),
        ({"role_code": "O"}, {CAROL}),
        ({"email_address": "CAROL@example.com"}, {CAROL}),
    ],
)
def test_filters(t: Tour, params: dict[str, str], wanted: set[str]) -> None:
    body = t.call("GET", EMAILS, params=params).json()
    assert {e["email_address"] for e in body} == wanted


@pytest.mark.parametrize(
    "params",
    [
        {"confirm_status": "MAYBE"},
        {"role_code": "CEO"},
        {"confirm_status": "C", "email_address": ALICE},
        {"sort": "asc"},
    ],
)
def test_bad_filters_are_400(t: Tour, params: dict[str, str]) -> None:
    t.call("GET", EMAILS, 400, params=params)


def test_adding_needs_the_owner_and_a_new_valid_address(t: Tour) -> None:
    t.call("POST", EMAILS, 409, json={"email_address": ALICE.upper()})
    t.call("POST", EMAILS, 400, json={"email_address": "x" * 75 + "@example.com"})
    t.call("POST", EMAILS, 400, json={"email_address": "a@example.com", "roles": ["BILLING"]})
    # A campaign creator may read account details, not change them.
    t.call("GET", EMAILS, user=CAROL)
    t.call("POST", EMAILS, 403, user=CAROL, json={"email_address": "c2@example.com"})
    t.call("POST", EMAILS, 403, scopes=("account_read",), json={"email_address": "c@example.com"})


US = {
    "address_line1": "1 Baker Street",
    "address_line2": "Unit 2",
    "city": "Boston",
    "state_code": "MA",
    "postal_code": "02110",
    "country_code": "US",
}


def test_post_put_get_address(t: Tour) -> None:
    default = t.call("GET", ADDRESS).json()
    summary = t.call("GET", "/account/summary", params={"extra_fields": "physical_address"})
    assert summary.json()["physical_address"] == default
    seed_alice(t, physical_address=None)
    assert (
        "physical_address"
        not in t.call("GET", "/account/summary", params={"extra_fields": "physical_address"}).json()
    )
    assert t.call("POST", ADDRESS, 201, json=US).json() == US
    assert t.call("GET", ADDRESS).json() == US
    # PUT replaces the whole address: address_line2 and postal_code go.
    smaller = {
        "address_line1": "2 Baker Street",
        "city": "Boston",
        "state_code": "MA",
        "country_code": "US",
    }
    assert t.call("PUT", ADDRESS, json=smaller).json() == smaller
    assert t.call("GET", ADDRESS).json() == smaller


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**US, "state_code": None}, "state_code must be a string"),
        ({k: v for k, v in US.items() if k != "state_code"}, "need a two-letter state_code"),
        ({**US, "state_name": "Massachusetts"}, "use state_code, not state_name"),
        ({**US, "country_code": "FR"}, "state_code is only for US and CA"),
        ({**US, "country_code": "usa"}, "at most 2"),
        ({**US, "address_line1": "x" * 81}, "at most 80"),
        ({"city": "Boston", "country_code": "US", "state_code": "MA"}, "address_line1 is required"),
        ({**US, "county": "Suffolk"}, "county is not a physical address property"),
    ],
)
def test_bad_addresses_are_400(t: Tour, body: dict[str, Any], fragment: str) -> None:
    before = t.call("GET", ADDRESS).json()
    problems = t.call("PUT", ADDRESS, 400, json=body).json()
    assert any(fragment in p["error_message"] for p in problems), problems
    assert t.call("GET", ADDRESS).json() == before


def test_address_over_loopback(start_emulator: StartEmulator) -> None:
    t = Tour(start_emulator(**FAST))
    t.call("POST", ADDRESS, 409, json=US)
    foreign = {"address_line1": "1 Rue", "city": "Paris", "state_name": "IDF", "country_code": "FR"}
    assert t.call("PUT", ADDRESS, json=foreign).json() == foreign
    t.call("PUT", ADDRESS, 403, json=foreign, user=CAROL)
    assert t.call("POST", EMAILS, 201, json={"email_address": "x@example.com"}).json()


def test_the_testing_handle_confirms_addresses_and_resubscribes() -> None:
    from ctct.testing import EmulatorControlError, inprocess_emulator

    with inprocess_emulator(api_rate_per_second=10_000.0) as handle, handle.http_client() as client:
        assert handle.emulator is not None
        t = Tour(Running(handle.emulator, handle.base_url, client, "inprocess"))
        t.call("POST", EMAILS, 201, json={"email_address": "shop@example.com"})
        assert handle.confirm_account_email("shop@example.com")["confirm_status"] == "CONFIRMED"
        lists = [t.call("GET", "/contact_lists").json()["lists"][0]["list_id"]]
        body = {
            "email_address": {"address": "gone@example.com", "permission_to_send": "unsubscribed"},
            "create_source": "Account",
        }
        gone = t.call("POST", "/contacts", 201, json=body).json()
        path = {"contact_id": gone["contact_id"]}
        t.call("PUT", "/contacts/resubscribe/{contact_id}", path=path, json={"list_ids": lists})
        assert handle.confirm_resubscribe(gone["contact_id"])["permission_to_send"] == "explicit"
        with pytest.raises(EmulatorControlError):
            handle.confirm_resubscribe(gone["contact_id"])
        assert handle.webhook_deliveries() == []
