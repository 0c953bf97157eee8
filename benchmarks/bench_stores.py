"""Store backends side by side: SQLite, PostgreSQL and Redis (issue 9).

For each: the lease + load + compare-and-swap save round trip a refresh makes (target:
under 5 ms median on loopback), one rate-limit take, and the fresh-token ``token()``
hot path of a ``TokenManager`` on that store (in memory: target within 10% of
SQLite's). PostgreSQL is the local server (``CTCT_TEST_POSTGRES``, a throwaway schema);
Redis a ``redis-server`` started for the run. Medians of repeated runs, in one process.
The storm's wall time is reported by tests/refresh/test_storm.py's runs; ``ctct auth
token`` cold start by bench_cli_cold_start (the drivers are imported lazily).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers import RedisServer, fresh_postgres_schema, fresh_redis_prefix

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.stores import GrantKey, SealedStore, open_store, static_keys

KEY = GrantKey("bench", "https://bench.example", "client-bench")


def median_ms(step: Callable[[], object], rounds: int = 200) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def round_trip(store: SealedStore) -> Callable[[], object]:
    store.save(KEY, b"0", expected_version=None)

    def step() -> object:
        with store.lease(KEY, duration=30, timeout=5):
            record = store.load(KEY)
            assert record is not None
            return store.save(KEY, b"1", expected_version=record.version)

    return step


def hot_path_us(store: SealedStore) -> float:
    provider = Provider.constant_contact("http://127.0.0.1:1")
    manager = TokenManager(
        provider=provider,
        client=ClientCredentials("client-bench", None),
        store=store,
        profile="hot",
    )
    now = time.time()
    manager.save(
        TokenSet.imported(
            issuer=provider.storage_issuer,
            client_id="client-bench",
            now=now,
            access_token="at-bench",
            refresh_token="rt-bench",
            expires_at=now + 86_400,
        )
    )
    manager.token()
    loops = 200_000
    started = time.perf_counter()
    for _ in range(loops):
        manager.token()
    return (time.perf_counter() - started) / loops * 1e6


def main() -> None:
    keys = static_keys()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(Path(tmp) / "redis")
        redis_server.start()
        pg_url, pg_cleanup = fresh_postgres_schema()
        redis_url, redis_cleanup = fresh_redis_prefix(redis_server)
        stores = {
            "sqlite": open_store(f"sqlite:///{tmp}/tokens.db", key_provider=keys),
            "postgresql": open_store(pg_url, key_provider=keys),
            "redis": open_store(redis_url, key_provider=keys),
        }
        try:
            print(f"{'backend':<12}{'lease+load+CAS ms':>20}{'rate take ms':>14}{'token() us':>12}")
            for name, store in stores.items():
                trip = median_ms(round_trip(store))
                take = median_ms(lambda s=store: s.acquire_rate("bench", 1e9, 1e9))  # type: ignore[misc]
                hot = hot_path_us(store)
                print(f"{name:<12}{trip:>20.2f}{take:>14.3f}{hot:>12.3f}")
        finally:
            for store in stores.values():
                store.close()
            pg_cleanup()
            redis_cleanup()
            redis_server.stop()
