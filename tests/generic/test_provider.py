"""The emulator's generic provider mode, through ctct's discovery path (``CTCT_ISSUER``):
its discovery documents, RFC 9068 JWT and opaque access tokens, device login, refresh
with rotation, the API's 401 answered by one refresh and a replay. Constant Contact mode
stays as it was (no discovery document, CC's paths and claims)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ctct import _cc
from ctct._oauth_http import discover
from ctct._oauth_requests import revoke_request
from ctct._settings import Settings
from ctct.emulator import Emulator, EmulatorConfig, generic_tokens
from ctct.flows import AuthorizationUrlReady, Login
from ctct.testing import inprocess_emulator, start_emulator
from tests.generic.conftest import Generic, api

DAY = 86_400
RFC9068_CLAIMS = {"iss", "aud", "sub", "client_id", "scope", "iat", "exp", "jti", "auth_time"}


def _b64_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_discovery_documents_name_the_generic_endpoints(generic: Generic) -> None:
    base = generic.base_url
    with httpx2.Client(base_url=base) as http:
        oidc = http.get("/.well-known/openid-configuration")
        rfc8414 = http.get("/.well-known/oauth-authorization-server")
        assert oidc.status_code == rfc8414.status_code == 200
        assert oidc.json() == rfc8414.json()
        document = oidc.json()
        # Nothing answers at Constant Contact's paths in this mode.
        assert http.post(_cc.TOKEN_PATH, data={"grant_type": "refresh_token"}).status_code == 404
        assert http.get(_cc.JWKS_PATH).status_code == 404
    assert document["issuer"] == base
    assert document["token_endpoint"] == f"{base}/oauth2/token"
    assert document["device_authorization_endpoint"] == f"{base}/oauth2/device_authorization"
    assert document["revocation_endpoint"] == f"{base}/oauth2/revoke"
    assert document["jwks_uri"] == f"{base}/oauth2/jwks"
    assert _cc.DEVICE_CODE_GRANT in document["grant_types_supported"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "offline_access" in document["scopes_supported"]
    # ctct builds its provider profile from it, as it would for any provider.
    with httpx2.Client() as http:
        provider = discover(http, base)
    assert provider.issuer == provider.storage_issuer == base
    assert provider.token_endpoint == document["token_endpoint"]
    assert not provider.is_constant_contact
    assert generic.handle.provider == "generic" and generic.handle.issuer == base
    assert generic.handle.token_url == document["token_endpoint"]


def test_constant_contact_mode_is_unchanged() -> None:
    with start_emulator() as emu, httpx2.Client(base_url=emu.base_url) as http:
        assert http.get("/.well-known/openid-configuration").status_code == 404
        assert http.get("/.well-known/oauth-authorization-server").status_code == 404
        assert http.get(_cc.JWKS_PATH).status_code == 200
        assert emu.provider == "constant-contact" and emu.issuer == _cc.ISSUER
        assert emu.token_url == emu.base_url + _cc.TOKEN_PATH
        assert "CTCT_BASE_URL" in emu.env() and "CTCT_ISSUER" not in emu.env()


def test_opaque_tokens_need_the_generic_mode() -> None:
    with pytest.raises(ValueError, match="--provider generic"):
        Emulator(EmulatorConfig(access_token_format="opaque"))
    with pytest.raises(ValueError, match="provider must be"):
        Emulator(EmulatorConfig(provider="okta"))  # type: ignore[arg-type]


def test_device_login_gets_an_rfc9068_or_an_opaque_access_token(generic: Generic) -> None:
    result = generic.device_login()
    tokens = result.tokens
    assert tokens.access_token is not None and tokens.refresh_token is not None
    assert tokens.scopes >= {"account_read", "contact_data", "offline_access"}
    assert tokens.expires_at == pytest.approx(generic.clock() + DAY, abs=5)
    token = tokens.access_token.reveal()
    if generic.format == "opaque":
        # Random and meaningless: no JWS structure, nothing decodable, no subject.
        assert "." not in token and len(token) >= 43
        with pytest.raises((ValueError, binascii.Error)):
            _b64_json(token)
        assert result.subject is None
        return
    header_part, payload_part, _ = token.split(".")
    header = _b64_json(header_part)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]
    claims = _b64_json(payload_part)
    assert set(claims) == RFC9068_CLAIMS
    assert claims["iss"] == generic.base_url
    assert claims["aud"] == generic.base_url + "/v3"
    assert claims["client_id"] == generic.handle.client_id
    assert claims["sub"] == result.subject == "alice@example.com"
    assert set(claims["scope"].split()) == {"account_read", "contact_data", "offline_access"}
    assert claims["exp"] - claims["iat"] == DAY
    # Signed by a key the discovery document's jwks_uri publishes.
    with httpx2.Client() as http:
        keys = KeySet.import_key_set(http.get(f"{generic.base_url}/oauth2/jwks").json())
    assert jwt.decode(token, keys, algorithms=["RS256"]).claims == claims


def test_refresh_rotates_and_a_401_is_answered_by_one_refresh_and_a_replay(
    generic: Generic,
) -> None:
    first = generic.device_login().tokens
    with generic.manager() as manager, api(generic, manager) as client:
        assert manager.token() == first.access_token.reveal()  # type: ignore[union-attr]
        assert client.get("/v3/account/summary").json()["organization_name"] == "Alice's Bakery"
        # The provider revokes the access token (RFC 7009): the API refuses it, ctct
        # refreshes once and replays.
        generic.clock.advance(1.1)  # the token endpoint allows 1 request/second
        with httpx2.Client() as http:
            revoked = http.send(
                revoke_request(manager.provider, manager.client, first.access_token)  # type: ignore[arg-type]
            )
        assert revoked.status_code == 200
        generic.clock.advance(1.1)
        replayed = client.get("/v3/account/summary")
        assert [r.status_code for r in replayed.history] == [401]
        assert replayed.status_code == 200
        second = manager.tokens()
        assert second is not None and second.refresh_token != first.refresh_token
        assert generic.refreshes() == {"success": 1}
        # Expiry: the next call refreshes again, with the rotated refresh token.
        generic.clock.advance(DAY + 1)
        assert client.get("/v3/account/summary").status_code == 200
        third = manager.tokens()
        assert third is not None and third.refresh_token not in (None, second.refresh_token)
    assert generic.refreshes() == {"success": 2}
    events = generic.emu.counters.events("refresh")
    assert events[1]["presented_sha256"] == events[0]["issued_sha256"]


def test_the_api_refuses_what_the_provider_did_not_issue(generic: Generic) -> None:
    result = generic.device_login()
    token = result.tokens.access_token.reveal()  # type: ignore[union-attr]
    with httpx2.Client(base_url=generic.base_url) as http:

        def status(bearer: str) -> int:
            headers = {"Authorization": f"Bearer {bearer}"}
            return http.get("/v3/account/summary", headers=headers).status_code

        assert status(token) == 200
        assert status(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) == 401
        generic.clock.advance(DAY)  # expired at the server (opaque: its own record)
        assert status(token) == 401


def test_an_id_token_is_not_an_access_token(generic: Generic) -> None:
    """RFC 9068 section 4: the resource server checks ``typ``, so an ID token (same
    keys, same issuer) is refused as a bearer token; its ``iss`` is this issuer."""
    client_id = generic.handle.client_id
    with httpx2.Client(base_url=generic.base_url) as http:
        device = http.post(
            "/oauth2/device_authorization",
            data={"client_id": client_id, "scope": "openid account_read offline_access"},
        ).json()
        generic.clock.advance(1.1)
        body = http.post(
            "/oauth2/token",
            data={
                "client_id": client_id,
                "grant_type": _cc.DEVICE_CODE_GRANT,
                "device_code": device["device_code"],
            },
        ).json()
        id_token, access_token = body["id_token"], body["access_token"]
        assert _b64_json(id_token.split(".")[1])["iss"] == generic.base_url
        for bearer, expected in ((id_token, 401), (access_token, 200)):
            headers = {"Authorization": f"Bearer {bearer}"}
            assert http.get("/v3/account/summary", headers=headers).status_code == expected
    assert generic_tokens.verify(generic.emu, id_token) is None


def test_the_in_process_emulator_has_the_generic_mode_too() -> None:
    with inprocess_emulator(provider="generic", access_token_format="opaque") as emu:
        with emu.http_client() as http:
            document = http.get("/.well-known/oauth-authorization-server").json()
            provider = discover(http, emu.base_url)
        assert document["issuer"] == emu.issuer == emu.base_url
        assert provider.token_endpoint == emu.token_url == f"{emu.base_url}/oauth2/token"
        assert emu.env()["CTCT_ISSUER"] == emu.base_url
        assert "CTCT_AUDIENCE" not in emu.env()  # opaque tokens have no audience to check


def test_code_flow_through_the_sign_in_page_at_the_generic_paths(tmp_path: Path) -> None:
    """The paste flow (authorization code + PKCE) against the generic mode, with the
    person's sign-in done on the emulator's own page (its form posts back to this mode's
    authorize path)."""
    with start_emulator(provider="generic") as emu:
        env = {**emu.env(), "CTCT_STORE": f"sqlite:///{tmp_path}/tokens.db"}
        (tmp_path / "config.toml").touch()
        settings = Settings.load(env=env, config_path=tmp_path / "config.toml")
        urls: list[str] = []

        def on_event(event: object) -> None:
            if isinstance(event, AuthorizationUrlReady):
                urls.append(event.url)

        def person(prompt: str) -> str:
            with httpx2.Client() as browser:
                page = browser.get(urls[-1])
                action = re.search(r"action='([^']+)'", page.text)
                request_id = re.search(r"name='request_id' value='([^']+)'", page.text)
                assert action and request_id and action[1] == "/oauth2/authorize"
                answer = browser.post(
                    emu.base_url + action[1],
                    data={
                        "request_id": request_id[1],
                        "username": "bob@example.com",
                        "password": "bob-password",
                        "decision": "approve",
                    },
                )
            assert answer.status_code == 303
            return answer.headers["location"]

        with Login.from_settings(settings, scopes=["account_read"], on_event=on_event) as login:
            result = login.paste(person)
    assert urls[0].startswith(f"{emu.base_url}/oauth2/authorize?")
    assert result.flow == "paste" and result.subject == "bob@example.com"
    assert result.tokens.refresh_token is not None
