"""The V3 gateway: bearer validation (401), scopes and privileges (403), 404/405/415."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from ctct import _cc
from ctct.emulator.api.contact_store import ContactQuery
from ctct.emulator.tokens import revoke_access_token
from tests.conftest import StartEmulator
from tests.emulator.api_support import (
    BOB,
    CAROL,
    FAST,
    auth,
    claims_of,
    error,
    mint,
    ok,
    unauthorized,
)


@pytest.fixture
def api(start_emulator: StartEmulator) -> Any:
    return start_emulator(**FAST)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_is_accepted(api: Any) -> None:
    ok(api.client.get("/v3/account/summary", headers=auth(api.emulator)), "Customer")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer two words",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl",  # well-formed, bad signature
    ],
)
def test_missing_or_garbled_tokens_get_ccs_401(api: Any, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    unauthorized(api.client.get("/v3/contacts", headers=headers))


def test_a_tampered_token_is_refused(api: Any) -> None:
    token = mint(api.emulator)
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(f"{head}.{payload}.{flipped}")))


def test_expiry_uses_the_emulator_clock_with_no_leeway(api: Any) -> None:
    token = mint(api.emulator, ttl=100)
    exp = claims_of(token)["exp"]
    api.emulator.clock.advance(exp - api.emulator.clock.now() - 2)
    ok(api.client.get("/v3/contacts", headers=_bearer(token)), "Contacts")
    api.emulator.clock.advance(exp - api.emulator.clock.now())  # now >= exp, not a second later
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(token)))


def _resigned(api: Any, **overrides: Any) -> str:
    """A real token (its jti is on record) re-signed by the emulator's key with changes."""
    claims = claims_of(mint(api.emulator))
    claims.update(overrides)
    for name in [k for k, v in overrides.items() if v is None]:
        del claims[name]
    token: str = api.emulator.keys.sign(claims)
    return token


def test_resigning_without_changes_still_works(api: Any) -> None:
    # The control for the tests below: they fail only because of what they change.
    ok(api.client.get("/v3/contacts", headers=_bearer(_resigned(api))), "Contacts")


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://api.cc.email/v2"},
        {"aud": None},
        {"iss": "https://authz.constantcontact.com/oauth2/default"},
        {"iss": None},
        {"exp": None},
        {"exp": "tomorrow"},
        {"jti": "AT.never-issued"},
        {"sub": "mallory@example.com"},
        {"scp": "contact_data"},
        {"cid": None},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_wrong_claims_are_refused(api: Any, overrides: dict[str, Any]) -> None:
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(_resigned(api, **overrides))))


def test_audience_list_containing_the_api_is_accepted(api: Any) -> None:
    token = _resigned(api, aud=["https://example.com", _cc.AUDIENCE])
    ok(api.client.get("/v3/contacts", headers=_bearer(token)), "Contacts")


def test_revoked_token_is_refused(api: Any) -> None:
    token = mint(api.emulator)
    ok(api.client.get("/v3/contacts", headers=_bearer(token)), "Contacts")
    assert revoke_access_token(api.emulator, claims_of(token)["jti"])
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(token)))


def test_unknown_kid_is_refused(api: Any) -> None:
    claims = claims_of(mint(api.emulator))
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-ours"})
    token = jwt.encode({"alg": "RS256", "kid": "not-ours"}, claims, stranger)
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(token)))
    # Our own kid on a signature by another key is refused too.
    forged = jwt.encode({"alg": "RS256", "kid": api.emulator.keys.active_kid}, claims, stranger)
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(forged)))


def test_other_algorithms_are_refused(api: Any) -> None:
    claims = claims_of(mint(api.emulator))
    secret = OctKey.generate_key(256, parameters={"kid": api.emulator.keys.active_kid})
    hs256 = jwt.encode({"alg": "HS256", "kid": api.emulator.keys.active_kid}, claims, secret)
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(hs256)))
    head = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    payload = mint(api.emulator).split(".")[1]
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(f"{head}.{payload}.")))


def test_tokens_survive_key_rotation_until_the_old_key_is_retired(api: Any) -> None:
    token = mint(api.emulator)
    api.emulator.keys.rotate()
    ok(api.client.get("/v3/contacts", headers=_bearer(token)), "Contacts")
    api.emulator.keys.retire()
    unauthorized(api.client.get("/v3/contacts", headers=_bearer(token)))


def test_missing_scope_is_403(api: Any) -> None:
    account_only = auth(api.emulator, scopes=("account_read",))
    for response in (
        api.client.get("/v3/contacts", headers=account_only),
        api.client.post("/v3/contacts", headers=account_only, json={"create_source": "Account"}),
        api.client.put("/v3/account/summary", headers=account_only, json={"website": "x"}),
    ):
        items = error(response, 403, "forbidden")
        assert "scope" in items[0]["error_message"]
    contacts_only = auth(api.emulator, scopes=("contact_data",))
    error(api.client.get("/v3/account/summary", headers=contacts_only), 403, "forbidden")


def test_account_read_is_satisfied_by_account_update(api: Any) -> None:
    headers = auth(api.emulator, scopes=("account_update",))
    ok(api.client.get("/v3/account/summary", headers=headers), "Customer")


def test_privileges_need_no_scope(api: Any) -> None:
    headers = auth(api.emulator, scopes=())
    ok(api.client.get("/v3/account/user/privileges", headers=headers), "UserPrivilegesResource")


def test_missing_privilege_is_403(api: Any) -> None:
    carol = auth(api.emulator, CAROL)  # campaign_creator: no contacts
    for response in (
        api.client.get("/v3/contacts", headers=carol),
        api.client.post(
            "/v3/contacts",
            headers=carol,
            json={"create_source": "Account", "first_name": "Nope"},
        ),
    ):
        items = error(response, 403, "forbidden")
        assert "contacts:" in items[0]["error_message"]
    ok(api.client.get("/v3/account/summary", headers=carol), "Customer")
    bob = auth(api.emulator, BOB)  # account_manager: everything but account:update
    ok(api.client.get("/v3/contacts", headers=bob), "Contacts")
    error(api.client.put("/v3/account/summary", headers=bob, json={"website": "x"}), 403)


def test_wrong_method_is_405_after_authentication(api: Any) -> None:
    unauthorized(api.client.patch("/v3/contacts", json={}))
    response = api.client.patch("/v3/contacts", headers=auth(api.emulator), json={})
    error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"
    error(api.client.delete("/v3/contacts", headers=auth(api.emulator)), 405)
    error(api.client.post("/v3/account/user/privileges", headers=auth(api.emulator)), 405)


def test_unknown_v3_path_is_404_after_authentication(api: Any) -> None:
    unauthorized(api.client.get("/v3/no_such_thing"))
    error(api.client.get("/v3/no_such_thing", headers=auth(api.emulator)), 404, "not_found")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_post_and_put_need_json_content_type(api: Any, content_type: str | None) -> None:
    headers = auth(api.emulator)
    if content_type:
        headers["Content-Type"] = content_type
    body = b'{"create_source":"Account","first_name":"Ann"}'
    error(api.client.post("/v3/contacts", headers=headers, content=body), 415)
    error(api.client.put("/v3/account/summary", headers=headers, content=b"{}"), 415)
    everything = ContactQuery(statuses=("all",))
    assert api.emulator.accounts.contacts.count("a07e1alice001", everything) == 0


def test_json_with_charset_is_accepted(api: Any) -> None:
    headers = {**auth(api.emulator), "Content-Type": "application/json; charset=utf-8"}
    body = b'{"create_source":"Account","first_name":"Ann"}'
    ok(api.client.post("/v3/contacts", headers=headers, content=body), "ContactResource", 201)


def test_malformed_json_is_400(api: Any) -> None:
    headers = {**auth(api.emulator), "Content-Type": "application/json"}
    items = error(api.client.post("/v3/contacts", headers=headers, content=b"{nope"), 400)
    assert items[0]["error_key"] == "contacts.api.validation.error"
    error(api.client.post("/v3/contacts", headers=headers, content=b""), 400)


def test_every_answer_is_counted_by_route_template(api: Any) -> None:
    headers = auth(api.emulator)
    api.client.get("/v3/contacts")
    api.client.get("/v3/contacts", headers=headers)
    api.client.get("/v3/contacts/8a6a54a2-5f1c-4b4e-9b8e-2f1f0c1d2e3f", headers=headers)
    api.client.get("/v3/contacts/not-a-uuid", headers=headers)
    counted = api.emulator.counters.snapshot()["api_requests"]
    assert counted["GET /v3/contacts"] == {"401": 1, "200": 1}
    assert counted["GET /v3/contacts/{contact_id}"] == {"404": 2}


def test_401_is_not_slowed_by_the_rate_limit(start_emulator: StartEmulator) -> None:
    # No key is known for an unauthenticated request, so it cannot be counted against one.
    running = start_emulator(api_rate_per_second=1.0, api_daily_quota=1)
    for _ in range(3):
        unauthorized(running.client.get("/v3/contacts"))
    headers = auth(running.emulator)
    ok(running.client.get("/v3/account/user/privileges", headers=headers), "UserPrivilegesResource")
    assert running.emulator.api_quota.used(running.emulator.config.default_app.client_id) == 1
