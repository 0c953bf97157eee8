"""Where the emulator must answer as CC does (issue 13's fidelity fixes): every operation
of the contract routed (a 501 in CC's shape for one not modelled, never a misleading 404),
``Accept`` negotiation (406), the gateway's ``x-amzn-*`` headers, ``Location`` on a list
delete, and ``document_properties`` on an email activity PUT."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from ctct.emulator.api import accept, routing
from ctct.emulator.api.contract_ops import CONTRACT_OPERATIONS
from ctct.emulator.api.gateway import Caller, Operation, Resource
from tests.conftest import Running, StartEmulator
from tests.contract import load_swagger, validate_error_array
from tests.emulator.api_support import FAST, auth, error, ok, unauthorized
from tests.emulator.test_api_emails import Api

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def api(start_emulator: StartEmulator) -> Running:
    return start_emulator(**FAST)


def swagger_operations() -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in load_swagger()["paths"].items()
        for method in item
        if method != "parameters"
    ]


# -- every operation of the contract is routed ----------------------------------------


def test_the_operation_list_is_the_contracts() -> None:
    listed = [(m, path) for path, methods in CONTRACT_OPERATIONS for m in methods]
    assert listed == swagger_operations()
    assert len(listed) == 128


def test_every_contract_operation_is_routed(start_emulator: StartEmulator) -> None:
    """No operation of the contract meets the unknown-path 404 or a 405: each is served
    or answers the 501 placeholder."""
    running = start_emulator(**FAST)
    headers = {**auth(running.emulator), "Accept": "application/json"}
    placeholders = 0
    for method, path in swagger_operations():
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        response = running.client.request(method, "/v3" + concrete, headers=headers, json=body)
        assert response.status_code != 405, (method, path, response.text)
        if response.status_code == 404:
            found = response.json()
            if isinstance(found, dict) and str(found.get("error_key", "")).startswith(
                "reportingsvc"
            ):
                keys = [found["error_key"]]  # reporting answers CC's single-object StatsError
            else:
                keys = [e["error_key"] for e in validate_error_array(found)]
            assert "not_found" not in keys, (method, path, response.text)
        if response.status_code == 501:
            placeholders += 1
            error(response, 501, "not_implemented")
            assert f"{method} /v3{path}" in response.json()[0]["error_message"]
            assert response.headers["x-amzn-errortype"] == "NotImplementedException"
    # Every operation of the contract is modelled now: none is left to the placeholder
    # (test_a_placeholder_never_hides_behind_a_template still proves the 501 works).
    assert placeholders == 0


def test_a_placeholder_never_hides_behind_a_template(
    start_emulator: StartEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A contract with a fixed path under a served template, and a method the emulator
    # lacks on a served path: both answer 501, not the template's "malformed id" 404.
    extra = (("/contacts/never_modelled", ("GET",)), ("/contacts/{contact_id}", ("PATCH",)))
    monkeypatch.setattr(routing, "CONTRACT_OPERATIONS", (*CONTRACT_OPERATIONS, *extra))
    running = start_emulator(**FAST)
    headers = auth(running.emulator)
    fixed = running.client.get("/v3/contacts/never_modelled", headers=headers)
    error(fixed, 501, "not_implemented")
    assert "GET /v3/contacts/never_modelled" in fixed.json()[0]["error_message"]
    patched = running.client.patch(f"/v3/contacts/{uuid.uuid4()}", headers=headers, json={})
    error(patched, 501, "not_implemented")
    # Still CC's answers outside the contract, and the token is checked first.
    error(running.client.get("/v3/not_in_the_contract", headers=headers), 404, "not_found")
    error(running.client.delete("/v3/contacts", headers=headers), 405)
    unauthorized(running.client.get("/v3/contacts/never_modelled"))


def test_served_operations_take_precedence_and_fixed_paths_come_first() -> None:
    async def handler(request: Any, caller: Caller) -> Any:
        raise AssertionError("not called")

    served = [Resource("/things/{thing_id}", (Operation("GET", handler),))]
    contract = [("/things/{id}", ("GET", "PUT")), ("/things/count", ("GET",))]
    done = routing.complete(served, contract)
    assert [r.path for r in done] == ["/things/count", "/things/{thing_id}"]
    templated = done[1]
    get, put = templated.operation("GET"), templated.operation("PUT")
    assert get is not None and get.modelled and get.handler is handler
    assert put is not None and not put.modelled
    assert routing.unmodelled(done) == [("GET", "/things/count"), ("PUT", "/things/{thing_id}")]


# -- Accept (406) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "ok_"),
    [
        (None, True),
        ("", True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("*/*", True),
        ("application/*", True),
        ("text/html, application/json;q=0.1", True),
        ("text/html", False),
        ("application/xml", False),
        ("application/json;q=0", False),
        ("application/json;q=0, */*", False),  # the specific range decides
        ("text/*", False),
    ],
)
def test_accept_negotiation(header: str | None, ok_: bool) -> None:
    assert accept.acceptable(header, ("application/json",)) is ok_


def test_an_unservable_accept_gets_406(api: Running) -> None:
    headers = auth(api.emulator)
    for value in ("text/html", "application/xml", "application/json;q=0"):
        response = api.client.get("/v3/account/summary", headers={**headers, "Accept": value})
        error(response, 406, "not_acceptable")
        assert response.headers["x-amzn-errortype"] == "NotAcceptableException"
    for value in ("application/json", "*/*", "text/html, application/json;q=0.5"):
        response = api.client.get("/v3/account/summary", headers={**headers, "Accept": value})
        ok(response, "Customer")
    # The token is checked before content negotiation, as at CC's gateway.
    unauthorized(api.client.get("/v3/account/summary", headers={"Accept": "text/html"}))


# -- the gateway's headers ------------------------------------------------------------------


def test_amzn_headers(start_emulator: StartEmulator) -> None:
    running = start_emulator(api_rate_per_second=0.001, api_burst=2.0, api_daily_quota=3)
    headers = auth(running.emulator)
    first = running.client.get("/v3/account/summary", headers=headers)
    second = running.client.get("/v3/account/summary", headers=headers)
    for response in (first, second):
        assert response.status_code == 200
        assert UUID.match(response.headers["x-amzn-requestid"])
        assert "x-amzn-errortype" not in response.headers
    assert first.headers["x-amzn-requestid"] != second.headers["x-amzn-requestid"]
    denied = running.client.get("/v3/account/summary")
    assert denied.status_code == 401
    assert denied.headers["x-amzn-errortype"] == "UnauthorizedException"
    assert UUID.match(denied.headers["x-amzn-requestid"])
    throttled = running.client.get("/v3/account/summary", headers=headers)
    assert throttled.status_code == 429
    assert throttled.headers["x-amzn-errortype"] == "TooManyRequestsException"
    running.emulator.api_limiter.reset()
    running.client.get("/v3/account/summary", headers=headers)  # the quota's third
    quota = running.client.get("/v3/account/summary", headers=headers)
    assert quota.status_code == 429 and quota.json()["error_key"] == "quota_exceeded"
    assert quota.headers["x-amzn-errortype"] == "LimitExceededException"
    # Not the OAuth server's: it is not behind the API gateway.
    jwks = running.client.get("/oauth2/aus1lm3ry9mF7x2Ja0h8/v1/keys")
    assert "x-amzn-requestid" not in jwks.headers


def test_amzn_headers_on_injected_faults(api: Running) -> None:
    api.emulator.faults.inject("api", "503")
    response = api.client.get("/v3/account/summary", headers=auth(api.emulator))
    assert response.status_code == 503
    assert response.headers["x-amzn-errortype"] == "ServiceUnavailableException"
    assert UUID.match(response.headers["x-amzn-requestid"])


# -- Location on a list delete ---------------------------------------------------------------


def test_list_delete_answers_location(api: Running) -> None:
    headers = auth(api.emulator)
    created = api.client.post("/v3/contact_lists", headers=headers, json={"name": "Doomed"})
    list_id = ok(created, "ContactList", 201)["list_id"]
    deleted = api.client.delete(f"/v3/contact_lists/{list_id}", headers=headers)
    body = ok(deleted, "ActivityDeleteListResponse", 202)
    location = deleted.headers["location"]
    assert location == f"{api.base_url}/v3/activities/{body['activity_id']}"
    polled = api.client.get(location, headers=headers)
    assert ok(polled, "Activity")["activity_id"] == body["activity_id"]


# -- document_properties on PUT /emails/activities/{id} --------------------------------------


def test_document_properties_are_accepted(api: Running) -> None:
    emails = Api(api)
    activity_id = emails.primary(emails.create("Legacy options"))
    properties = {
        "greeting_salutation": "Dear",
        "greeting_name_type": "F",
        "permission_reminder_enabled": "true",
        "permission_reminder": "You asked for our news.",
        "letter_format": "XHTML",  # read-only: ignored, as CC ignores what does not apply
    }
    current = emails.activity(activity_id)
    put = {
        k: current[k]
        for k in ("from_name", "from_email", "reply_to_email", "subject")
        if k in current
    }
    response = api.client.put(
        f"/v3/emails/activities/{activity_id}",
        headers=emails.headers,
        json={**put, "document_properties": properties},
    )
    ok(response, "EmailCampaignActivity")
    shown = emails.activity(activity_id, "document_properties")["document_properties"]
    assert shown == {k: v for k, v in properties.items() if k != "letter_format"}
    # A later PUT without them keeps them (a sub-resource, like html_content).
    again = api.client.put(f"/v3/emails/activities/{activity_id}", headers=emails.headers, json=put)
    ok(again, "EmailCampaignActivity")
    assert emails.activity(activity_id, "document_properties")["document_properties"] == shown
    for bad, says in (
        ({"greeting_salutation": "x" * 51}, "at most 50"),
        ({"greeting_name_type": 1}, "must be a string"),
        ({"no_such_property": "x"}, "not a property"),
    ):
        refused = api.client.put(
            f"/v3/emails/activities/{activity_id}",
            headers=emails.headers,
            json={**put, "document_properties": bad},
        )
        items = error(refused, 400)
        assert any(says in i["error_message"] for i in items), items
