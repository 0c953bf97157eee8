"""Technology partners: the partner token endpoint, the partner gateway (token and
``x-api-key``), client accounts (provisioning, plans, cancellation, SSO users,
unsubscribes, requests on their behalf) and webhook notifications delivered to a real
loopback receiver."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ctct import _cc
from ctct.emulator.config import DEFAULT_CLIENT_ID, PartnerConfig
from tests.conftest import StartEmulator
from tests.emulator.api_support import FAST
from tests.emulator.area_support import emails, inprocess_tour
from tests.emulator.tours import Tour

BOB = {"encoded_account_id": "a07e1bob00002"}
BASE = "/partner/accounts/{encoded_account_id}"
HOOKS = "/partner/webhooks/subscriptions"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PROVISION = {
    "contact_email": "hank@example.com",
    "country_code": "US",
    "state_code": "MA",
    "login_name": "hank_smith",
    "password": "correct-horse-battery",
    "organization_name": "Hank's Fruit",
    "first_name": "Hank",
}


@pytest.fixture
def t() -> Iterator[Tour]:
    with inprocess_tour() as tour:
        yield tour


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}", **FORM}


def p(t: Tour, **kwargs: Any) -> dict[str, Any]:
    return {"auth": False, "headers": t.partner_headers(), **kwargs}


def test_partner_token_over_loopback(start_emulator: StartEmulator) -> None:
    running = start_emulator(**FAST)
    partner = running.emulator.config.partners[0]
    good = basic(partner.partner_client_id, partner.partner_secret)
    response = running.client.post(
        _cc.PARTNER_TOKEN_PATH, params={"grant_type": "client_credentials"}, headers=good
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert set(token) == {"access_token", "expires_in", "token_type"}  # no refresh token
    api = {"Authorization": f"Bearer {token['access_token']}", "x-api-key": partner.api_key}
    listed = running.client.get("/v3/partner/accounts", headers=api)
    assert listed.status_code == 200, listed.text
    # The old Cognito path, a form body and the explicit scope are accepted too.
    cognito = running.client.post(
        "/oauth2/token",
        content="grant_type=client_credentials&scope=v3api%2Fgeneral.partner",
        headers=good,
    )
    assert cognito.status_code == 200, cognito.text
    # A partner token is not a user's access token, nor the other way round.
    user = running.client.get("/v3/contacts", headers={"Authorization": api["Authorization"]})
    assert user.status_code == 401


@pytest.mark.parametrize(
    ("headers", "params", "status", "error"),
    [
        (
            {"Authorization": "Basic x"},
            {"grant_type": "client_credentials"},
            415,
            "unsupported_media_type",
        ),
        ("wrong-secret", {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (FORM, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        ("good", {}, 400, "invalid_request"),
        ("good", {"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        (
            "good",
            {"grant_type": "client_credentials", "scope": "contact_data"},
            400,
            "invalid_scope",
        ),
    ],
)
def test_partner_token_errors(
    t: Tour, headers: Any, params: dict[str, str], status: int, error: str
) -> None:
    partner = t.running.emulator.config.partners[0]
    if headers == "good":
        headers = basic(partner.partner_client_id, partner.partner_secret)
    elif headers == "wrong-secret":
        headers = basic(partner.partner_client_id, "guess")
    response = t.running.client.post(_cc.PARTNER_TOKEN_PATH, params=params, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["error_description"]
    assert "guess" not in response.text and partner.partner_secret not in response.text


def test_the_gateway_wants_a_live_partner_token_and_the_api_key(t: Tour) -> None:
    headers = t.partner_headers()
    t.call("GET", "/partner/accounts", **p(t))
    t.call("GET", "/partner/accounts", 403, auth=False, headers={**headers, "x-api-key": "other"})
    t.call("GET", "/partner/accounts", 401)  # a user's access token
    t.advance(3_601)  # partner tokens last an hour and cannot be refreshed
    t.call("GET", "/partner/accounts", 401, auth=False, headers=headers)
    t.call("GET", "/partner/accounts", **p(t))  # a new one works


def test_provisioned_accounts_list_and_page(t: Tour) -> None:
    ids = []
    for n in range(11):
        body = {**PROVISION, "login_name": f"client{n}", "managed_site_owner": n % 2 == 0}
        ids.append(
            t.call("POST", "/partner/accounts", 201, json=body, **p(t)).json()["encoded_account_id"]
        )
    first = t.call("GET", "/partner/accounts", params={"limit": "10"}, **p(t)).json()
    assert [a["encoded_account_id"] for a in first["site_owner_list"]] == [
        "a07e1bob00002",
        *ids[:9],
    ]
    href = first["_links"]["next"]["href"]
    rest = t.running.client.get(href, headers=t.partner_headers()).json()
    assert [a["encoded_account_id"] for a in rest["site_owner_list"]] == ids[9:]
    assert "_links" not in rest
    ignored = t.call("GET", "/partner/accounts", params={"limit": "5"}, **p(t)).json()
    assert len(ignored["site_owner_list"]) == 12  # a limit outside 10-50 is ignored
    unmanaged = t.call(
        "GET", "/partner/accounts", params={"account_type": "unmanaged"}, **p(t)
    ).json()
    assert len(unmanaged["site_owner_list"]) == 5
    hank = next(a for a in first["site_owner_list"] if a["encoded_account_id"] == ids[0])
    assert hank == {
        "encoded_account_id": ids[0],
        "subscriber_count": 0,
        "organization_name": "Hank's Fruit",
        "site_owner_name": "client0",
        "billing_status": "Trial",
    }


def test_a_provisioned_account_is_a_real_account(t: Tour) -> None:
    created = t.call("POST", "/partner/accounts", 201, json=PROVISION, **p(t)).json()
    account = {"encoded_account_id": created["encoded_account_id"]}
    sync = {"account_operation_url": "/v3/account/summary", "account_operation_method": "GET"}
    summary = t.call(
        "POST", BASE + "/account_operations/sync", path=account, json=sync, **p(t)
    ).json()
    assert summary["organization_name"] == "Hank's Fruit" and summary["first_name"] == "Hank"
    lists = {"account_operation_url": "/contact_lists", "account_operation_method": "GET"}
    listed = t.call(
        "POST", BASE + "/account_operations/sync", path=account, json=lists, **p(t)
    ).json()
    assert [x["name"] for x in listed["lists"]] == ["General Interest"]
    # Provisioned without an address: POST one on the account's behalf.
    address = {
        "address_line1": "1 Orchard Way",
        "city": "Salem",
        "state_code": "MA",
        "country_code": "US",
    }
    post = {
        "account_operation_url": "/account/summary/physical_address",
        "account_operation_method": "POST",
        "account_operation_payload": json.dumps(address),
    }
    answer = t.running.client.post(
        f"/v3/partner/accounts/{created['encoded_account_id']}/account_operations/sync",
        json=post,
        headers=t.partner_headers(),
    )
    assert answer.status_code == 201 and answer.json() == address  # the inner answer


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"contact_email": "nope"}, "contact_email"),
        ({"country_code": "FR"}, "Leave state_code blank"),
        ({"state_code": ""}, "two-letter state_code"),
        ({"password": "short"}, "password is required"),
        ({"external_id": "1", "external_provider": "Yahoo"}, "Do not send a password"),
        ({"login_name": "has space"}, "login_name may only"),
        ({"website": "www.example.com"}, "website must start"),
        ({"billing_locale": "fr_FR"}, "billing_locale"),
        ({"favourite": True}, "not a property"),
    ],
)
def test_bad_provision_requests(t: Tour, changes: dict[str, Any], fragment: str) -> None:
    problems = t.call(
        "POST", "/partner/accounts", 400, json={**PROVISION, **changes}, **p(t)
    ).json()
    assert any(fragment in x["error_message"] for x in problems), problems


class Receiver:
    """A loopback webhook receiver."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def deliveries(t: Tour) -> list[dict[str, Any]]:
    response = t.running.client.get("/__emulator/webhooks", params={"wait": "true"})
    assert response.status_code == 200
    records: list[dict[str, Any]] = response.json()["deliveries"]
    return records


def test_plans_and_cancellation_notify_the_webhooks(t: Tour, receiver: Receiver) -> None:
    for topic in (1, 2, 3):
        t.call(
            "PUT",
            HOOKS + "/{topic_id}",
            path={"topic_id": topic},
            json={"hook_uri": receiver.url},
            **p(t),
        )
    subscribed = t.call("GET", HOOKS, **p(t)).json()
    assert [s["topic_name"] for s in subscribed] == [
        "Billing Tier Upgrade",
        "Billing Tier Downgrade",
        "Account Cancelled",
    ]
    created = t.call("POST", "/partner/accounts", 201, json=PROVISION, **p(t)).json()
    account = {"encoded_account_id": created["encoded_account_id"]}
    silver = t.call(
        "PUT",
        BASE + "/plan",
        path=account,
        json={"plan_type": "SILVER", "billing_day_of_month": 15},
        **p(t),
    ).json()
    assert (silver["billing_status"], silver["billing_day_of_month"]) == ("Open", 15)
    assert silver["current_tiers"][0]["tier"] == 1
    bronze = t.call(
        "PUT",
        BASE + "/plan",
        path=account,
        json={"plan_type": "BRONZE", "billing_day_of_month": 3},
        **p(t),
    ).json()
    assert bronze["billing_day_of_month"] == 15  # only changes when leaving the trial
    t.call("PUT", BASE + "/plan", path=account, **p(t))  # no body: nothing changes
    t.call("PUT", BASE + "/plan", 400, path=account, json={"billing_day_of_month": 32}, **p(t))
    later = "2099-01-01T00:00:00Z"
    cancelled = t.call(
        "PUT",
        BASE + "/status/cancel",
        path=account,
        json={"reason_id": 2, "effective_date": later},
        **p(t),
    ).json()
    assert cancelled == {"reason_id": 2, "effective_date": "2099-01-01T00:00:00.000Z"}
    assert t.call("GET", BASE + "/plan", path=account, **p(t)).json()["billing_status"] == "Open"
    records = deliveries(t)
    assert [r["status"] for r in records] == [204, 204, 204]
    kinds = [r["body"]["event_type"] for r in records]  # in the order they were sent
    assert kinds == ["tier.increase", "tier.decrease", "account.cancelled"]
    # Each delivery is on its own thread: they may arrive in any order.
    assert sorted(b["event_type"] for b in receiver.bodies) == sorted(kinds)
    url = f"/v3/partner/accounts/{created['encoded_account_id']}/plan"
    assert all(
        b["url"].endswith(url) and b["api_key"] == DEFAULT_CLIENT_ID for b in receiver.bodies
    )
    t.call("PUT", BASE + "/status/cancel", 400, path=account, **p(t))
    t.call("PUT", BASE + "/plan", 400, path=account, json={"plan_type": "TRIAL"}, **p(t))


def test_billing_status_follows_the_clock(t: Tour) -> None:
    created = t.call("POST", "/partner/accounts", 201, json=PROVISION, **p(t)).json()
    account = {"encoded_account_id": created["encoded_account_id"]}
    t.advance(61 * 86_400)
    assert (
        t.call("GET", BASE + "/plan", path=account, **p(t)).json()["billing_status"] == "Trial End"
    )
    t.call(
        "PUT",
        BASE + "/status/cancel",
        path=account,
        json={"effective_date": "2000-01-01T00:00:00Z"},
        **p(t),
    )
    assert (
        t.call("GET", BASE + "/plan", path=account, **p(t)).json()["billing_status"] == "Canceled"
    )
    t.call("PUT", BASE + "/plan", 400, path=account, json={"plan_type": "GOLD"}, **p(t))
    t.call("PUT", BASE + "/status/cancel", 400, path=BOB, json={"reason_id": 99}, **p(t))


def test_webhook_tests_and_failures_are_recorded(t: Tour, receiver: Receiver) -> None:
    path = {"topic_id": 4}
    t.call("PUT", HOOKS + "/{topic_id}", path=path, json={"hook_uri": receiver.url}, **p(t))
    sent = t.call("POST", HOOKS + "/{topic_id}/tests", 201, path=path, **p(t)).json()
    assert sent["topic_name"] == "Account Disabled"
    t.call(
        "PUT",
        HOOKS + "/{topic_id}",
        path=path,
        json={"hook_uri": "http://127.0.0.1:9/dead"},
        **p(t),
    )
    assert (
        t.call("GET", HOOKS + "/{topic_id}", path=path, **p(t)).json()["hook_uri"].endswith("/dead")
    )
    t.call("POST", HOOKS + "/{topic_id}/tests", 201, path=path, **p(t))
    first, second = deliveries(t)
    assert first["status"] == 204 and receiver.bodies[0]["event_type"] == "account.disabled"
    assert second["status"] is None and second["error"]
    t.call("DELETE", HOOKS + "/{topic_id}", 204, path=path, **p(t))
    assert t.call("GET", HOOKS, **p(t)).json() == []
    t.call(
        "PUT",
        HOOKS + "/{topic_id}",
        404,
        path={"topic_id": 0},
        json={"hook_uri": receiver.url},
        **p(t),
    )


def test_sso_users_need_an_sso_account(t: Tour) -> None:
    sso = {
        "first_name": "Josie",
        "last_name": "Lang",
        "role_name": "campaign_creator",
        "contact_email": "josie@example.com",
        "login_name": "josie.lang",
        "external_id": "2337823",
        "external_provider": "Yahoo",
    }
    t.call("POST", BASE + "/users/sso", 400, path=BOB, json=sso, **p(t))
    external = {**PROVISION, "external_id": "77", "external_provider": "Yahoo"}
    del external["password"]
    account = t.call("POST", "/partner/accounts", 201, json=external, **p(t)).json()
    path = {"encoded_account_id": account["encoded_account_id"]}
    t.call("POST", BASE + "/users/sso", 201, path=path, json=sso, **p(t))
    t.call(
        "POST",
        BASE + "/users/sso",
        409,
        path=path,
        json={**sso, "login_name": "hank_smith"},
        **p(t),
    )
    t.call("POST", BASE + "/users/sso", 400, path=path, json={**sso, "role_name": "owner"}, **p(t))


def test_unsubscribe_contacts_of_client_accounts(t: Tour) -> None:
    def add(account: dict[str, str], email: str) -> None:
        post = {
            "account_operation_url": "/contacts",
            "account_operation_method": "POST",
            "account_operation_payload": json.dumps(
                {
                    "email_address": {"address": email, "permission_to_send": "explicit"},
                    "create_source": "Account",
                }
            ),
        }
        response = t.running.client.post(
            f"/v3/partner/accounts/{account['encoded_account_id']}/account_operations/sync",
            json=post,
            headers=t.partner_headers(),
        )
        assert response.status_code == 201, response.text

    other = t.call("POST", "/partner/accounts", 201, json=PROVISION, **p(t)).json()
    add(BOB, "ann@example.com")
    add(BOB, "ben@example.com")
    add(other, "ann@example.com")
    body = {
        "email_addresses": ["ANN@example.com", "zed@example.com"],
        "update_source": "Account",
        "opt_out_reason": "Moved",
    }
    assert t.call("POST", BASE + "/contacts/unsubscribe", path=BOB, json=body, **p(t)).json() == {
        "unsubscribed_count": 1
    }
    unsubscribed = t.call(
        "GET", "/contacts", params={"status": "unsubscribed"}, user="bob@example.com"
    ).json()
    assert emails(unsubscribed["contacts"]) == ["ann@example.com"]
    assert unsubscribed["contacts"][0]["email_address"]["opt_out_reason"] == "Moved"
    everywhere = {
        "email_addresses": ["ann@example.com"],
        "update_source": "System",
        "global_unsubscribe": True,
        "delete_contacts": True,
    }
    assert t.call(
        "POST", BASE + "/contacts/unsubscribe", path=BOB, json=everywhere, **p(t)
    ).json() == {"unsubscribed_count": 2}
    t.call(
        "POST",
        BASE + "/contacts/unsubscribe",
        400,
        path=BOB,
        json={**everywhere, "email_addresses": ["a@example.com", "b@example.com"]},
        **p(t),
    )
    t.call(
        "POST",
        BASE + "/contacts/unsubscribe",
        400,
        path=BOB,
        json={"email_addresses": ["a@example.com"]},
        **p(t),
    )


def test_accounts_of_other_partners_and_unmanaged_ones(t: Tour) -> None:
    unmanaged = t.call(
        "POST", "/partner/accounts", 201, json={**PROVISION, "managed_site_owner": False}, **p(t)
    ).json()
    sync = {"account_operation_url": "/contacts", "account_operation_method": "GET"}
    path = {"encoded_account_id": unmanaged["encoded_account_id"]}
    problems = t.call(
        "POST", BASE + "/account_operations/sync", 400, path=path, json=sync, **p(t)
    ).json()
    assert "managed" in problems[0]["error_message"]
    t.call(
        "GET", BASE + "/plan", 404, path={"encoded_account_id": "a07e1alice001"}, **p(t)
    )  # not a client
    partner = PartnerConfig(
        "second-partner", "second-secret", DEFAULT_CLIENT_ID, accounts=("a07e1alice001",)
    )
    with inprocess_tour(partners=(t.running.emulator.config.partners[0], partner)) as two:
        # Bob's account belongs to the first partner: the second gets a 400, as at CC.
        from ctct.emulator.partner_auth import mint_partner_token

        token = mint_partner_token(two.running.emulator, partner)
        headers = {"Authorization": f"Bearer {token}", "x-api-key": DEFAULT_CLIENT_ID}
        two.call("GET", "/partner/accounts", auth=False, headers=headers)
        two.call("GET", "/partner/accounts", auth=False, headers=two.partner_headers())
        two.call("GET", BASE + "/plan", 400, path=BOB, auth=False, headers=headers)
        mine = two.call(
            "GET",
            BASE + "/plan",
            path={"encoded_account_id": "a07e1alice001"},
            auth=False,
            headers=headers,
        )
        assert mine.json()["plan_type"] == "GOLD"


@pytest.mark.parametrize(
    ("sync", "status"),
    [
        (
            {"account_operation_url": "/contacts/{contact_id}", "account_operation_method": "GET"},
            400,
        ),
        ({"account_operation_url": "/partner/accounts", "account_operation_method": "GET"}, 400),
        ({"account_operation_url": "/contacts", "account_operation_method": "TRACE"}, 400),
        ({"account_operation_url": "/contacts/counts", "account_operation_method": "DELETE"}, 405),
        (
            {
                "account_operation_url": "/contacts",
                "account_operation_method": "GET",
                "account_operation_headers": [{"header_key": "X-Name", "header_value": "Zoë"}],
            },
            400,
        ),
    ],
)
def test_bad_sync_requests(t: Tour, sync: dict[str, str], status: int) -> None:
    response = t.running.client.post(
        "/v3/partner/accounts/a07e1bob00002/account_operations/sync",
        json=sync,
        headers=t.partner_headers(),
    )
    assert response.status_code == status, response.text


def test_sync_passes_parameters_and_acts_as_the_owner(t: Tour) -> None:
    add = {
        "account_operation_url": "/contact_lists",
        "account_operation_method": "POST",
        "account_operation_payload": json.dumps({"name": "From partner"}),
        "account_operation_headers": [{"header_key": "Accept", "header_value": "application/json"}],
    }
    created = t.running.client.post(
        "/v3/partner/accounts/a07e1bob00002/account_operations/sync",
        json=add,
        headers=t.partner_headers(),
    )
    assert created.status_code == 201, created.text
    get = {
        "account_operation_url": "/contact_lists/{list_id}",
        "account_operation_method": "GET",
        "account_operation_path_parameters": [
            {"path_param_key": "list_id", "path_param_value": created.json()["list_id"]}
        ],
        "account_operation_query_parameters": [
            {"query_param_key": "include_membership_count", "query_param_value": "all"}
        ],
    }
    got = t.call("POST", BASE + "/account_operations/sync", path=BOB, json=get, **p(t)).json()
    assert got["name"] == "From partner" and got["membership_count"] == 0
    # Bob himself (an account manager) sees the list the partner made.
    assert "From partner" in [
        x["name"] for x in t.call("GET", "/contact_lists", user="bob@example.com").json()["lists"]
    ]
