"""Scopes before the call: the shipped operation→scopes table matches CC's contract, and a
token whose scope claim lacks an operation's scope is refused before anything is sent
(the emulator's counters prove no request arrived)."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, overload

import anyio
import pytest

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.api import Client, Forbidden
from ctct.api._scopes import OPERATION_SCOPES
from ctct.api.scopes import check_scopes, find_operation, token_scopes
from ctct.errors import AuthorizationRequired, InsufficientScope
from ctct.stores import open_store
from tests.api.conftest import ApiEnv, MakeApiEnv
from tests.contract import load_swagger

ROOT = Path(__file__).resolve().parents[2]
READ_ONLY = ("account_read", "offline_access")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_scopes", ROOT / "tools/gen_scopes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_scopes", module)
    spec.loader.exec_module(module)
    return module


# -- the table ---------------------------------------------------------------------------


def test_the_table_is_the_contract() -> None:
    swagger = load_swagger()
    gen = _generator()
    assert gen.build_table(swagger) == OPERATION_SCOPES
    # The shipped module is exactly what the generator writes (nobody edited it by hand).
    shipped = (ROOT / "src/ctct/api/_scopes.py").read_text(encoding="utf-8")
    assert shipped == gen.render(OPERATION_SCOPES, str(swagger["info"]["version"]))
    # Independently of the generator: every OAuth operation's scopes, read here directly.
    operations = 0
    for path, item in swagger["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operations += 1
            oauth = [
                scopes
                for alternative in operation.get("security") or []
                for scheme, scopes in alternative.items()
                if scheme.startswith("oauth2")
            ]
            named = {scope for scopes in oauth for scope in scopes}
            expected = () if not oauth or not all(oauth) else tuple(sorted(named))
            assert OPERATION_SCOPES[(method.upper(), path)] == expected, (method, path)
    assert operations == len(OPERATION_SCOPES) > 100
    assert OPERATION_SCOPES[("GET", "/account/summary")] == ("account_read",)
    assert OPERATION_SCOPES[("GET", "/account/user/privileges")] == ()  # no scope at all
    assert OPERATION_SCOPES[("GET", "/partner/accounts")] == ()  # partner authorizer


def test_the_generator_refuses_what_the_check_cannot_express() -> None:
    gen = _generator()
    both = {"paths": {"/x": {"get": {"security": [{"oauth2_access_code": ["a", "b"]}]}}}}
    with pytest.raises(ValueError, match="several scopes"):
        gen.build_table(both)


def test_paths_match_templates_methods_and_literals_first() -> None:
    contact = str(uuid.uuid4())
    one = find_operation("GET", f"/contacts/{contact}")
    assert one is not None and one.template == "/contacts/{contact_id}"
    assert one.scopes == ("contact_data",)
    counts = find_operation("GET", "/contacts/counts?include=x")  # a literal beats {contact_id}
    assert counts is not None and counts.template == "/contacts/counts"
    deleted = find_operation("DELETE", f"/contacts/{contact}")
    assert deleted is not None and deleted.method == "DELETE"
    schedules = find_operation("GET", "/emails/activities/abc-123/schedules")
    assert schedules is not None
    assert schedules.template == "/emails/activities/{campaign_activity_id}/schedules"
    assert schedules.scopes == ("campaign_data",)
    assert find_operation("PATCH", "/account/summary") is None  # no such operation
    assert find_operation("GET", "/emails/activities//schedules") is None  # empty: no id
    assert find_operation("GET", "/no/such/thing") is None


def test_the_check_itself() -> None:
    check_scopes("GET", "/contacts", {"contact_data"})
    check_scopes("GET", "/contacts", None)  # no scope claim: sent as today
    check_scopes("GET", "/partner/accounts", set())  # partner operation: no scope
    check_scopes("GET", "/nothing/known", set())  # not in the contract: the server judges
    with pytest.raises(InsufficientScope) as caught:
        check_scopes("POST", "/emails", {"account_read", "offline_access"}, profile="shop")
    error = caught.value
    assert isinstance(error, AuthorizationRequired)
    assert error.exit_code == 16 and error.code == "insufficient_scope"
    assert error.missing == ("campaign_data",) and error.missing_scope == "campaign_data"
    assert error.operation == "POST /emails"
    assert (
        "`ctct auth login --profile shop --scopes 'account_read campaign_data offline_access'`"
        in error.message
    )
    assert "nothing was sent" in error.message


def test_scope_claims_of_tokens() -> None:
    import base64
    import json

    def jwt(claims: dict[str, Any]) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"eyJhbGciOiJSUzI1NiJ9.{part}.c2ln"

    assert token_scopes(jwt({"scp": ["a", "b"]})) == frozenset({"a", "b"})
    assert token_scopes(jwt({"scope": "a b"})) == frozenset({"a", "b"})  # RFC 9068
    assert token_scopes(jwt({"sub": "x"})) is None  # no claim: not checked
    assert token_scopes("opaque-token-value") is None


# -- against the emulator ----------------------------------------------------------------


def _requests(env: ApiEnv, route: str) -> int:
    return sum(env.api_counts().get(route, {}).values())


def test_a_call_without_the_scope_is_refused_before_sending(make_api_env: MakeApiEnv) -> None:
    # safety: src/ctct/api/client.py: self._refuse_unscoped(self.manager.token(), request)
    env = make_api_env(scopes=READ_ONLY)
    client = env.client()
    assert client.account.summary()["encoded_account_id"]
    before = env.api_counts()
    with pytest.raises(InsufficientScope) as caught:
        list(client.contacts.iter())
    assert caught.value.missing == ("contact_data",)
    assert "ctct auth login --scopes 'account_read contact_data offline_access'" in str(
        caught.value
    )
    with pytest.raises(InsufficientScope):
        client.request("GET", f"/v3/contacts/{uuid.uuid4()}")  # a templated path
    with pytest.raises(InsufficientScope):
        client.request("POST", "/contact_lists", json={"name": "x"})
    assert env.api_counts() == before  # not one request reached the server
    assert _requests(env, "GET /v3/contacts") == 0
    client.request("GET", "/account/user/privileges")  # needs no scope: sent


def test_the_async_client_checks_too(make_api_env: MakeApiEnv) -> None:
    # safety: src/ctct/api/client.py: self._refuse_unscoped(await self.manager.atoken(), request)
    env = make_api_env(scopes=READ_ONLY)

    async def main() -> None:
        async with env.async_client() as client:
            await client.account.summary()
            with pytest.raises(InsufficientScope):
                await client.contacts.get(str(uuid.uuid4()))

    anyio.run(main)
    assert _requests(env, "GET /v3/contacts/{contact_id}") == 0
    assert _requests(env, "GET /v3/account/summary") == 1


class _Watched(Sequence[dict[str, Any]]):
    """Contacts that record whether anyone read a row."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.read = 0

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        self.read += 1
        return self.rows[index]

    def __iter__(self) -> Any:
        for row in self.rows:
            self.read += 1
            yield row


def test_a_bulk_job_fails_before_its_first_row(make_api_env: MakeApiEnv) -> None:
    # safety: src/ctct/api/client.py: self._check_scopes(self.manager.token(), operation.operations)
    env = make_api_env(scopes=READ_ONLY)
    client = env.client()
    rows = _Watched([{"email": f"row{i}@example.com"} for i in range(3)])
    with pytest.raises(InsufficientScope):
        client.activities.json_import(rows, [str(uuid.uuid4())])
    assert rows.read == 0  # not one row was even serialized
    with pytest.raises(InsufficientScope):
        client.activities.export_contacts({})
    assert not any(route.startswith("POST /v3/activities") for route in env.api_counts())


def test_tokens_without_a_scope_claim_are_sent_as_today(make_api_env: MakeApiEnv) -> None:
    env = make_api_env(scopes=READ_ONLY)
    store = open_store(env.store_url)
    try:
        (key,) = store.keys()
        record = store.load(key)
        assert record is not None
        tokens = TokenSet.from_json(record.data)
    finally:
        store.close()
    # An opaque access token (as another provider, or CC one day, might issue): ctct
    # cannot know its scopes, so the call goes to the server, which judges it.
    opaque = TokenSet.imported(
        issuer=tokens.issuer,
        client_id=tokens.client_id,
        now=env.clock(),
        access_token="opaque-access-token-value",
        refresh_token=tokens.refresh_token,
        expires_at=env.clock() + 3600,
    )
    manager = env.manager()
    manager.save(opaque)
    client = Client(manager, transport=env.handle.transport, limits=env.limits, clock=env.clock)
    try:
        # The emulator refuses the opaque token (401), ctct refreshes once and replays:
        # the replay carries a real token without contact_data, refused with a 403.
        with pytest.raises(Forbidden) as caught:
            client.request("GET", "/contacts")
    finally:
        client.close()
    assert caught.value.missing_scope == "contact_data"  # the server's 403, explained
    assert env.api_counts()["GET /v3/contacts"] == {"401": 1, "403": 1}


def test_other_providers_tokens_are_not_checked(make_api_env: MakeApiEnv) -> None:
    # The table is CC's contract: a generic provider's API is not assumed to follow it.
    env = make_api_env(scopes=READ_ONLY)
    cc = Provider.constant_contact(env.handle.base_url)
    generic = Provider(
        issuer=cc.issuer,
        token_endpoint=cc.token_endpoint,
        jwks_uri=cc.jwks_uri,
        audience=cc.audience,
        api_base_url=cc.api_base_url,
        storage_issuer=cc.storage_issuer,  # the same stored grant
    )
    manager = TokenManager(
        provider=generic,
        client=ClientCredentials(env.handle.client_id, Secret(env.handle.client_secret or "")),
        store=open_store(env.store_url),
        http=env.handle.http_client(),
        clock=env.clock,
        owns_store=True,
    )
    env.managers.append(manager)
    client = Client(manager, transport=env.handle.transport, limits=env.limits, clock=env.clock)
    try:
        with pytest.raises(Forbidden):
            client.request("GET", "/contacts")
    finally:
        client.close()
    assert env.api_counts()["GET /v3/contacts"] == {"403": 1}
