"""The keeper against the emulator over loopback, on one host (SQLite)."""

from __future__ import annotations

import time
from pathlib import Path

from ctct.stores import open_store
from ctct.testing import start_emulator
from tests.keeper.fleet import (
    Watch,
    double_refreshes,
    replicas,
    store_minted,
    token_outcomes,
    write_config,
)


def test_three_replicas_keep_every_account_fresh(tmp_path: Path) -> None:
    with start_emulator(access_token_ttl=20, token_rate_per_second=100) as emu:
        url = f"sqlite:///{tmp_path}/tokens.db"
        store = open_store(url)
        keys = store_minted(emu, store, 40)
        config = write_config(tmp_path / "keeper.toml", emu.base_url, token_rate=100)
        with replicas(config, url, 3), Watch(store, keys).running() as watch:
            time.sleep(60)  # three lifetimes
        outcomes = token_outcomes(emu)
        assert watch.samples > 40 * 10
        assert watch.expired == []
        assert double_refreshes(emu) == 0
        assert outcomes.get("too_many_requests", 0) == 0
        # About once per planned interval each (20 s tokens, due 2 s early, a guard of
        # 3.2 s: every ~14.8 s), plus at most one early refresh to get on phase.
        interval = 20 - 2 - 3.2
        assert 40 * (60 / interval - 1) <= outcomes.get("success", 0) <= 40 * (60 / interval + 1.5)
        store.close()
