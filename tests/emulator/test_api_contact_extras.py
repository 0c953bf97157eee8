"""Contacts and lists operations added by issue 13: counts, V2 id xrefs (and the route
order that used to take them for malformed ids), resubscribe, SMS engagement history,
and the ``GET /contacts`` filters ``tags``, ``optout_after/before`` and ``sms_status``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.area_support import emails, inprocess_tour, seed_alice
from tests.emulator.tours import Tour

NO_SUCH = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def contact(t: Tour, email: str, permission: str = "implicit", **extra: Any) -> dict[str, Any]:
    body = {
        "email_address": {"address": email, "permission_to_send": permission},
        "create_source": "Account",
        **extra,
    }
    created: dict[str, Any] = t.call("POST", "/contacts", 201, json=body).json()
    return created


def test_fixed_paths_are_not_taken_for_ids(start_emulator: StartEmulator) -> None:
    """Before issue 13 these four answered "contact_id is in an invalid format"."""
    t = Tour(start_emulator(**FAST))
    t.call("GET", "/contacts/counts")
    t.call("GET", "/contacts/contact_id_xrefs", params={"sequence_ids": "1"})
    t.call("GET", "/contact_lists/list_id_xrefs", params={"sequence_ids": "1"})
    t.call("GET", "/contacts/{contact_id}", 404, path={"contact_id": "counts-not-a-uuid"})


def test_counts_by_permission(t: Tour) -> None:
    contact(t, "a@example.com", "explicit")
    contact(t, "b@example.com", "implicit")
    contact(t, "c@example.com", "pending_confirmation")
    contact(t, "d@example.com", "unsubscribed")
    gone = contact(t, "e@example.com", "explicit")
    t.call("DELETE", "/contacts/{contact_id}", 204, path=gone)
    counts = t.call("GET", "/contacts/counts").json()
    assert counts == {"total": 4, "explicit": 1, "implicit": 1, "pending": 1, "unsubscribed": 1}
    t.advance(31 * 86_400)
    contact(t, "f@example.com", "explicit")
    recent = t.call("GET", "/contacts/counts", params={"include": "new_subscriber"}).json()
    assert recent["new_subscriber"] == 1 and recent["total"] == 5


def test_xrefs_number_contacts_and_lists_per_account(t: Tour) -> None:
    first, second = contact(t, "a@example.com"), contact(t, "b@example.com")
    t.call("DELETE", "/contacts/{contact_id}", 204, path=first)  # deleted: still numbered
    body = t.call("GET", "/contacts/contact_id_xrefs", params={"sequence_ids": "2,1,3,0002"}).json()
    assert body == {
        "xrefs": [
            {"sequence_id": "2", "contact_id": second["contact_id"]},
            {"sequence_id": "1", "contact_id": first["contact_id"]},
        ]
    }
    # Bob's account numbers its own contacts from 1.
    assert t.call(
        "GET", "/contacts/contact_id_xrefs", params={"sequence_ids": "1"}, user="bob@example.com"
    ).json() == {"xrefs": []}
    lists = t.call("GET", "/contact_lists/list_id_xrefs", params={"sequence_ids": "1"}).json()
    default = t.call("GET", "/contact_lists").json()["lists"][0]
    assert lists["xrefs"] == [{"sequence_id": "1", "list_id": default["list_id"]}]
    too_many = ",".join(str(n) for n in range(1, 502))
    t.call("GET", "/contacts/contact_id_xrefs", 400, params={"sequence_ids": too_many})
    t.call("GET", "/contact_lists/list_id_xrefs", 400, params={"sequence_ids": "1,-2"})


def test_resubscribe_sends_once_and_the_contact_confirms(t: Tour) -> None:
    seeded = seed_alice(t, lists=[{"name": "News"}])
    news = seeded["lists"][0]["list_id"]
    gone = contact(t, "gone@example.com", "unsubscribed")
    path = {"contact_id": gone["contact_id"]}
    t.call(
        "PUT", "/contacts/resubscribe/{contact_id}", 400, path=path, json={"list_ids": [NO_SUCH]}
    )
    response = t.call(
        "PUT", "/contacts/resubscribe/{contact_id}", path=path, json={"list_ids": [news]}
    )
    assert response.content == b""
    # Not resubscribed until the contact confirms.
    still = t.call("GET", "/contacts/{contact_id}", path=path).json()
    assert still["email_address"]["permission_to_send"] == "unsubscribed"
    t.call("PUT", "/contacts/resubscribe/{contact_id}", 409, path=path, json={"list_ids": [news]})
    confirmed = t.running.client.post(
        f"/__emulator/contacts/{gone['contact_id']}/confirm_resubscribe", json={}
    )
    assert confirmed.status_code == 200, confirmed.text
    back = t.call(
        "GET", "/contacts/{contact_id}", path=path, params={"include": "list_memberships"}
    ).json()
    assert back["email_address"]["permission_to_send"] == "explicit"
    assert back["email_address"]["opt_in_source"] == "Contact"
    assert back["list_memberships"] == [news]
    again = t.running.client.post(
        f"/__emulator/contacts/{gone['contact_id']}/confirm_resubscribe", json={}
    )
    assert again.status_code == 404


def test_resubscribe_needs_an_unsubscribed_contact(t: Tour) -> None:
    lists = [t.call("GET", "/contact_lists").json()["lists"][0]["list_id"]]
    active = contact(t, "active@example.com", "explicit")
    path = {"contact_id": active["contact_id"]}
    t.call("PUT", "/contacts/resubscribe/{contact_id}", 400, path=path, json={"list_ids": lists})
    t.call("PUT", "/contacts/resubscribe/{contact_id}", 400, path=path, json={"list_ids": []})
    t.call(
        "PUT",
        "/contacts/resubscribe/{contact_id}",
        404,
        path={"contact_id": NO_SUCH},
        json={"list_ids": lists},
    )
    t.call(
        "PUT",
        "/contacts/resubscribe/{contact_id}",
        403,
        path=path,
        json={"list_ids": lists},
        user="carol@example.com",
    )


def test_sms_engagement_history(t: Tour) -> None:
    sms = {
        "full_sms_address": "16175550100",
        "sms_channel_consents": [
            {"sms_consent_permission": "explicit", "consent_type": "promotional_sms"}
        ],
    }
    texter = contact(t, "texter@example.com", sms_channel=sms)
    path = {"contact_id": texter["contact_id"]}
    history = t.call("GET", "/contacts/sms_engagement_history/{contact_id}", path=path).json()
    assert len(history) == 1
    record = history[0]
    assert record["contact_id"] == texter["contact_id"]
    assert record["sms_channel_id"] == texter["sms_channel"]["sms_channel_id"]
    assert record["history_details"]["state"] == "I"
    assert record["history_details"]["source_sms_number"] == "6175550100"
    again = t.call("GET", "/contacts/sms_engagement_history/{contact_id}", path=path).json()
    assert again == history  # stable ids
    plain = contact(t, "plain@example.com")
    assert (
        t.call(
            "GET",
            "/contacts/sms_engagement_history/{contact_id}",
            path={"contact_id": plain["contact_id"]},
        ).json()
        == []
    )


def test_new_list_filters(t: Tour) -> None:
    tag = t.call("POST", "/contact_tags", 201, json={"name": "VIP"}).json()["tag_id"]
    contact(t, "tagged@example.com", taggings=[tag])
    contact(t, "plain@example.com")
    sms = {
        "full_sms_address": "16175550101",
        "sms_channel_consents": [
            {"sms_consent_permission": "unsubscribed", "consent_type": "promotional_sms"}
        ],
    }
    contact(t, "texter@example.com", sms_channel=sms)
    tagged = t.call("GET", "/contacts", params={"tags": tag}).json()
    assert emails(tagged["contacts"]) == ["tagged@example.com"]
    by_sms = t.call("GET", "/contacts", params={"sms_status": "unsubscribed"}).json()
    assert emails(by_sms["contacts"]) == ["texter@example.com"]
    unset = t.call("GET", "/contacts", params={"sms_status": "not_set"}).json()
    assert emails(unset["contacts"]) == ["plain@example.com", "tagged@example.com"]
    cutoff = t.call("GET", "/contacts").headers["date"]
    t.advance(60)
    leaver = contact(t, "leaver@example.com", "explicit")
    put = {
        "email_address": {"address": "leaver@example.com", "permission_to_send": "unsubscribed"},
        "update_source": "Contact",
    }
    t.call("PUT", "/contacts/{contact_id}", path=leaver, json=put)
    from email.utils import parsedate_to_datetime

    after = parsedate_to_datetime(cutoff).isoformat()
    left = t.call("GET", "/contacts", params={"optout_after": after, "status": "all"}).json()
    assert emails(left["contacts"]) == ["leaver@example.com"]
    before = t.call("GET", "/contacts", params={"optout_before": after, "status": "all"}).json()
    assert before["contacts"] == []
