"""The ``ctct`` command line against a provider other than Constant Contact: the
emulator in its generic mode, found by discovery from ``CTCT_ISSUER`` (the environment
``ctct emulator --provider generic`` tells you to export). Device login, status, the
access token on the API, then logout revoking the grant at the provider."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from ctct import _cc
from ctct._tokens import TokenSet
from ctct.stores import open_store
from ctct.testing import start_emulator
from tests.cli.conftest import TRACEBACK, Cli, isolated_env


@pytest.mark.parametrize("access_tokens", ["jwt", "opaque"])
def test_device_login_status_api_and_logout_through_discovery(
    tmp_path: Path, access_tokens: str
) -> None:
    with start_emulator(
        provider="generic",
        access_token_format=access_tokens,
        auto_approve=True,
        device_poll_interval=1,
    ) as emu:
        cli = Cli({**isolated_env(tmp_path), **emu.env()}, tmp_path)
        assert cli.env["CTCT_ISSUER"] == emu.base_url and "CTCT_BASE_URL" not in cli.env

        login = cli.run("auth", "login", "--device", "--scopes", "account_read contact_data")
        assert login.returncode == 0, login.stderr
        assert f"{emu.base_url}/activate" in login.stderr
        assert "Logged in" in login.stdout
        if access_tokens == "jwt":
            assert "alice@example.com" in login.stdout  # the verified token's subject

        status = cli.json("auth", "status")
        assert status["profile"] == "default"
        assert emu.base_url in str(status)

        token = cli.run("auth", "token")
        assert token.returncode == 0, token.stderr
        access = token.stdout.strip()
        assert ("." in access) is (access_tokens == "jwt")
        with httpx2.Client(base_url=emu.base_url) as http:
            headers = {"Authorization": f"Bearer {access}"}
            assert http.get("/v3/account/summary", headers=headers).status_code == 200

            stored = _stored(cli)
            assert stored.refresh_token is not None
            logout = cli.run("auth", "logout")
            assert logout.returncode == 0, logout.stderr
            assert "Logged out" in logout.stdout + logout.stderr
            assert TRACEBACK not in logout.stderr
            # Revoked at the provider: the grant, its access token, its refresh token.
            (grant,) = emu.grants()["grants"]
            assert grant["revoked"] is True
            assert http.get("/v3/account/summary", headers=headers).status_code == 401
            emu.advance_clock(1.1)  # the token endpoint allows 1 request/second
            refused = http.post(
                emu.token_url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": stored.refresh_token.reveal(),
                },
                auth=(emu.client_id, emu.client_secret or ""),
            )
            assert refused.json()["error"] == "invalid_grant"
        assert cli.grants() == []
        assert emu.counters()["token_requests"][_cc.DEVICE_CODE_GRANT]["success"] == 1


def _stored(cli: Cli) -> TokenSet:
    with open_store(cli.env["CTCT_STORE"]) as store:
        (key,) = store.keys()
        record = store.load(key)
        assert record is not None
        return TokenSet.from_json(record.data)
