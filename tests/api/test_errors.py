"""CC's error bodies become typed exceptions (against the emulator, and pure mapping)."""

from __future__ import annotations

import uuid

import httpx2
import pytest

from ctct.api import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    ServerError,
    Throttled,
    Unauthorized,
)
from ctct.api.errors import Requirement, error_from_response, next_utc_midnight
from ctct.errors import ApiError
from tests.api.conftest import MakeApiEnv


def response(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx2.Response:
    request = httpx2.Request("GET", "https://api.cc.email/v3/contacts?cursor=secretish")
    return httpx2.Response(status, content=body, headers=headers, request=request)


def test_array_bodies_map_to_their_classes() -> None:
    body = (
        b'[{"error_key":"contacts.api.validation.error","error_message":"email bad"},'
        b'{"error_key":"contacts.api.validation.error.x","error_message":"name long"}]'
    )
    error = error_from_response(response(400, body), now=0)
    assert isinstance(error, BadRequest)
    assert error.error_keys == ["contacts.api.validation.error", "contacts.api.validation.error.x"]
    assert "email bad" in error.message and "name long" in error.message
    assert error.url == "https://api.cc.email/v3/contacts"  # no query in messages
    for status, cls in [(404, NotFound), (409, Conflict), (500, ServerError), (503, ServerError)]:
        mapped = error_from_response(
            response(status, b'[{"error_key":"k","error_message":"m"}]'), now=0
        )
        assert type(mapped) is cls and mapped.status == status and mapped.code == "k"
    other = error_from_response(response(415, b"[]"), now=0)
    assert type(other).__mro__[1] is ApiError and other.exit_code == 14


def test_single_object_bodies() -> None:
    unauthorized = error_from_response(
        response(401, b'{"error_key":"unauthorized","error_message":"Unauthorized"}'), now=0
    )
    assert isinstance(unauthorized, Unauthorized) and unauthorized.exit_code == 4
    throttled = error_from_response(
        response(429, b'{"error_key":"throttled","error_message":"Too Many Requests"}'),
        now=0,
        retry_after=2.0,
    )
    assert isinstance(throttled, Throttled) and throttled.retryable and throttled.retry_after == 2.0
    now = 1_800_000_123.0
    quota = error_from_response(
        response(429, b'{"error_key":"quota_exceeded","error_message":"Limit Exceeded"}'), now=now
    )
    assert isinstance(quota, QuotaExceeded) and not quota.retryable and not quota.local
    assert quota.reset_at == next_utc_midnight(now) and quota.reset_at % 86_400 == 0
    assert quota.reset_at > now and quota.exit_code == 15
    assert "T00:00:00Z" in quota.message


def test_forbidden_names_the_missing_scope_or_privilege() -> None:
    scope = error_from_response(
        response(
            403, b'[{"error_key":"forbidden","error_message":"lacks the contact_data scope"}]'
        ),
        now=0,
    )
    assert isinstance(scope, Forbidden) and scope.missing_scope == "contact_data"
    privilege = error_from_response(
        response(403, b'[{"error_key":"forbidden","error_message":"lacks contacts:write"}]'), now=0
    )
    assert isinstance(privilege, Forbidden) and privilege.missing_privilege == "contacts:write"
    # An unhelpful body: decided from the operation's needs and the grant's scopes.
    need = Requirement(("contact_data",), "contacts:read")
    bare = response(403, b'{"message":"Forbidden"}')
    by_scope = error_from_response(bare, now=0, requirement=need, granted_scopes={"account_read"})
    assert isinstance(by_scope, Forbidden) and by_scope.missing_scope == "contact_data"
    by_role = error_from_response(bare, now=0, requirement=need, granted_scopes={"contact_data"})
    assert isinstance(by_role, Forbidden) and by_role.missing_privilege == "contacts:read"


def test_emulator_errors(make_api_env: MakeApiEnv) -> None:
    env = make_api_env()
    client = env.client()
    with pytest.raises(NotFound) as missing:
        client.contacts.get(str(uuid.uuid4()))
    assert missing.value.code == "contacts.api.not_found"
    with pytest.raises(BadRequest) as bad:
        client.contacts.create({"email_address": {"address": "not-an-email"}})
    assert bad.value.error_keys and all(
        k.endswith("validation.error") for k in bad.value.error_keys
    )
    client.contacts.create({"email_address": {"address": "dup@example.com"}})
    with pytest.raises(Conflict):
        client.contacts.create({"email_address": {"address": "dup@example.com"}})


def test_missing_privilege(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(default_username="carol@example.com")  # a campaign creator
    client = env.client()
    with pytest.raises(Forbidden) as caught:
        client.contacts.create({"email_address": {"address": "x@example.com"}})
    assert caught.value.missing_privilege == "contacts:write"
    assert caught.value.missing_scope is None


def test_unauthorized_after_the_grant_is_revoked(make_api_env: MakeApiEnv) -> None:
    env = make_api_env()
    client = env.client()
    client.account.summary()
    for grant in env.handle.grants()["grants"]:
        env.handle.revoke_grant(grant["grant_id"])
    with pytest.raises(Unauthorized) as caught:
        client.account.summary()
    assert caught.value.status == 401 and caught.value.exit_code == 4
    assert "ctct auth login" in caught.value.message
