"""The refresh storm across test hosts: 16 processes x 8 threads, spread over 3 hosts
that share nothing but the store, ask for a token the moment it expires, over 3 expiries
of a 10-second token with rotating refresh tokens; the emulator revokes the whole grant
when a rotated refresh token is reused, so a double refresh would fail every later call.
One refresh per expiry and no failed call, on PostgreSQL and on Redis, and once with the
hosts' wall clocks 90 s apart either way (only the store server's clock may decide)."""

from __future__ import annotations

import subprocess
import time

import pytest

from ctct.emulator import EmulatorConfig
from tests.fleet.hosts import Fleet
from tests.fleet.support import emulator_on, login, shared_env
from tests.refresh.storm import (
    PROCESSES,
    TTL,
    assert_one_refresh_per_expiry,
    read_reports,
    start,
    storm_command,
)
from tests.servers import RedisServer, fresh_redis_prefix

EXPIRIES = 3


def run_storm(fleet: Fleet, store: str, offsets: tuple[float, ...]) -> None:
    config = EmulatorConfig(auto_approve=True, access_token_ttl=TTL, refresh_token_reuse="grant")
    with emulator_on(fleet, config) as emu:
        store, env = fleet.local_url(store), shared_env()
        expires_at = login(fleet.hosts[0], emu.base_url, store, env)
        workers, clocks = [], []
        for i in range(PROCESSES):
            host, offset = fleet.hosts[i % len(fleet.hosts)], offsets[i % len(offsets)]
            workers.append(
                host.popen(
                    storm_command(emu.base_url, store),
                    env=env,
                    clock_offset=offset,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            clocks.append(offset)
        until = start(workers, expires_at, EXPIRIES, clocks)
        reports = read_reports(workers, timeout=until - time.time() + 60)
        assert_one_refresh_per_expiry(reports, emu.server.emulator, EXPIRIES)


@pytest.mark.slow
def test_a_storm_across_hosts_refreshes_once_per_expiry(fleet: Fleet, fleet_store: str) -> None:
    run_storm(fleet, fleet_store, offsets=(0.0,))


@pytest.mark.slow
def test_a_storm_across_hosts_whose_clocks_are_90_s_apart(
    fleet: Fleet, fleet_redis: RedisServer
) -> None:
    # Each record carries its writer's offset to Redis's clock; each host reads its times
    # on its own clock (ctct._store_clock).
    url, cleanup = fresh_redis_prefix(fleet_redis)
    try:
        run_storm(fleet, url, offsets=(-90.0, 0.0, 90.0))
    finally:
        cleanup()
