"""The refresh storm's parts, shared by the one-host storm (tests/refresh/test_storm.py)
and the storm across test hosts (tests/fleet/test_storm.py): the worker's command line,
reading its reports, and the verdict from the emulator's counters."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from typing import Any

from ctct.emulator import Emulator
from tests.refresh.worker import command

PROCESSES = 16
THREADS = 8
TTL = 10


def storm_command(base_url: str, store: str) -> list[str]:
    """``tests.refresh.worker storm``: THREADS threads asking for a token, between the
    times ``start`` sends it once it is ready."""
    return command("storm", base_url, store, "--threads", str(THREADS))


def storm_workers(
    base_url: str, store: str, envs: list[dict[str, str] | None]
) -> list[subprocess.Popen[str]]:
    """One storm worker per environment (None: this process's), waiting for ``start``."""
    return [
        subprocess.Popen(
            storm_command(base_url, store),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for env in envs
    ]


def start(
    workers: list[subprocess.Popen[str]],
    first_expiry: float,
    expiries: int,
    offsets: list[float] | None = None,
) -> float:
    """Once every worker is ready, start them together: at the first expiry (or at once
    if it has passed: the first storm), through the next ``expiries - 1``; each worker
    counts on its own clock (``offsets``: how far each is off the machine's). Returns
    when they stop, on the machine's clock."""
    for worker in workers:
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline().strip() == "ready", "a storm worker did not start"
    start_at = max(time.time() + 0.5, first_expiry + 0.5)
    until = start_at + (expiries - 1) * TTL + TTL / 2
    for worker, offset in zip(workers, offsets or [0.0] * len(workers), strict=True):
        assert worker.stdin is not None
        worker.stdin.write(f"{start_at + offset!r} {until + offset!r}\n")
        worker.stdin.flush()
    return until


def read_reports(workers: list[subprocess.Popen[str]], timeout: float) -> list[dict[str, Any]]:
    reports = []
    for worker in workers:
        out, _ = worker.communicate(timeout=timeout)
        assert worker.returncode == 0
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def assert_one_refresh_per_expiry(
    reports: list[dict[str, Any]], emulator: Emulator, expiries: int
) -> None:
    """No call failed, every worker kept asking and got each new token, and the token
    endpoint saw exactly one (successful) refresh per expiry, one expiry apart."""
    counters = emulator.counters.snapshot()["token_requests"]
    refresh_events = emulator.counters.events("refresh")
    failures = [f for r in reports for f in r["failures"]]
    assert sum(r["failed"] for r in reports) == 0, failures
    assert sum(r["calls"] for r in reports) > len(reports) * THREADS * expiries
    # Every worker was handed each new token: none kept serving an expired one.
    assert [r["tokens"] for r in reports] == [expiries] * len(reports)
    # Exactly one refresh per expiry, and nothing else reached the token endpoint.
    assert counters["refresh_token"] == {"success": expiries}, (counters, refresh_events)
    assert len(refresh_events) == expiries, refresh_events
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(refresh_events)]
    assert all(gap > TTL / 2 for gap in gaps), gaps
