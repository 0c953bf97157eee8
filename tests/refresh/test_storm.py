"""Refresh storm: 16 processes x 8 threads ask for a valid access token the moment it
expires, over consecutive expiries of a 10-second token with rotating refresh tokens.
The emulator's counters must show exactly one refresh per expiry and no call may fail.

On SQLite (one host, 5 expiries) and on PostgreSQL and Redis (3 expiries, the emulator
revoking the whole grant when a rotated refresh token is reused, so a double refresh
would fail every later call)."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.emulator import EmulatorConfig
from ctct.emulator.server import EmulatorServer
from tests.refresh.conftest import login_with_device_flow
from tests.refresh.worker import command
from tests.servers import fresh_store

PROCESSES = 16
THREADS = 8
TTL = 10
EXPIRIES = 5


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def storm_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, cleanup = fresh_store(
        request.param, tmp_path, lambda: request.getfixturevalue("redis_server")
    )
    try:
        yield url
    finally:
        cleanup()


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
        # Start once every worker is up (by then the first token has expired: the first
        # storm), then run through the next EXPIRIES - 1 expiries.
        start_at = max(time.time() + 15.0, tokens.expires_at + 0.5)
        until = start_at + (expiries - 1) * TTL + TTL / 2
        flags = ("--threads", str(THREADS), "--start-at", str(start_at), "--until", str(until))
        workers = [
            subprocess.Popen(
                command("storm", server.base_url, store, *flags), stdout=subprocess.PIPE, text=True
            )
            for _ in range(PROCESSES)
        ]
        reports = []
        for worker in workers:
            out, _ = worker.communicate(timeout=until - time.time() + 60)
            assert worker.returncode == 0
            reports.append(json.loads(out.strip().splitlines()[-1]))
        counters = server.emulator.counters.snapshot()["token_requests"]
        refresh_events = server.emulator.counters.events("refresh")

    failures = [f for r in reports for f in r["failures"]]
    assert sum(r["failed"] for r in reports) == 0, failures
    assert sum(r["calls"] for r in reports) > PROCESSES * THREADS * expiries
    # Exactly one refresh per expiry, and nothing else reached the token endpoint.
    assert counters["refresh_token"] == {"success": expiries}
    assert len(refresh_events) == expiries
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(refresh_events)]
    assert all(gap > TTL / 2 for gap in gaps), gaps
