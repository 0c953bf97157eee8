"""An emulator re-created on the same data file keeps its grants, refresh tokens,
signing keys and codes: clients connected before a restart stay connected."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from ctct import _cc
from ctct.emulator import Emulator, EmulatorConfig, create_app
from ctct.emulator.inprocess import SyncASGITransport
from ctct.emulator.server import EmulatorServer
from ctct.emulator.tokens import access_token_active
from tests.conftest import Running
from tests.emulator.oauth_support import (
    APPS,
    LONG_LIVED_APP,
    exchange,
    get_code,
    refresh,
    tokens,
    verify_jwt,
)


@contextmanager
def emulator_on(path: Path) -> Iterator[Running]:
    config = EmulatorConfig(data_path=path, apps=APPS, token_rate_per_second=1000.0)
    emu = Emulator(config)
    client = httpx2.Client(
        transport=SyncASGITransport(create_app(emulator=emu)), base_url="http://127.0.0.1"
    )
    try:
        yield Running(emu, "http://127.0.0.1", client, "inprocess")
    finally:
        client.close()
        emu.close()


def test_grants_and_keys_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with emulator_on(path) as r:
        rotating = tokens(r)
        code = get_code(r, client_id=LONG_LIVED_APP.client_id)
        long_lived = exchange(
            r, code, auth=(LONG_LIVED_APP.client_id, LONG_LIVED_APP.client_secret or "")
        ).json()
        pending_code = get_code(r)  # issued but not yet exchanged
        rotated = refresh(r, rotating["refresh_token"]).json()
        grants_before = r.client.get("/__emulator/grants").json()["grants"]

    with emulator_on(path) as r:
        assert r.client.get("/__emulator/grants").json()["grants"] == grants_before
        # The access token issued before the restart still verifies against the JWKS
        # and is still honoured.
        claims = verify_jwt(r, rotating["access_token"])
        assert access_token_active(r.emulator, claims["jti"])
        # Rotation state survived: the old token is dead, the current one works.
        assert refresh(r, rotating["refresh_token"]).status_code == 400
        after = refresh(r, rotated["refresh_token"])
        assert after.status_code == 200, after.text
        verify_jwt(r, after.json()["access_token"])
        ll_auth = (LONG_LIVED_APP.client_id, LONG_LIVED_APP.client_secret or "")
        again = refresh(r, long_lived["refresh_token"], auth=ll_auth)
        assert again.json()["refresh_token"] == long_lived["refresh_token"]
        assert exchange(r, pending_code).status_code == 200


def test_restart_over_a_socket_keeps_refresh_working(tmp_path: Path) -> None:
    config = EmulatorConfig(data_path=tmp_path / "s.db", token_rate_per_second=1000.0)
    with EmulatorServer(config) as server, httpx2.Client(base_url=server.base_url) as client:
        r = Running(server.emulator, server.base_url, client, "socket")
        body = tokens(r)
    with EmulatorServer(config) as server, httpx2.Client(base_url=server.base_url) as client:
        r = Running(server.emulator, server.base_url, client, "socket")
        verify_jwt(r, body["access_token"])
        response = refresh(r, body["refresh_token"])
        assert response.status_code == 200, response.text
        assert response.json()["refresh_token"] != body["refresh_token"]
        assert client.get(_cc.JWKS_PATH).json()["keys"]
