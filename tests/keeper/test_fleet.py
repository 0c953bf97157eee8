"""The fleet on real PostgreSQL and Redis: 3 keeper processes, many accounts, short
tokens; then a replica SIGKILLed mid-run, and PostgreSQL restarted mid-run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctct.stores import open_store
from ctct.testing import start_emulator
from tests.keeper.fleet import (
    Watch,
    double_refreshes,
    replica_processes,
    store_minted,
    token_outcomes,
    write_config,
)
from tests.servers import RedisServer, fresh_postgres_schema, fresh_redis_prefix, with_params

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


def test_three_replicas_keep_a_thousand_accounts_fresh(tmp_path: Path, postgres_url: str) -> None:
    accounts = 1000
    keeper_url = with_params(postgres_url, pool_max="12")
    with start_emulator(access_token_ttl=LIFETIME, token_rate_per_second=500) as emu:
        store = open_store(postgres_url)
        keys = store_minted(emu, store, accounts)
        config = write_config(
            tmp_path / "keeper.toml",
            emu.base_url,
            token_rate=500,
            store=keeper_url,
            concurrency=12,
        )
        with replica_processes(config, 3, tmp_path), Watch(store, keys).running() as watch:
            time.sleep(3 * LIFETIME)
        logs = "".join(p.read_text() for p in tmp_path.glob("replica-*.log"))
        assert "Traceback" not in logs, logs[-3000:]
        assert watch.expired == [], watch.expired[:10]
        assert double_refreshes(emu) == 0
        outcomes = token_outcomes(emu)
        assert outcomes.get("too_many_requests", 0) == 0
        assert outcomes.get("success", 0) >= accounts * 2, outcomes
        store.close()
