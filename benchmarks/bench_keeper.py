"""The keeper at fleet scale: 50,000 grants in PostgreSQL, one replica.

Measured in one run, as whole processes:

- **refreshes/s sustained**: 5,000 of the grants are minted at an emulator with a high
  token rate and seeded with expired access tokens, so they are all due at once; the
  time from the keeper's start until the emulator has answered 5,000 refreshes;
- **scheduling CPU**: then, with nothing due, the keeper process's CPU time over 60 s
  (ticks, claims, lease renewals, event polling), plus the CPU one planner scan of all
  50,000 grants costs (measured in this process, on the same store) spread over the
  default scan interval (300 s): the share of one core scheduling takes;
- **resident memory** of the keeper process at the end (``VmRSS``);
- **claim latency**: with the keeper stopped, ``claim_due`` (16 at a time) against the
  50,000-row schedule with 10% due, p50/p99 over 300 claims (each claimed grant then
  rescheduled, as a replica does after keeping it).

The other 45,000 grants are records the keeper plans but never needs to refresh (fresh
for a day). Targets: under 300 MB resident, claim p99 under 50 ms, scheduling under 5%
of one core. ``CTCT_BENCH_KEEPER_GRANTS`` scales it down for a quick look.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2

from ctct._provider import Provider
from ctct.stores import GrantKey
from ctct.stores.postgres import PostgresStore
from ctct.testing import EmulatorHandle

GRANTS = int(os.environ.get("CTCT_BENCH_KEEPER_GRANTS", "50000"))
DUE = min(5_000, GRANTS // 10)
IDLE_SECONDS = float(os.environ.get("CTCT_BENCH_KEEPER_IDLE", "60"))
POSTGRES = os.environ.get("CTCT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _seed(store: PostgresStore, emu: EmulatorHandle, provider: Provider) -> list[GrantKey]:
    import psycopg

    from ctct._secret import Secret
    from ctct._tokens import TokenSet
    from ctct.emulator.config import DEFAULT_CLIENT_ID

    now = time.time()
    rows = []
    keys = []
    minted: list[dict[str, Any]] = []
    while len(minted) < DUE:
        minted += emu.mint_grants(min(2_000, DUE - len(minted)))
    issuer = provider.storage_issuer
    for i in range(GRANTS):
        key = GrantKey(f"acct-{i:06d}", issuer, DEFAULT_CLIENT_ID)
        if i < DUE:
            tokens = TokenSet.from_token_response(
                minted[i], issuer=issuer, client_id=DEFAULT_CLIENT_ID, received_at=now - 90_000
            )
            tokens = replace(tokens, expires_at=now - 1, refresh_token_used_at=now - 60)
        else:
            tokens = TokenSet(
                issuer=issuer,
                client_id=DEFAULT_CLIENT_ID,
                access_token=Secret("eyJ" + secrets.token_urlsafe(600) + ".x.y"),
                refresh_token=Secret(secrets.token_urlsafe(32)),
                # Long-lived, so the window below measures scheduling, not a stream of
                # their refreshes (which the emulator would refuse: it never issued them).
                expires_at=now + 30 * 86_400,
                received_at=now,
                obtained_at=now - random.uniform(0, 86_400 * 30),
                refresh_token_used_at=now,
            )
        envelope = store.sealer.seal(tokens.to_json(), key.context)
        rows.append((key.profile, key.issuer, key.client_id, 1, envelope))
        keys.append(key)
    schema = store.settings.schema
    with (
        psycopg.connect(POSTGRES) as conn,
        conn.cursor() as cur,
        cur.copy(
            f'COPY "{schema}".grants (profile, issuer, client_id, version, data) FROM STDIN'
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return keys


def _scan_cpu(config: Path, store: PostgresStore) -> float:
    """CPU seconds one planner scan takes (computing only), on the benchmark's store."""
    from ctct.keeper.apps import AppRegistry
    from ctct.keeper.config import load_config
    from ctct.keeper.metrics import KeeperMetrics
    from ctct.keeper.planner import Planner
    from ctct.keeper.refresher import Refresher

    loaded = load_config(config)
    with httpx2.Client() as http:
        apps = AppRegistry.build(loaded, http)
        refresher = Refresher(
            store=store, apps=apps, config=lambda: loaded, http=http, metrics=KeeperMetrics()
        )
        started = time.process_time()
        Planner(store, apps, refresher, time.time).scan(apply=False)
        return time.process_time() - started


def main() -> None:
    from ctct.emulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from ctct.stores import open_store
    from ctct.stores.postgres import drop_schema, initialize_schema
    from ctct.testing import start_emulator

    schema = f"ctct_bench_{secrets.token_hex(4)}"
    url = f"{POSTGRES}?schema={schema}&pool_max=12"
    initialize_schema(url)
    root = Path(tempfile.mkdtemp(prefix="ctct-bench-keeper-"))
    try:
        with start_emulator(token_rate_per_second=5_000) as emu:
            store = open_store(url)
            assert isinstance(store, PostgresStore)
            provider = Provider.constant_contact(emu.base_url)
            started = time.perf_counter()
            keys = _seed(store, emu, provider)
            print(
                f"seeded {GRANTS:,} grants ({DUE:,} due now) in "
                f"{time.perf_counter() - started:.1f} s"
            )
            secret = root / "client-secret"
            secret.write_text(DEFAULT_CLIENT_SECRET)
            secret.chmod(0o600)
            config = root / "keeper.toml"
            config.write_text(
                f'store = "{url}"\ntick = 1.0\nconcurrency = 16\n'
                f'[[apps]]\nclient_id = "{DEFAULT_CLIENT_ID}"\nclient_secret_file = "{secret}"\n'
                f'base_url = "{emu.base_url}"\ntoken_rate = 5000\n'
            )
            port = 19464 + random.randrange(1000)
            log = (root / "keeper.log").open("w")
            ctct = str(Path(sys.executable).with_name("ctct"))
            keeper = subprocess.Popen(
                [
                    ctct,
                    "keeper",
                    "run",
                    "--config",
                    str(config),
                    "--ops-listen",
                    f"127.0.0.1:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "CTCT_KEYRING": "0"},
            )
            try:
                began = time.perf_counter()
                while True:
                    done = (
                        emu.counters()["token_requests"].get("refresh_token", {}).get("success", 0)
                    )
                    if done >= DUE:
                        break
                    if keeper.poll() is not None or time.perf_counter() - began > 900:
                        raise SystemExit(f"the keeper stopped or stalled at {done} refreshes")
                    time.sleep(0.5)
                took = time.perf_counter() - began
                # The first scan of a store the keeper has never seen schedules every grant
                # (one write each): wait for it to finish, then measure the steady state.
                settled = -1
                while True:
                    time.sleep(5)
                    count = len(store.due(limit=GRANTS + 16))
                    if count == settled:
                        break
                    settled = count
                cpu_before, idle_began = _cpu_seconds(keeper.pid), time.perf_counter()
                sent_before = len(emu.events("refresh"))
                time.sleep(IDLE_SECONDS)
                cpu = _cpu_seconds(keeper.pid) - cpu_before
                refreshed_idle = len(emu.events("refresh")) - sent_before
                idle = time.perf_counter() - idle_began
                rss = _rss_mb(keeper.pid)
                metrics = httpx2.get(f"http://127.0.0.1:{port}/metrics").text
            finally:
                keeper.terminate()
                keeper.wait(60)
            scan_cpu = _scan_cpu(config, store)
            ticks = [
                line
                for line in metrics.splitlines()
                if line.startswith("ctct_keeper_tick_duration_seconds_")
            ]
            tick_sum = float(next(x for x in ticks if "_sum" in x).split()[-1])
            tick_count = float(next(x for x in ticks if "_count" in x).split()[-1])
            # Claim latency on the full schedule, 10% due, keeper stopped.
            now = store.now()
            for key in keys:
                store.schedule(
                    key, now - 1 if random.random() < 0.1 else now + random.uniform(60, 86_400)
                )
            latencies = []
            for _ in range(300):
                t0 = time.perf_counter()
                claims = store.claim_due("bench", limit=16, claim_for=3_600)
                latencies.append(time.perf_counter() - t0)
                for claim in claims:  # kept and rescheduled, as a replica would (not timed)
                    store.schedule(claim.key, now + random.uniform(60, 86_400))
            store.close()
    finally:
        drop_schema(url)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * len(latencies))] * 1000
    from ctct.keeper.config import KeeperConfig

    interval = KeeperConfig().replan_interval
    share = cpu / idle + scan_cpu / interval
    print(
        f"refreshes: {DUE:,} due grants refreshed in {took:.1f} s = "
        f"{DUE / took:,.0f} refreshes/s sustained"
    )
    print(
        f"planner scan of {GRANTS:,} grants: {scan_cpu:.2f} s CPU, "
        f"every {interval:.0f} s by default"
    )
    print(
        f"scheduling: {cpu:.2f} s CPU over {idle:.0f} s ({refreshed_idle} refreshes in it) "
        f"+ scans = {share:.1%} of one core "
        f"(target < 5%: {'meets' if share < 0.05 else 'MISSES'}); "
        f"mean tick {tick_sum / max(tick_count, 1) * 1000:.1f} ms over {tick_count:.0f} ticks"
    )
    print(f"resident memory: {rss:.0f} MB (target < 300 MB: {'meets' if rss < 300 else 'MISSES'})")
    print(
        f"claim_due(16) on {GRANTS:,} scheduled: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(target p99 < 50 ms: {'meets' if p99 < 50 else 'MISSES'})"
    )
