"""``split_hosts``: CC's authorization server, identity host and API on three origins, so
a client that sends a request to the wrong host fails here as it would at CC. Runs over
real sockets (three ports) and in process (three socket-less origins, one transport)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from ctct import _cc
from ctct.testing import EmulatorHandle, inprocess_emulator, start_emulator
from tests.emulator.api_support import auth

SCOPE = "account_read contact_data offline_access"


@pytest.fixture(params=["socket", "inprocess"])
def split(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    starter = start_emulator if request.param == "socket" else inprocess_emulator
    with starter(
        split_hosts=True, auto_approve=True, device_poll_interval=0, token_rate_per_second=100.0
    ) as handle:
        yield handle


def client(handle: EmulatorHandle) -> httpx2.Client:
    return handle.http_client(base_url="http://unused.invalid")


def test_three_origins(split: EmulatorHandle) -> None:
    origins = {split.authz_origin, split.identity_origin, split.api_origin}
    assert len(origins) == 3 and split.split_hosts
    assert split.base_url == split.authz_origin
    assert split.token_url.startswith(split.authz_origin)
    assert split.jwks_url == split.identity_origin + _cc.JWKS_PATH
    assert split.api_url == split.api_origin + "/v3"
    assert split.env() == {
        "CTCT_AUTH_URL": split.authz_origin,
        "CTCT_IDENTITY_URL": split.identity_origin,
        "CTCT_API_URL": split.api_origin,
        "CTCT_CLIENT_ID": split.client_id,
        "CTCT_CLIENT_SECRET": split.client_secret,
    }
    # A handle made from the base URL alone learns the origins from the control API.
    if split.transport is None:
        with EmulatorHandle(split.base_url) as plain:
            assert (plain.identity_origin, plain.api_origin) == (
                split.identity_origin,
                split.api_origin,
            )
    provider = split.provider_profile()
    assert provider.token_endpoint == split.token_url
    assert provider.jwks_uri == split.jwks_url and provider.api_base_url == split.api_url


def test_each_host_serves_only_its_paths(split: EmulatorHandle) -> None:
    token = auth(split.emulator)  # type: ignore[arg-type]
    with client(split) as http:
        # The API host: /v3 only; anything else is the gateway's 403.
        assert http.get(split.api_url + "/account/summary", headers=token).status_code == 200
        for path in (_cc.TOKEN_PATH, _cc.JWKS_PATH, "/__emulator/config", "/", "/v4/x"):
            response = http.request("GET", split.api_origin + path)
            assert response.status_code == 403, path
            assert response.content == b'{"message":"Forbidden"}'
            assert response.headers["x-amzn-errortype"] == "ForbiddenException"
            assert response.headers["x-amzn-requestid"]
        # The identity host: the JWKS (and the token alias), nothing else.
        assert http.get(split.jwks_url).json()["keys"]
        for path in (_cc.AUTHORIZE_PATH, "/v3/account/summary", "/__emulator/config"):
            response = http.get(split.identity_origin + path)
            assert response.status_code == 404, path
            assert "identity host" in response.json()["error_description"]
        # The authorization server: OAuth, pages and control; not the JWKS nor /v3.
        assert http.get(split.authz_origin + "/__emulator/config").status_code == 200
        jwks_here = http.get(split.authz_origin + _cc.JWKS_PATH)
        assert jwks_here.status_code == 404
        assert "identity" in jwks_here.json()["error_description"]
        api_here = http.get(split.authz_origin + "/v3/account/summary", headers=token)
        assert api_here.status_code == 404
        assert "api host" in api_here.json()["error_description"]


def test_a_login_crosses_the_three_hosts(split: EmulatorHandle) -> None:
    with client(split) as http:
        device = http.post(
            split.device_authorization_url, data={"client_id": split.client_id, "scope": SCOPE}
        ).json()
        assert device["verification_uri"].startswith(split.authz_origin)
        tokens = http.post(
            split.token_url,
            data={
                "grant_type": _cc.DEVICE_CODE_GRANT,
                "client_id": split.client_id,
                "device_code": device["device_code"],
            },
        ).json()
        bearer = {"Authorization": "Bearer " + tokens["access_token"]}
        assert http.get(split.api_url + "/account/summary", headers=bearer).status_code == 200
        alias = split.identity_origin + _cc.TOKEN_ALIAS_PATH
        refreshed = http.post(
            alias,
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(split.client_id, split.client_secret or ""),
        )
        assert refreshed.status_code == 200, refreshed.text


def test_split_hosts_are_constant_contacts_not_the_generic_providers() -> None:
    from ctct.emulator import Emulator, EmulatorConfig

    with pytest.raises(ValueError, match="--split-hosts or --provider generic"):
        Emulator(EmulatorConfig(split_hosts=True, provider="generic"))
