"""Tour of contacts, lists, tags and custom fields."""

from __future__ import annotations

from typing import Any

from tests.emulator.api_support import CAROL, seed
from tests.emulator.tours import Tour

TAGS = ("Contacts", "Contact Lists", "Contact Tags", "Contacts Custom Fields")
NO_SUCH = "00000000-0000-4000-8000-000000000000"


def tour(t: Tour) -> None:
    _lists(t)
    _contacts(t)
    _tags(t)
    _custom_fields(t)


def _lists(t: Tour) -> None:
    created = t.call("POST", "/contact_lists", 201, json={"name": "Tour list"}).json()
    list_id = created["list_id"]
    t.call("POST", "/contact_lists", 409, json={"name": "tour LIST"})
    t.call("GET", "/contact_lists", params={"include_count": "true"})
    t.call("GET", "/contact_lists", 400, params={"status": "gone"})
    t.call("GET", "/contact_lists/{list_id}", path={"list_id": list_id})
    t.call("GET", "/contact_lists/{list_id}", 404, path={"list_id": NO_SUCH})
    t.call("PUT", "/contact_lists/{list_id}", path={"list_id": list_id}, json={"name": "Tour 2"})
    t.call("PUT", "/contact_lists/{list_id}", 400, path={"list_id": list_id}, json={})
    xrefs = t.call("GET", "/contact_lists/list_id_xrefs", params={"sequence_ids": "1,2,99"})
    assert [x["sequence_id"] for x in xrefs.json()["xrefs"]] == ["1", "2"]
    assert xrefs.json()["xrefs"][1]["list_id"] == list_id
    t.call("GET", "/contact_lists/list_id_xrefs", 400)
    t.call("DELETE", "/contact_lists/{list_id}", 202, path={"list_id": list_id})
    t.call("DELETE", "/contact_lists/{list_id}", 404, path={"list_id": NO_SUCH})


def _contacts(t: Tour) -> None:
    seed(t.running, username="alice@example.com", lists=[{"name": "Members"}])
    body: dict[str, Any] = {
        "email_address": {"address": "tour@example.com", "permission_to_send": "explicit"},
        "first_name": "Tess",
        "create_source": "Account",
        "sms_channel": {
            "full_sms_address": "16175550100",
            "sms_channel_consents": [
                {"sms_consent_permission": "explicit", "consent_type": "promotional_sms"}
            ],
        },
    }
    contact = t.call("POST", "/contacts", 201, json=body).json()
    contact_id = contact["contact_id"]
    t.call("POST", "/contacts", 409, json=body)
    t.call("GET", "/contacts", params={"include_count": "true", "sms_status": "explicit"})
    t.call("GET", "/contacts", 400, params={"status": "asleep"})
    t.call("GET", "/contacts/{contact_id}", path={"contact_id": contact_id})
    t.call("GET", "/contacts/{contact_id}", 404, path={"contact_id": NO_SUCH})
    put = {**body, "update_source": "Account", "last_name": "Tour"}
    del put["create_source"]
    t.call("PUT", "/contacts/{contact_id}", path={"contact_id": contact_id}, json=put)
    t.call("PUT", "/contacts/{contact_id}", 404, path={"contact_id": NO_SUCH}, json=put)
    signup = {"email_address": "signup@example.com", "list_memberships": [_list_id(t)]}
    t.call("POST", "/contacts/sign_up_form", 201, json=signup)
    t.call("POST", "/contacts/sign_up_form", 400, json={"email_address": "x@example.com"})

    counts = t.call("GET", "/contacts/counts", params={"include": "new_subscriber"}).json()
    assert counts == {**counts, "total": 2, "explicit": 2, "new_subscriber": 2}, counts
    t.call("GET", "/contacts/counts", 400, params={"include": "old_subscriber"})
    xrefs = t.call("GET", "/contacts/contact_id_xrefs", params={"sequence_ids": "1"}).json()
    assert xrefs == {"xrefs": [{"sequence_id": "1", "contact_id": contact_id}]}
    t.call("GET", "/contacts/contact_id_xrefs", 400, params={"sequence_ids": "abc"})
    history = t.call(
        "GET", "/contacts/sms_engagement_history/{contact_id}", path={"contact_id": contact_id}
    ).json()
    assert history[0]["history_details"]["consent_action_type"] == "opt_in"
    t.call(
        "GET", "/contacts/sms_engagement_history/{contact_id}", 404, path={"contact_id": NO_SUCH}
    )

    unsubscribed = {**put, "email_address": {**body["email_address"]}}
    unsubscribed["email_address"]["permission_to_send"] = "unsubscribed"
    t.call("PUT", "/contacts/{contact_id}", path={"contact_id": contact_id}, json=unsubscribed)
    resubscribe = {"list_ids": [_list_id(t)]}
    path = {"contact_id": contact_id}
    t.call("PUT", "/contacts/resubscribe/{contact_id}", path=path, json=resubscribe)
    t.call("PUT", "/contacts/resubscribe/{contact_id}", 409, path=path, json=resubscribe)
    t.call("DELETE", "/contacts/{contact_id}", 204, path={"contact_id": contact_id})
    t.call("DELETE", "/contacts/{contact_id}", 404, path={"contact_id": NO_SUCH})
    # A campaign creator has no contacts:read privilege.
    t.call("GET", "/contacts", 403, user=CAROL)


def _list_id(t: Tour) -> str:
    lists = t.call("GET", "/contact_lists", params={"name": "Members"}).json()["lists"]
    return str(lists[0]["list_id"])


def _tags(t: Tour) -> None:
    tag = t.call("POST", "/contact_tags", 201, json={"name": "Tour tag"}).json()
    t.call("POST", "/contact_tags", 409, json={"name": "Tour tag"})
    t.call("GET", "/contact_tags", params={"include_count": "true"})
    t.call("GET", "/contact_tags", 400, params={"limit": "0"})
    path = {"tag_id": tag["tag_id"]}
    t.call("GET", "/contact_tags/{tag_id}", path=path)
    t.call("GET", "/contact_tags/{tag_id}", 404, path={"tag_id": NO_SUCH})
    t.call("PUT", "/contact_tags/{tag_id}", path=path, json={"name": "Tour tag 2"})
    t.call("PUT", "/contact_tags/{tag_id}", 404, path={"tag_id": NO_SUCH}, json={"name": "x"})
    t.call("DELETE", "/contact_tags/{tag_id}", 202, path=path)
    t.call("DELETE", "/contact_tags/{tag_id}", 404, path={"tag_id": NO_SUCH})


def _custom_fields(t: Tour) -> None:
    field = t.call(
        "POST", "/contact_custom_fields", 201, json={"label": "Shoe size", "type": "string"}
    ).json()
    t.call("POST", "/contact_custom_fields", 409, json={"label": "Shoe size", "type": "string"})
    t.call("GET", "/contact_custom_fields")
    t.call("GET", "/contact_custom_fields", 400, params={"limit": "1000"})
    path = {"custom_field_id": field["custom_field_id"]}
    t.call("GET", "/contact_custom_fields/{custom_field_id}", path=path)
    t.call(
        "GET", "/contact_custom_fields/{custom_field_id}", 404, path={"custom_field_id": NO_SUCH}
    )
    t.call(
        "PUT",
        "/contact_custom_fields/{custom_field_id}",
        path=path,
        json={"label": "Shoe size (EU)", "type": "string"},
    )
    t.call("PUT", "/contact_custom_fields/{custom_field_id}", 400, path=path, json={})
    t.call("DELETE", "/contact_custom_fields/{custom_field_id}", 204, path=path)
    t.call("DELETE", "/contact_custom_fields/{custom_field_id}", 404, path=path)
