"""The fleet on real PostgreSQL and Redis: 3 keeper processes, many accounts, short
tokens; then a replica SIGKILLed mid-run, and PostgreSQL restarted mid-run."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.stores import GrantKey, Store, open_store
from ctct.testing import EmulatorHandle
from tests.keeper.fleet import (
    Watch,
    double_refreshes,
    emulator_process,
    replica_processes,
    states_of,
    store_minted,
    token_outcomes,
    write_config,
)
from tests.servers import (
    PostgresCluster,
    RedisServer,
    fresh_postgres_schema,
    fresh_redis_prefix,
    with_params,
)

LIFETIME = 20


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url, cleanup = fresh_postgres_schema()
    yield url
    cleanup()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    url, cleanup = fresh_redis_prefix(redis_server)
    yield url
    cleanup()


def keeper_config(tmp_path: Path, emu: EmulatorHandle, url: str) -> Path:
    return write_config(
        tmp_path / "keeper.toml",
        emu.base_url,
        token_rate=500,
        store=with_params(url, pool_max="20") if url.startswith("postgresql") else url,
        concurrency=12,
    )


def assert_clean_logs(tmp_path: Path) -> None:
    logs = "".join(p.read_text() for p in tmp_path.glob("replica-*.log"))
    assert "Traceback" not in logs, logs[-3000:]


def test_three_replicas_keep_a_thousand_accounts_fresh(tmp_path: Path, postgres_url: str) -> None:
    accounts = 1000
    flags = ("--access-token-ttl", str(LIFETIME), "--token-rate", "500")
    with emulator_process(tmp_path, *flags) as emu:
        store = open_store(postgres_url)
        keys = store_minted(emu, store, accounts)
        config = keeper_config(tmp_path, emu, postgres_url)
        with (
            replica_processes(config, 3, tmp_path) as keepers,
            Watch(store, keys).running() as watch,
        ):
            time.sleep(3 * LIFETIME)
            # The replicas go on refreshing (about 50/s) while their counters are read:
            # the token endpoint's count is read just before and just after them.
            before = token_outcomes(emu).get("success", 0)
            counted = sum(k.refreshed() for k in keepers)
            after = token_outcomes(emu).get("success", 0)
        assert_clean_logs(tmp_path)
        assert watch.expired == [], watch.expired[:10]
        assert double_refreshes(emu) == 0
        outcomes = token_outcomes(emu)
        assert outcomes.get("too_many_requests", 0) == 0
        assert outcomes.get("success", 0) >= accounts * 2, outcomes
        # The replicas' counters, summed, are the token endpoint's own count, give or
        # take the refreshes in flight (answered but not yet counted) while reading.
        in_flight = 3 * 12
        assert before - in_flight <= counted <= after, (before, counted, after)
        store.close()


def in_flight_attempts(store: Store, keys: list[GrantKey]) -> set[GrantKey]:
    return {k for k in keys if store.load_attempt(k) is not None}


def check_affected(store: Store, keys: list[GrantKey], affected: set[GrantKey]) -> None:
    states = states_of(store, keys)
    for key in keys:
        code, reason = states[key.profile]
        if key in affected:
            assert (code, reason) in {
                ("ok", ""),
                ("ok", "recovered"),
                ("needs_login", "rotation_lost"),
            }
        else:
            assert code == "ok", (key.profile, code, reason)
        assert store.load(key) is not None  # no grant is ever deleted


@pytest.mark.parametrize("grace", [0, 30], ids=["no-grace", "grace"])
def test_a_replica_killed_mid_run(tmp_path: Path, redis_url: str, grace: int) -> None:
    accounts = 300
    flags = ("--access-token-ttl", str(LIFETIME), "--token-rate", "500")
    with emulator_process(tmp_path, *flags, "--refresh-token-grace", str(grace)) as emu:
        store = open_store(redis_url)
        keys = store_minted(emu, store, accounts)
        config = keeper_config(tmp_path, emu, redis_url)
        with (
            replica_processes(config, 3, tmp_path) as keepers,
            Watch(store, keys).running() as watch,
        ):
            time.sleep(LIFETIME * 1.2)
            keepers[1].kill()  # mid-run, refreshes in flight
            left_behind = in_flight_attempts(store, keys)
            time.sleep(LIFETIME * 0.9)
        doubles = double_refreshes(emu)
        # A second send happens only for what the dead replica had in flight.
        assert doubles <= len(left_behind)
        check_affected(store, keys, left_behind)
        lost = [k for k, (code, _) in states_of(store, keys).items() if code == "needs_login"]
        if grace:
            assert lost == []  # the grace period lets the next holder's refresh through
        unaffected = {k.profile for k in keys} - {k.profile for k in left_behind}
        assert {p for p, _ in watch.expired} <= {k.profile for k in left_behind}
        assert unaffected
        store.close()


def test_postgresql_restarted_mid_run(tmp_path: Path) -> None:
    from ctct.stores.postgres import initialize_schema

    # Outside pytest's 0700 temporary tree: initdb runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="ctct-keeper-pg-"))
    root.chmod(0o755)
    cluster = PostgresCluster(root / "pg")
    cluster.init()
    cluster.start()
    try:
        url = with_params(cluster.url, schema="ctct_restart")
        initialize_schema(url)
        flags = ("--access-token-ttl", str(LIFETIME), "--token-rate", "500")
        with emulator_process(tmp_path, *flags) as emu:
            store = open_store(url)
            keys = store_minted(emu, store, 200)
            config = keeper_config(tmp_path, emu, url)
            with replica_processes(config, 3, tmp_path), Watch(store, keys).running() as watch:
                time.sleep(LIFETIME)
                left_behind = in_flight_attempts(store, keys)
                cluster.restart()
                time.sleep(LIFETIME)
                left_behind |= in_flight_attempts(store, keys)
            # (the store's pool rides out the restart: callers wait, nothing fails)
            assert watch.expired == [], watch.expired[:5]
            assert double_refreshes(emu) <= len(left_behind)
            check_affected(store, keys, left_behind)
            store.close()
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
