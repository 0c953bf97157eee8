"""Fair shares across test hosts: a greedy profile (``bulk``, share 0.5) calls the API
from two hosts with many threads, a modest one (``web``, no share) from the third; with
the limiter on PostgreSQL, ``bulk`` never gets more than half of the key's 4/s and
``web`` keeps the other half, with no 429."""

from __future__ import annotations

import subprocess
from typing import Any

from ctct.emulator import EmulatorConfig
from tests.fleet.hosts import Fleet
from tests.fleet.support import (
    api_command,
    api_statuses,
    emulator_on,
    login,
    shared_env,
    start_together,
)
from tests.refresh.storm import read_reports
from tests.servers import fresh_postgres_schema

RATE = 4.0
SHARE = 0.5
SECONDS = 12.0


def test_a_greedy_profile_cannot_push_another_below_its_share(
    fleet: Fleet, fleet_postgres: str
) -> None:
    url, cleanup = fresh_postgres_schema(fleet_postgres)
    try:
        counts = run_profiles(fleet, url)
    finally:
        cleanup()
    bulk, web, statuses = counts
    assert set(statuses) == {"200"}, statuses
    # The greedy profile: at most its share of the clients' 3.92/s (plus its first).
    assert bulk <= SHARE * RATE * 0.98 * SECONDS + 1, counts
    # The modest one keeps the rest, late wake-ups on this busy machine aside.
    assert web >= 0.9 * (1 - SHARE) * RATE * SECONDS, counts


def run_profiles(fleet: Fleet, store_url: str) -> tuple[int, int, dict[str, int]]:
    config = EmulatorConfig(auto_approve=True, token_rate_per_second=1_000.0)
    with emulator_on(fleet, config) as emu:
        store, env = fleet.local_url(store_url), shared_env()
        bulk_host, other_bulk_host, web_host = fleet.hosts
        login(bulk_host, emu.base_url, store, env, profile="bulk")
        login(web_host, emu.base_url, store, env, profile="web")
        bulk = api_command(
            emu.base_url, store, "--profile", "bulk", "--share", str(SHARE), threads=4
        )
        web = api_command(emu.base_url, store, "--profile", "web", threads=2)
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        workers = [
            *(h.popen(bulk, env=env, **pipes) for h in (bulk_host, other_bulk_host) for _ in "ab"),
            web_host.popen(web, env=env, **pipes),
        ]
        start_at = start_together(workers, SECONDS)
        reports = read_reports(workers, timeout=SECONDS + 60)
        statuses = api_statuses(emu.server.emulator)
    assert [r["failures"] for r in reports] == [{}] * len(workers)

    # Answers within the window only: a thread that asked just before the end may
    # wait its turn (and be answered) after it.
    def within(report: dict[str, Any]) -> int:
        return sum(start_at <= t <= start_at + SECONDS for t in report["answered"])

    return sum(within(r) for r in reports[:-1]), within(reports[-1]), statuses
