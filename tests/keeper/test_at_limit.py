"""At the token endpoint's limit, scaled down: 1 refresh/second, 15-second tokens, on
SQLite with two replicas on one host. First two-thirds of capacity (everything kept
fresh), then one and a half times capacity (overload: a stable kept set stays valid, the
rest is shed to keep-alive, no refresh token idles out)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from ctct.keeper.capacity import Budget
from ctct.keeper.presence import keeper_present
from ctct.keeper.schedule import steady_interval
from ctct.stores import open_store
from ctct.testing import start_emulator
from tests.keeper.fleet import (
    Watch,
    replicas,
    states_of,
    store_minted,
    token_outcomes,
    write_config,
)

LIFETIME = 15
# The planned interval: due 10% early (1.5 s), then the guard (1 s rate wait + 2 s HTTP
# timeout + a 0.2 s tick), on a cycle shortened by its slack (see keeper.schedule).
CYCLE = LIFETIME - 0.1 * LIFETIME - (1 + 2 + 0.2)
CAPACITY = Budget(rate=1.0).accounts(steady_interval(CYCLE))


@dataclass
class Run:
    watch: Watch
    outcomes: dict[str, int]
    kept_over_time: list[frozenset[str]]
    utilization: set[float]
    states: dict[str, tuple[str, str]]


def run_fleet(tmp_path: Path, accounts: int, seconds: float, name: str) -> Run:
    with start_emulator(access_token_ttl=LIFETIME, token_rate_per_second=1.0) as emu:
        url = f"sqlite:///{tmp_path}/{name}.db"
        store = open_store(url)
        keys = store_minted(emu, store, accounts)
        everyone = frozenset(k.profile for k in keys)
        config = write_config(tmp_path / f"{name}.toml", emu.base_url, token_rate=1.0, store=url)
        kept_over_time: list[frozenset[str]] = []
        utilization: set[float] = set()
        with replicas(config, url, 2) as keepers, Watch(store, keys).running() as watch:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(LIFETIME / 3)
                # Workers' timers stand by while a keeper holds the store.
                assert keeper_present(store)
                for keeper in keepers:
                    view = keeper.planner.view
                    if view.scanned_at:
                        kept_over_time.append(everyone - {k.profile for k in view.shed})
                        utilization.update(view.snapshot.utilization.values())
            states = states_of(store, keys)
        run = Run(watch, token_outcomes(emu), kept_over_time, utilization, states)
        store.close()
        return run


def test_two_thirds_of_capacity_all_kept_fresh(tmp_path: Path) -> None:
    accounts = max(2, math.floor(CAPACITY * 2 / 3))
    run = run_fleet(tmp_path, accounts, 3 * LIFETIME, "fit")
    assert run.watch.expired == [], run.watch.expired[:5]
    assert run.outcomes.get("too_many_requests", 0) == 0
    assert {code for code, _ in run.states.values()} == {"ok"}

    # The utilization the keeper reports is the formula's, accounts / capacity, for the
    # tokens' real lifetime: 15 s less the Date header's skew rounding (up to 1 s).
    def formula(lifetime: float) -> float:
        cycle = lifetime - 0.1 * lifetime - (1 + 2 + 0.2)
        return accounts / (Budget(rate=1.0).keeper_rate * steady_interval(cycle))

    low, high = formula(LIFETIME) * 0.98, formula(LIFETIME - 1) * 1.02
    assert run.utilization and all(low <= u <= high for u in run.utilization), (low, high)


def test_over_capacity_keeps_a_stable_set_fresh_and_sheds_the_rest(tmp_path: Path) -> None:
    accounts = math.ceil(CAPACITY * 1.5)
    run = run_fleet(tmp_path, accounts, 3 * LIFETIME, "over")
    assert run.outcomes.get("too_many_requests", 0) == 0
    shed = {p for p, (code, _) in run.states.items() if code == "shed"}
    assert 0 < len(shed) < accounts
    assert all(run.states[p][1] == "shed: over capacity" for p in shed)
    kept = {p for p in run.states if p not in shed}
    # The same accounts are kept from the first scan to the last (not a rotating set).
    assert set(run.kept_over_time) == {frozenset(kept)}, [sorted(k) for k in run.kept_over_time]
    # Kept accounts stayed valid all along; only shed ones were allowed to lapse.
    assert {p for p, _ in run.watch.expired} <= shed
    assert len(kept) <= CAPACITY
