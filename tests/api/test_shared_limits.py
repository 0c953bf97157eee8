"""Shared limits: 4 processes x 4 threads call the API for 20 seconds at CC's 4/s per
key; the emulator must answer no 429 at all. (The only long test: marked slow.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctct.emulator import EmulatorConfig
from ctct.stores.crypto import generate_key
from ctct.testing import start_emulator
from tests.api.conftest import FAST_CLIENT, ApiEnv

PROCESSES = 4
THREADS = 4
SECONDS = 20.0


@pytest.mark.slow
def test_processes_and_threads_share_the_budget_without_a_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTCT_STORE_KEY", generate_key())
    monkeypatch.setenv("CTCT_STORE_KEYRING", "0")
    config = EmulatorConfig(auto_approve=True, token_rate_per_second=1_000.0)  # API: 4/s
    with start_emulator(config) as handle:
        env = ApiEnv(handle, "socket", f"sqlite:///{tmp_path}/store.db", FAST_CLIENT)
        env.login()
        start_at = time.time() + 5.0
        until = start_at + SECONDS
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.api.worker",
                    "--base-url",
                    handle.base_url,
                    "--client-id",
                    handle.client_id,
                    "--client-secret",
                    handle.client_secret or "",
                    "--store",
                    env.store_url,
                    "--threads",
                    str(THREADS),
                    "--start-at",
                    str(start_at),
                    "--until",
                    str(until),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        reports = []
        for worker in workers:
            out, _ = worker.communicate(timeout=SECONDS + 60)
            assert worker.returncode == 0
            reports.append(json.loads(out.strip().splitlines()[-1]))
        statuses = env.statuses()
        env.close()
    assert [r["failures"] for r in reports] == [{}] * PROCESSES
    assert all(r["calls"] > 0 for r in reports)
    # Zero throttled answers, and every call the workers counted was answered 200.
    assert statuses == {"200": sum(r["calls"] for r in reports)}, statuses
