"""Tour of Technology Partners and their webhooks."""

from __future__ import annotations

from typing import Any

from tests.emulator.tours import Tour

TAGS = ("Technology Partners", "Technology Partners Webhooks")
BOB_ACCOUNT = "a07e1bob00002"
PROVISION = {
    "contact_email": "hank@example.com",
    "country_code": "US",
    "state_code": "MA",
    "login_name": "hank_smith",
    "password": "correct-horse-battery",
    "organization_name": "Hank's Fruit",
}
DEAD_HOOK = "http://127.0.0.1:9/hooks"  # discard port: deliveries fail fast, harmlessly


def tour(t: Tour) -> None:
    p: dict[str, Any] = {"auth": False, "headers": t.partner_headers()}
    listed = t.call("GET", "/partner/accounts", **p).json()
    assert [a["encoded_account_id"] for a in listed["site_owner_list"]] == [BOB_ACCOUNT]
    t.call("GET", "/partner/accounts", 400, params={"account_type": "some"}, **p)
    t.call("GET", "/partner/accounts", 401)  # a user's token is not a partner token
    created = t.call("POST", "/partner/accounts", 201, json=PROVISION, **p).json()
    t.call("POST", "/partner/accounts", 409, json=PROVISION, **p)
    t.call("POST", "/partner/accounts", 400, json={"login_name": "x"}, **p)
    new = {"encoded_account_id": created["encoded_account_id"]}
    bob = {"encoded_account_id": BOB_ACCOUNT}
    base = "/partner/accounts/{encoded_account_id}"

    plan = t.call("GET", base + "/plan", path=new, **p).json()
    assert (plan["plan_type"], plan["billing_status"]) == ("TRIAL", "Trial")
    t.call("GET", base + "/plan", 404, path={"encoded_account_id": "a07e1nobody00"}, **p)
    upgraded = t.call("PUT", base + "/plan", path=new, json={"plan_type": "GOLD"}, **p).json()
    assert upgraded["billing_status"] == "Open"
    t.call("PUT", base + "/plan", 400, path=new, json={"plan_type": "TRIAL"}, **p)

    sync = {"account_operation_url": "/contact_lists", "account_operation_method": "GET"}
    lists = t.call("POST", base + "/account_operations/sync", path=bob, json=sync, **p).json()
    assert [x["name"] for x in lists["lists"]] == ["General Interest"]
    missing = {**sync, "account_operation_url": "/nothing/here"}
    t.call("POST", base + "/account_operations/sync", 404, path=bob, json=missing, **p)

    sso = {
        "first_name": "Josie",
        "last_name": "Lang",
        "role_name": "campaign_creator",
        "contact_email": "josie@example.com",
        "login_name": "josie.lang",
        "external_id": "2337823",
        "external_provider": "Yahoo",
    }
    sso_account = {
        **PROVISION,
        "login_name": "sso_owner",
        "external_id": "1",
        "external_provider": "Yahoo",
    }
    del sso_account["password"]
    sso_id = t.call("POST", "/partner/accounts", 201, json=sso_account, **p).json()
    sso_path = {"encoded_account_id": sso_id["encoded_account_id"]}
    t.call("POST", base + "/users/sso", 201, path=sso_path, json=sso, **p)
    t.call("POST", base + "/users/sso", 409, path=sso_path, json=sso, **p)

    body = {"email_addresses": ["nobody@example.com"], "update_source": "Account"}
    gone = t.call("POST", base + "/contacts/unsubscribe", path=bob, json=body, **p).json()
    assert gone == {"unsubscribed_count": 0}
    t.call("POST", base + "/contacts/unsubscribe", 400, path=bob, json={"email_addresses": []}, **p)

    hooks = "/partner/webhooks/subscriptions"
    topic = {"topic_id": 3}
    t.call("PUT", hooks + "/{topic_id}", path=topic, json={"hook_uri": DEAD_HOOK}, **p)
    t.call("PUT", hooks + "/{topic_id}", 400, path=topic, json={"hook_uri": "ftp://x"}, **p)
    assert [s["topic_id"] for s in t.call("GET", hooks, **p).json()] == [3]
    t.call("GET", hooks, 401, headers={"x-api-key": p["headers"]["x-api-key"]}, auth=False)
    no_key = {"Authorization": p["headers"]["Authorization"]}
    t.call("GET", hooks, 403, headers=no_key, auth=False)
    t.call("GET", hooks + "/{topic_id}", path=topic, **p)
    t.call("GET", hooks + "/{topic_id}", 404, path={"topic_id": 9}, **p)
    t.call("POST", hooks + "/{topic_id}/tests", 201, path=topic, **p)
    t.call("POST", hooks + "/{topic_id}/tests", 404, path={"topic_id": 1}, **p)

    cancelled = t.call("PUT", base + "/status/cancel", path=new, json={"reason_id": 1}, **p)
    assert cancelled.json()["reason_id"] == 1
    t.call("PUT", base + "/status/cancel", 400, path=new, **p)

    t.call("DELETE", hooks + "/{topic_id}", 204, path=topic, **p)
    t.call("DELETE", hooks + "/{topic_id}", 404, path=topic, **p)
