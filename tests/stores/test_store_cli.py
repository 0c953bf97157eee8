"""``ctct store init`` / ``upgrade`` on a real PostgreSQL; opening a store never creates
a schema, it says which command to run."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from ctct.cli.store_cmd import store
from ctct.errors import StoreError
from ctct.stores import open_store, static_keys
from ctct.stores.postgres import drop_schema, initialize_schema
from tests.servers import postgres_base, with_params


def test_init_then_upgrade_and_replicas_racing() -> None:
    url = with_params(postgres_base(), schema=f"ctct_t_{secrets.token_hex(6)}")
    try:
        with pytest.raises(StoreError, match="ctct store init"):
            open_store(url, key_provider=static_keys())
        runner = CliRunner()
        created = runner.invoke(store, ["init", "--store", url])
        assert created.exit_code == 0, created.output
        assert "created the ctct schema" in created.output
        again = runner.invoke(store, ["upgrade", "--store", url])
        assert again.exit_code == 0
        assert "up to date" in again.output
    finally:
        drop_schema(url)


def test_replicas_initializing_at_once_make_the_schema_once() -> None:
    url = with_params(postgres_base(), schema=f"ctct_t_{secrets.token_hex(6)}")
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: initialize_schema(url), range(4)))
        assert sorted(before is None for before, _ in results) == [False, False, False, True]
        with open_store(url, key_provider=static_keys()) as opened:
            assert opened.keys() == []
    finally:
        drop_schema(url)
