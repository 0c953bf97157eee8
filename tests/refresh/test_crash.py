"""Crash safety: a process refreshing in a loop is SIGKILLed at seeded random moments.

After each kill the store must hold the emulator's current refresh token, or the one
just before it only when the emulator's log shows it answered a refresh the killed
process never saved (the known window: from the response's last byte to the durable
write). Anything else fails. The window's hit rate and length are printed (run with
``-s``) for the closing report.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._refresh import decode
from ctct._secret import Secret
from ctct.emulator import EmulatorConfig
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.emulator.server import EmulatorServer
from ctct.stores import GrantKey, open_store
from tests.refresh.conftest import login_with_device_flow


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _run_cycles(tmp_path: Path, cycles: int, seed: int, grace: int = 0) -> None:
    store_url = f"sqlite:///{tmp_path}/tokens.db"
    window_log = tmp_path / "window.log"
    rng = random.Random(seed)
    config = EmulatorConfig(
        auto_approve=True, token_rate_per_second=1000.0, refresh_token_grace_seconds=grace
    )
    in_hand = in_flight = clean = recovered = 0
    with EmulatorServer(config) as server, httpx2.Client(base_url=server.base_url) as http:
        key = GrantKey(
            "default", Provider.constant_contact(server.base_url).storage_issuer, DEFAULT_CLIENT_ID
        )
        login_with_device_flow(server.base_url, store_url)
        for cycle in range(cycles):
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.refresh.worker",
                    "crash",
                    "--base-url",
                    server.base_url,
                    "--client-id",
                    DEFAULT_CLIENT_ID,
                    "--client-secret",
                    DEFAULT_CLIENT_SECRET,
                    "--store",
                    store_url,
                    "--window-log",
                    str(window_log),
                    "--no-rate",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready", f"cycle {cycle}: worker failed"
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(worker.pid, 9)
            worker.wait()
            time.sleep(0.05)  # let the emulator finish a request already in flight

            with open_store(store_url) as store:
                record = store.load(key)
            assert record is not None, f"cycle {cycle}: the grant vanished from the store"
            stored = decode(record).tokens.refresh_token
            assert stored is not None, f"cycle {cycle}: the refresh token was discarded"
            stored_sha = _sha(stored.reveal())
            grants = http.get("/__emulator/grants").json()["grants"]
            live = [g for g in grants if not g["revoked"]]
            assert len(live) == 1
            current = live[0]["refresh_token_sha256"]
            if stored_sha == current:
                clean += 1
                continue
            events = server.emulator.counters.events("refresh")
            last = events[-1]
            assert last["presented_sha256"] == stored_sha and last["issued_sha256"] == current, (
                f"cycle {cycle}: the store holds neither the current refresh token nor the "
                "one just before it with an unsaved answer"
            )
            # Where did the kill land? After the response arrived (the window between
            # its last byte and the durable write) or while it was still on its way.
            lines = window_log.read_text().splitlines()
            if lines and lines[-1] == "R":
                in_hand += 1
            else:
                in_flight += 1
            if grace:
                # Within the provider's grace period the previous refresh token still
                # works: the next refresh (any process) recovers the grant.
                with _manager(server.base_url, store_url) as recovering:
                    recovering.refresh(force=True)
                recovered += 1
                continue
            # The grant is lost (rotating tokens): authorize again and go on.
            http.post(f"/__emulator/grants/{live[0]['grant_id']}/revoke", json={})
            login_with_device_flow(server.base_url, store_url)

    windows = [float(line[2:]) for line in window_log.read_text().splitlines() if line[:1] == "S"]
    assert windows, "no refresh completed in any cycle"
    print(
        f"\ncrash safety: {cycles} kills: {clean} left the current refresh token; "
        f"{in_hand} landed between the response and the durable write; {in_flight} landed "
        f"while the answered refresh was still on its way back; {len(windows)} refreshes "
        f"completed; response->durable write median {statistics.median(windows) * 1e3:.2f} "
        f"ms, max {max(windows) * 1e3:.2f} ms"
        + (f"; grace {grace} s: {recovered} recovered by the next refresh" if grace else "")
    )


def test_sigkill_during_refresh_cycles_keeps_the_current_refresh_token(tmp_path: Path) -> None:
    _run_cycles(tmp_path, cycles=50, seed=20261130)


def test_with_a_rotation_grace_period_every_kill_is_recovered(tmp_path: Path) -> None:
    _run_cycles(tmp_path, cycles=30, seed=42, grace=30)


def _manager(base_url: str, store_url: str) -> TokenManager:
    return TokenManager(
        provider=Provider.constant_contact(base_url),
        client=ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET)),
        store=open_store(store_url),
        owns_store=True,
    )


@pytest.mark.long
def test_sigkill_longer_run(tmp_path: Path) -> None:
    _run_cycles(tmp_path, cycles=300, seed=7)
