"""Two processes sharing a PostgreSQL store, their wall clocks 90 s behind and 90 s ahead
of the machine's (the time shim), ask for a token through two expiries of a 10-second
token. Whichever refreshes, the other reads the new expiry on its own clock: no second
refresh (the emulator revokes the whole grant when a rotated refresh token is reused)
and no expired token served (each process is handed every new token)."""

from __future__ import annotations

import time

import pytest

from ctct.emulator import EmulatorConfig
from ctct.emulator.server import EmulatorServer
from tests.refresh.conftest import login_with_device_flow
from tests.refresh.storm import (
    TTL,
    assert_one_refresh_per_expiry,
    read_reports,
    start,
    storm_workers,
)
from tests.servers import fresh_postgres_schema
from tests.timeshim import clock_env

OFFSETS = (-90.0, 90.0)
EXPIRIES = 2


@pytest.mark.slow
def test_hosts_90_s_apart_refresh_once_and_never_serve_an_expired_token() -> None:
    config = EmulatorConfig(auto_approve=True, access_token_ttl=TTL, refresh_token_reuse="grant")
    store, cleanup = fresh_postgres_schema()
    try:
        with EmulatorServer(config) as server:
            tokens = login_with_device_flow(server.base_url, store)
            assert tokens.expires_at is not None
            envs: list[dict[str, str] | None] = [clock_env(offset) for offset in OFFSETS]
            workers = storm_workers(server.base_url, store, envs)
            # safety: src/ctct/_tokens.py: moved = shift(0.0 if writer is None else _required_time(writer), reader_offset)  # noqa: E501
            until = start(workers, tokens.expires_at, EXPIRIES, list(OFFSETS))
            reports = read_reports(workers, timeout=until - time.time() + 60)
            assert_one_refresh_per_expiry(reports, server.emulator, EXPIRIES)
    finally:
        cleanup()
