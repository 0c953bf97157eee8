"""Tour of Account Services."""

from __future__ import annotations

from tests.emulator.api_support import BOB, seed
from tests.emulator.tours import Tour

TAGS = ("Account Services",)
ADDRESS = {
    "address_line1": "1 Baker Street",
    "city": "Boston",
    "state_code": "MA",
    "postal_code": "02110",
    "country_code": "US",
}


def tour(t: Tour) -> None:
    t.call("GET", "/account/summary", params={"extra_fields": "physical_address"})
    t.call("GET", "/account/summary", 400, params={"extra_fields": "bank"})
    t.call("PUT", "/account/summary", json={"website": "https://bakery.example.com"})
    t.call("PUT", "/account/summary", 400, json={"website": 7})
    t.call("GET", "/account/user/privileges")
    t.call("GET", "/account/user/privileges", 401, auth=False)

    t.call("GET", "/account/summary/physical_address")
    t.call("GET", "/account/summary/physical_address", 403, scopes=("contact_data",))
    t.call("POST", "/account/summary/physical_address", 409, json=ADDRESS)
    # Without an address (seeded so), GET and PUT are 400 and POST adds one.
    seed(t.running, username="alice@example.com", physical_address=None)
    t.call("GET", "/account/summary/physical_address", 400)
    t.call("PUT", "/account/summary/physical_address", 400, json=ADDRESS)
    t.call("POST", "/account/summary/physical_address", 201, json=ADDRESS)
    t.call("POST", "/account/summary/physical_address", 400, json={"city": "x"})
    # Updating account details needs the account owner's role.
    t.call("POST", "/account/summary/physical_address", 403, json=ADDRESS, user=BOB)
    foreign = {"address_line1": "1 Rue", "city": "Paris", "state_name": "IDF", "country_code": "FR"}
    t.call("PUT", "/account/summary/physical_address", json=foreign)
    t.call("PUT", "/account/summary/physical_address", 400, json={**foreign, "state_code": "PA"})

    emails = t.call("GET", "/account/emails").json()
    assert {e["confirm_status"] for e in emails} == {"CONFIRMED"}
    t.call("GET", "/account/emails", 400, params={"confirm_status": "C", "role_code": "C"})
    added = t.call("POST", "/account/emails", 201, json={"email_address": "news@example.com"})
    assert added.json()["confirm_status"] == "UNCONFIRMED"
    t.call("POST", "/account/emails", 409, json={"email_address": "NEWS@example.com"})
    t.call("POST", "/account/emails", 400, json={"email_address": "not an address"})
