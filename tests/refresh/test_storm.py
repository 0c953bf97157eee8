"""Refresh storm: 16 processes x 8 threads ask for a valid access token the moment it
expires, over consecutive expiries of a 10-second token with rotating refresh tokens.
The emulator's counters must show exactly one refresh per expiry and no call may fail.

On SQLite (one host, 5 expiries) and on PostgreSQL and Redis (3 expiries, the emulator
revoking the whole grant when a rotated refresh token is reused, so a double refresh
would fail every later call). The PostgreSQL and Redis runs on one host are soaks
(``long``): ``make test`` runs them across three test hosts (tests/fleet/test_storm.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.emulator import EmulatorConfig
from ctct.emulator.server import EmulatorServer
from tests.refresh.conftest import login_with_device_flow
from tests.refresh.storm import (
    PROCESSES,
    TTL,
    assert_one_refresh_per_expiry,
    read_reports,
    start,
    storm_workers,
)
from tests.servers import shared_store_url

EXPIRIES = 5


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.long),
        pytest.param("redis", marks=pytest.mark.long),
    ]
)
def storm_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    redis = lambda: request.getfixturevalue("redis_server")  # noqa: E731
    with shared_store_url(request.param, tmp_path, redis) as url:
        yield url


@pytest.mark.slow
def test_refresh_storm_refreshes_exactly_once_per_expiry(storm_store: str) -> None:
    store = storm_store
    sqlite = store.startswith("sqlite")
    expiries = EXPIRIES if sqlite else 3
    config = EmulatorConfig(
        auto_approve=True,
        access_token_ttl=TTL,
        refresh_token_reuse="token" if sqlite else "grant",
    )
    with EmulatorServer(config) as server:
        tokens = login_with_device_flow(server.base_url, store)
        assert tokens.expires_at is not None
        workers = storm_workers(server.base_url, store, [None] * PROCESSES)
        until = start(workers, tokens.expires_at, expiries)
        reports = read_reports(workers, timeout=until - time.time() + 60)
        assert_one_refresh_per_expiry(reports, server.emulator, expiries)
