"""A small refresh storm against the generic provider, every process finding it by
discovery (``CTCT_ISSUER``): 4 processes x 4 threads ask for a valid access token the
moment it expires, over 2 expiries of a short-lived token with rotating refresh tokens,
in JWT and in opaque mode. Exactly one refresh per expiry; no call fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctct._settings import Settings
from ctct.emulator.server import EmulatorServer
from ctct.flows import Login
from ctct.testing import EmulatorHandle
from tests.generic.conftest import SCOPES, generic_config

PROCESSES = 4
THREADS = 4
TTL = 4
EXPIRIES = 2


@pytest.mark.slow
@pytest.mark.parametrize("access_tokens", ["jwt", "opaque"])
def test_refresh_storm_through_discovery(tmp_path: Path, access_tokens: str) -> None:
    store = f"sqlite:///{tmp_path}/tokens.db"
    config = generic_config(access_tokens, access_token_ttl=TTL)
    with EmulatorServer(config) as server, EmulatorHandle(server.base_url) as handle:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CTCT_")},
            **handle.env(),
            "CTCT_SCOPES": SCOPES,
            "CTCT_STORE": store,
            "CTCT_STORE_KEYRING": "0",
            "CTCT_CONFIG": str(tmp_path / "config.toml"),
        }
        (tmp_path / "config.toml").touch()
        settings = Settings.load(env=env, config_path=tmp_path / "config.toml")
        with Login.from_settings(settings) as login:
            tokens = login.device(timeout=30).tokens
        assert tokens.expires_at is not None
        # Start once every worker is up (by then the first token has expired: the
        # first storm), then run through the next expiry.
        start_at = max(time.time() + 5.0, tokens.expires_at + 0.5)
        until = start_at + (EXPIRIES - 1) * TTL + TTL / 2
        command = [sys.executable, "-m", "tests.generic.worker", "--threads", str(THREADS)]
        timing = ["--start-at", str(start_at), "--until", str(until)]
        workers = [
            subprocess.Popen([*command, *timing], stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(PROCESSES)
        ]
        reports = []
        for worker in workers:
            out, _ = worker.communicate(timeout=until - time.time() + 60)
            assert worker.returncode == 0
            reports.append(json.loads(out.strip().splitlines()[-1]))
        counters = server.emulator.counters.snapshot()["token_requests"]

    failures = [f for r in reports for f in r["failures"]]
    assert sum(r["failed"] for r in reports) == 0, failures
    assert sum(r["calls"] for r in reports) > PROCESSES * THREADS * EXPIRIES
    assert all(r["tokens"] == EXPIRIES for r in reports), reports
    assert counters["refresh_token"] == {"success": EXPIRIES}
