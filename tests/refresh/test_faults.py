"""Faults on a fleet's store, on test-owned PostgreSQL and Redis servers (free ports):

- a lease holder SIGSTOPped past its lease, after its refresh was answered, then resumed;
- a host's link (store and emulator) cut mid-refresh, then restored;
- PostgreSQL restarted mid-storm; Redis killed and restarted mid-storm.

After each, no grant is lost; a second send of one refresh token is reported (the log,
the attempt record, the account state); the account ends recovered (``ok``/``recovered``)
or flagged with the reason (``needs_login``/``rotation_lost``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ctct._lineage import fingerprint
from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._refresh import RefreshPolicy, decode
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.emulator import EmulatorConfig
from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctct.emulator.server import EmulatorServer
from ctct.stores import GrantKey, SealedStore, open_store
from ctct.stores.postgres import initialize_schema
from tests.refresh.conftest import login_with_device_flow
from tests.refresh.worker import command
from tests.servers import PostgresCluster, RedisServer, fresh_redis_prefix, with_params
from tests.support.tcp_proxy import TcpProxy

LEASE = 4.0  # the workers' lease: short, so a stopped or cut-off holder loses it soon
HOLDER_FLAGS = ("--lease-duration", str(LEASE), "--http-timeout", "2", "--save-margin", "1")


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PostgresCluster]:
    # Outside pytest's 0700 temporary tree: initdb runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="ctct-faults-pg-"))
    root.chmod(0o755)
    cluster = PostgresCluster(root / "pg")
    cluster.init()
    cluster.start()
    yield cluster
    cluster.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


def pg_schema(cluster: PostgresCluster) -> str:
    url = with_params(cluster.url, schema=f"ctct_t_{secrets.token_hex(6)}")
    initialize_schema(url)
    return url


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Fleet:
    """An emulator, the grant's key and a way to look at both sides."""

    def __init__(self, server: EmulatorServer, store_url: str) -> None:
        self.server = server
        self.base_url = server.base_url
        self.store_url = store_url
        self.provider = Provider.constant_contact(self.base_url)
        self.key = GrantKey("default", self.provider.storage_issuer, DEFAULT_CLIENT_ID)
        self.http = httpx2.Client(base_url=self.base_url)

    @property
    def emulator_port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def live_refresh_sha(self) -> str:
        grants = self.http.get("/__emulator/grants").json()["grants"]
        assert len(grants) == 1
        return str(grants[0]["refresh_token_sha256"])

    def refresh_outcomes(self) -> dict[str, int]:
        counts = self.server.emulator.counters.snapshot()["token_requests"]
        return dict(counts.get("refresh_token", {}))

    def stored(self, store: SealedStore) -> TokenSet:
        record = store.load(self.key)
        assert record is not None, "the grant vanished from the store"
        return decode(record).tokens

    def manager(self, store: SealedStore, **policy: Any) -> TokenManager:
        """Another host's manager: direct links to the store and the emulator."""
        return TokenManager(
            provider=self.provider,
            client=ClientCredentials(DEFAULT_CLIENT_ID, Secret(DEFAULT_CLIENT_SECRET)),
            store=store,
            policy=RefreshPolicy(margin=0.0, **policy),
            timeout=2.0,
            process_cache=False,
        )


@contextmanager
def fleet(store_url: str, **config: Any) -> Iterator[Fleet]:
    settings = EmulatorConfig(auto_approve=True, token_rate_per_second=1000.0).with_changes(
        **config
    )
    with EmulatorServer(settings) as server:
        made = Fleet(server, store_url)
        login_with_device_flow(made.base_url, store_url)
        try:
            yield made
        finally:
            made.http.close()


def start_holder(fleet: Fleet, store_url: str, via: TcpProxy) -> subprocess.Popen[str]:
    """A worker process making one forced refresh, reaching the emulator through ``via``."""
    argv = command(
        "refresh", fleet.base_url, store_url, "--via", via.url("http://127.0.0.1:{port}")
    )
    worker = subprocess.Popen([*argv, *HOLDER_FLAGS], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready"
    return worker


def outcome(worker: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = worker.communicate(timeout=90)
    assert worker.returncode == 0
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def wait_stopped(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.01)
    raise AssertionError("the worker did not stop")


def test_a_holder_stopped_past_its_lease_then_resumed(
    pg_cluster: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """The holder is stopped with the emulator's answer (the rotation) on its way; the
    next holder finds its attempt, resends the same refresh token (rejected: reported as
    "rotation lost"), and the resumed holder's tokens, the live ones, win on lineage."""
    # safety: src/ctct/_oauth_http.py: return
    # safety: src/ctct/_refresh.py: yield SetState("ok", "recovered", "resent refresh token refused")  # noqa: E501
    url = pg_schema(pg_cluster)
    store = open_store(url)
    with fleet(url) as emu, TcpProxy(emu.emulator_port) as api:
        first = emu.stored(store).refresh_token
        assert first is not None
        api.trip(b'"refresh_token"', toward="client")  # the token endpoint's answer
        holder = start_holder(emu, url, api)
        try:
            assert api.tripped.wait(20), "the holder never refreshed"
            os.kill(holder.pid, signal.SIGSTOP)
            wait_stopped(holder.pid)
            api.link.restore()  # the answer waits in the stopped holder's socket
            attempt = store.load_attempt(emu.key)
            assert attempt is not None and attempt.parent == fingerprint(first)

            with caplog.at_level(logging.WARNING, logger="ctct.refresh"):
                emu.manager(store, lock_timeout=30).refresh(force=True)  # waits out the lease
            # The second send was detected before it was made, and its rejection flagged.
            assert "never finished; it may already be spent" in caplog.text
            state = store.load_state(emu.key)
            assert state is not None and (state.code, state.reason) == (
                "needs_login",
                "rotation_lost",
            )
            assert emu.refresh_outcomes() == {"success": 1, "invalid_grant": 1}
        finally:
            os.kill(holder.pid, signal.SIGCONT)
        assert outcome(holder) == {"ok": True, "refresh_token": True}

        # The resumed holder's tokens (the server's current ones) replaced the spent record.
        tokens = emu.stored(store)
        assert tokens.refresh_token is not None
        assert sha(tokens.refresh_token.reveal()) == emu.live_refresh_sha()
        state = store.load_state(emu.key)
        assert state is not None and (state.code, state.reason) == ("ok", "recovered")
        assert store.load_attempt(emu.key) is None
    store.close()


@pytest.mark.parametrize("grace", [0, 30], ids=["no-grace", "grace"])
@pytest.mark.parametrize("cut", ["host", "provider"])
def test_a_hosts_link_cut_mid_refresh_then_restored(
    redis_server: RedisServer, grace: int, cut: str
) -> None:
    """Host A's links (``host``: store and emulator; ``provider``: the emulator only) go
    down just as the token endpoint answers: A never learns of the rotation. Host B takes
    the lease once A's runs out (or A gives it up after its timeout), finds A's attempt
    and resends: within a grace period that recovers the grant, without one it is
    flagged "rotation lost". A, back online, changes nothing."""
    # safety: src/ctct/_refresh.py: answered = False
    url, cleanup = fresh_redis_prefix(redis_server)
    store = open_store(url)
    try:
        with (
            fleet(url, refresh_token_grace_seconds=grace) as emu,
            TcpProxy(emu.emulator_port) as api_link,
            TcpProxy(redis_server.port, api_link.link if cut == "host" else None) as store_link,
        ):
            first = emu.stored(store).refresh_token
            assert first is not None
            api_link.trip(b'"refresh_token"', toward="client")
            cut_off = url.replace(f":{redis_server.port}/", f":{store_link.port}/")
            holder = start_holder(emu, cut_off, api_link)
            assert api_link.tripped.wait(20), "the holder never refreshed"
            assert not api_link.link.up
            time.sleep(0.2)
            attempt = store.load_attempt(emu.key)
            assert attempt is not None and attempt.parent == fingerprint(first)

            other = emu.manager(store, lock_timeout=30)
            other.refresh(force=True)  # waits out A's lease, then resends
            api_link.link.restore()
            result = outcome(holder)
            assert result == {"ok": False, "type": "TransientProviderError", "code": "timeout"}

            tokens = emu.stored(store)
            state = store.load_state(emu.key)
            assert state is not None
            if grace:
                assert tokens.refresh_token is not None
                assert sha(tokens.refresh_token.reveal()) == emu.live_refresh_sha()
                assert (state.code, state.reason) == ("ok", "recovered")
                assert emu.refresh_outcomes() == {"success": 2}
            else:
                # The answer A never heard was the only copy of the rotated token: the
                # record keeps the grant, marks its refresh token spent, and says why.
                assert tokens.refresh_token is None and tokens.spent == fingerprint(first)
                assert (state.code, state.reason) == ("needs_login", "rotation_lost")
                assert emu.refresh_outcomes() == {"success": 1, "invalid_grant": 1}
            assert store.load_attempt(emu.key) is None
    finally:
        store.close()
        cleanup()


# -- restarts mid-storm -------------------------------------------------------------------

PROCESSES = 4
THREADS = 4
TTL = 6
EXPIRIES = 3


def storm_through_restart(store_url: str, restart: Callable[[], None]) -> None:
    """A storm (``PROCESSES`` x ``THREADS`` asking for a token at every expiry, rotating
    refresh tokens, the emulator revoking the whole grant on reuse) during which the
    store is restarted while the second expiry's refresh is on its way."""
    with fleet(store_url, access_token_ttl=TTL, refresh_token_reuse="grant") as emu:
        with TcpProxy(emu.emulator_port) as api:
            store = open_store(store_url)
            expires_at = emu.stored(store).expires_at
            assert expires_at is not None
            start_at = max(time.time() + 10.0, expires_at + 0.5)
            until = start_at + (EXPIRIES - 1) * TTL + TTL / 2
            via = api.url("http://127.0.0.1:{port}")
            flags = [f"--threads={THREADS}", f"--start-at={start_at}", f"--until={until}"]
            flags.append(f"--via={via}")
            workers = [
                subprocess.Popen(
                    command("storm", emu.base_url, store_url, *flags),
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(PROCESSES)
            ]
            try:
                while not emu.refresh_outcomes() and time.time() < start_at + TTL - 1:
                    time.sleep(0.05)  # the first expiry's refresh (workers start slowly)
                assert emu.refresh_outcomes() == {"success": 1}
                api.notify(b"grant_type=refresh_token", toward="server")
                assert api.seen.wait(TTL + 5), "no second refresh"
                restart()
                reports = [outcome(w) for w in workers]
            finally:
                for worker in workers:
                    worker.kill()
        failures = [f for r in reports for f in r["failures"]]
        assert sum(r["failed"] for r in reports) == 0, failures
        # One refresh per expiry: the restart caused no second send.
        assert emu.refresh_outcomes() == {"success": EXPIRIES}
        tokens = emu.stored(store)
        assert tokens.refresh_token is not None
        assert sha(tokens.refresh_token.reveal()) == emu.live_refresh_sha()
        assert store.load_attempt(emu.key) is None
        assert store.load_state(emu.key) is None
        store.close()


@pytest.mark.slow
def test_postgresql_restarted_mid_storm(pg_cluster: PostgresCluster) -> None:
    storm_through_restart(pg_schema(pg_cluster), pg_cluster.restart)


@pytest.mark.slow
def test_redis_killed_and_restarted_mid_storm(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        storm_through_restart(with_params(server.url, prefix="ctct"), server.kill_and_restart)
    finally:
        server.stop()
