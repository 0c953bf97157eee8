"""Provider profiles: Constant Contact's defaults, a base-URL override, explicit endpoints."""

from __future__ import annotations

import pytest

from ctct import _cc
from ctct._provider import Provider
from ctct._urls import is_loopback_host, origin_of, require_safe_url
from ctct.errors import ConfigError


def test_constant_contact_defaults() -> None:
    cc = Provider.constant_contact()
    assert cc.is_constant_contact
    assert cc.issuer == "https://identity.constantcontact.com/oauth2/aus1lm3ry9mF7x2Ja0h8"
    assert cc.audience == "https://api.cc.email/v3"
    assert cc.token_endpoint == "https://authz.constantcontact.com/oauth2/default/v1/token"
    assert cc.authorization_endpoint == (
        "https://authz.constantcontact.com/oauth2/default/v1/authorize"
    )
    assert cc.device_authorization_endpoint == (
        "https://authz.constantcontact.com/oauth2/default/v1/device/authorize"
    )
    assert cc.revocation_endpoint == "https://authz.constantcontact.com/oauth2/default/v1/revoke"
    assert cc.jwks_uri == (
        "https://identity.constantcontact.com/oauth2/aus1lm3ry9mF7x2Ja0h8/v1/keys"
    )
    assert cc.api_base_url == "https://api.cc.email/v3"
    assert cc.signing_algorithms == ("RS256",)
    assert cc.access_token_format == "jwt"
    assert cc.require_client_id_claim
    assert "cid" in cc.client_id_claims
    assert "offline_access" in cc.default_scopes
    assert cc.scopes_supported == _cc.SCOPES
    assert (cc.api_rate_per_second, cc.api_daily_quota, cc.token_rate_per_second) == (
        4.0,
        10_000,
        1.0,
    )
    assert cc.refresh_token_idle_ttl == 180 * 86_400
    assert cc.storage_issuer == cc.issuer
    assert cc.base_url is None


def test_base_url_points_every_host_at_one_origin() -> None:
    emu = Provider.constant_contact("http://127.0.0.1:8765/")
    base = "http://127.0.0.1:8765"
    assert emu.token_endpoint == base + "/oauth2/default/v1/token"
    assert emu.authorization_endpoint == base + "/oauth2/default/v1/authorize"
    assert emu.device_authorization_endpoint == base + "/oauth2/default/v1/device/authorize"
    assert emu.revocation_endpoint == base + "/oauth2/default/v1/revoke"
    assert emu.jwks_uri == base + "/oauth2/aus1lm3ry9mF7x2Ja0h8/v1/keys"
    assert emu.api_base_url == base + "/v3"
    # The emulator mints CC's literal claims, so these do not move...
    assert emu.issuer == _cc.ISSUER
    assert emu.audience == _cc.AUDIENCE
    # ...but grants are filed apart, so production tokens never go to the emulator.
    assert emu.storage_issuer != Provider.constant_contact().storage_issuer
    assert base in emu.storage_issuer
    assert emu.base_url == base
    other_port = Provider.constant_contact("http://127.0.0.1:8766")
    assert other_port.storage_issuer != emu.storage_issuer


def test_base_url_must_be_https_off_loopback() -> None:
    with pytest.raises(ConfigError) as info:
        Provider.constant_contact("http://emulator.internal:8765")
    assert "plain http" in info.value.message
    assert "CTCT_BASE_URL" in info.value.message
    for ok in (
        "https://cc-proxy.example",
        "http://localhost:1",
        "http://[::1]:2",
        "http://127.9.9.9",
    ):
        assert Provider.constant_contact(ok).token_endpoint.endswith(_cc.TOKEN_PATH)
    with pytest.raises(ConfigError, match="query"):
        Provider.constant_contact("https://cc-proxy.example/?x=1")


def test_explicit_endpoints_and_storage_issuer() -> None:
    same = Provider(issuer="https://id.example/t", token_endpoint="https://id.example/t/token")
    assert same.storage_issuer == "https://id.example/t"
    elsewhere = Provider(
        issuer="https://id.example/t", token_endpoint="https://proxy.example/token"
    )
    assert elsewhere.storage_issuer == "https://id.example/t#via=https://proxy.example"
    cc_named = Provider(issuer=_cc.ISSUER, token_endpoint="https://proxy.example/token")
    assert cc_named.storage_issuer != _cc.ISSUER


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"issuer": "https://id.example#frag"}, "fragment"),
        ({"issuer": "http://id.example"}, "plain http"),
        ({"token_endpoint": "ftp://id.example/token"}, "absolute http"),
        ({"jwks_uri": "http://keys.example/jwks"}, "JWKS URI"),
        ({"token_endpoint": "https://user:pw@id.example/token"}, "user name"),
        ({"signing_algorithms": ("none",)}, "cannot be used"),
        ({"signing_algorithms": ("HS256",)}, "cannot be used"),
        ({"access_token_format": "jwt"}, "no JWKS"),
    ],
)
def test_invalid_profiles(kwargs: dict[str, object], needle: str) -> None:
    options: dict[str, object] = {
        "issuer": "https://id.example",
        "token_endpoint": "https://id.example/token",
    }
    options.update(kwargs)
    with pytest.raises(ConfigError, match=needle):
        Provider(**options)  # type: ignore[arg-type]


def test_url_helpers() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("127.255.0.3")
    assert is_loopback_host("[::1]")
    assert is_loopback_host("LOCALHOST")
    assert not is_loopback_host("localhost.example.com")
    assert not is_loopback_host("10.0.0.1")
    assert not is_loopback_host("::ffff:8.8.8.8")
    assert origin_of("HTTPS://Id.Example:443/x") == "https://id.example"
    assert origin_of("http://[::1]:80/") == "http://[::1]"
    assert origin_of("http://127.0.0.1:8000/a") == "http://127.0.0.1:8000"
    with pytest.raises(ConfigError, match="not a valid URL"):
        require_safe_url("https://id.example:99999999/", what="issuer")


def test_each_of_ccs_three_hosts_can_point_at_its_own_origin() -> None:
    authz, identity, api = (f"http://127.0.0.1:{p}" for p in (7717, 7718, 7719))
    split = Provider.constant_contact(auth_url=authz, identity_url=identity, api_url=api + "/")
    assert split.token_endpoint == authz + _cc.TOKEN_PATH
    assert split.authorization_endpoint == authz + _cc.AUTHORIZE_PATH
    assert split.device_authorization_endpoint == authz + _cc.DEVICE_AUTHORIZE_PATH
    assert split.revocation_endpoint == authz + _cc.REVOKE_PATH
    assert split.jwks_uri == identity + _cc.JWKS_PATH
    assert split.api_base_url == api + "/v3"
    # Grants are filed under the token endpoint's origin: the same as with base_url, and
    # never CC's own key, so a production refresh token is never sent to this origin.
    # safety: src/ctct/_provider.py: storage = f"{_cc.ISSUER}#via={authz}"
    assert split.storage_issuer == Provider.constant_contact(authz).storage_issuer
    assert split.storage_issuer != Provider.constant_contact().storage_issuer
    assert authz in split.storage_issuer
    assert split.base_url == authz
    # Unset hosts fall back to base_url, else to CC's own.
    partial = Provider.constant_contact(authz, api_url=api)
    assert partial.jwks_uri == authz + _cc.JWKS_PATH and partial.api_base_url == api + "/v3"
    only_api = Provider.constant_contact(api_url=api)
    assert only_api.token_endpoint == _cc.AUTHZ_ORIGIN + _cc.TOKEN_PATH
    assert only_api.storage_issuer == _cc.ISSUER  # the grant still comes from CC itself
    with pytest.raises(ConfigError, match="CTCT_IDENTITY_URL"):
        Provider.constant_contact(identity_url="http://example.com")  # plain http, not loopback


@pytest.mark.parametrize(
    ("mode", "public", "confidential"),
    [("auto", True, False), ("always", True, True), ("never", False, False)],
)
def test_pkce_modes(mode: str, public: bool, confidential: bool) -> None:
    provider = Provider.constant_contact(pkce=mode)  # type: ignore[arg-type]
    assert provider.uses_pkce(confidential=False) is public
    assert provider.uses_pkce(confidential=True) is confidential
    assert Provider.constant_contact().pkce == "auto"  # CC: PKCE or a secret, not both
