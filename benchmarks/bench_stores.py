"""Store backends side by side: SQLite, PostgreSQL and Redis (issue 9).

For each backend:

- ``token()`` hot path: a ``TokenManager`` holding a fresh token in memory (target:
  within 10% of SQLite's; the store is not touched);
- the lease + load + compare-and-swap save round trip a refresh makes (target: under
  5 ms median on loopback);
- one rate-limit take (the token endpoint's and the API's shared buckets);
- storm wall time: 16 processes x 8 threads ask for a token the moment it expires; the
  time from the expiry until the slowest thread holds the new one (one refresh in all);
- ``ctct auth token`` cold start with a fresh stored token (SQLite: the console script's
  fast path; the others: the full command line, which imports the driver lazily).

PostgreSQL is the local server (``CTCT_TEST_POSTGRES``, throwaway schemas); Redis a
``redis-server`` started for the run. Medians of repeated runs, in one process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.refresh.conftest import login_with_device_flow
from tests.refresh.worker import command
from tests.servers import RedisServer, fresh_store

from benchmarks.bench_cli_cold_start import _ctct, _environment, fresh_grant
from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.emulator import EmulatorConfig
from ctct.emulator.server import EmulatorServer
from ctct.stores import GrantKey, SealedStore, open_store, static_keys

KEY = GrantKey("bench", "https://bench.example", "client-bench")
BACKENDS = ("sqlite", "postgresql", "redis")
STORM_PROCESSES = 16
STORM_THREADS = 8
STORM_TTL = 10
COLD_RUNS = int(os.environ.get("CTCT_BENCH_RUNS", "11"))


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
    # The hot path never touches the store, so backends differ here only by noise (a
    # tenth of a microsecond: caches, the other core's load). The best of seven rounds
    # is the figure least disturbed by whatever else the machine runs.
    loops, rounds = 100_000, []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(loops):
            manager.token()
        rounds.append((time.perf_counter() - started) / loops * 1e6)
    return min(rounds)


def cold_start_ms(store: SealedStore, url: str, root: Path) -> float:
    """Median ``ctct auth token --profile cold`` with a fresh token in ``url``."""
    grant, tokens, token = fresh_grant("cold")
    store.save(grant, tokens.to_json(), expected_version=None)
    env = {**_environment(root), "CTCT_STORE": url}
    argv = [_ctct(), "auth", "token", "--profile", "cold"]

    def once() -> float:
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or done.stdout != token + "\n":
            raise SystemExit(f"ctct auth token on {url} failed: {done.stderr[-500:]}")
        return elapsed

    once()  # warm-up: bytecode compiled once
    return statistics.median(once() for _ in range(COLD_RUNS)) * 1000


def storm_seconds(url: str) -> tuple[float, int]:
    """(wall time from the expiry to the slowest thread's new token, refreshes made)."""
    config = EmulatorConfig(
        auto_approve=True, access_token_ttl=STORM_TTL, refresh_token_reuse="grant"
    )
    with EmulatorServer(config) as server:
        tokens = login_with_device_flow(server.base_url, url)
        assert tokens.expires_at is not None
        workers = [
            subprocess.Popen(
                command("storm", server.base_url, url, f"--threads={STORM_THREADS}"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(STORM_PROCESSES)
        ]
        for worker in workers:  # every worker started and connected (cold starts are slow)
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        start_at = max(time.time() + 0.5, tokens.expires_at + 0.2)  # the token has expired
        for worker in workers:  # all of them, before waiting for any
            assert worker.stdin is not None
            worker.stdin.write(f"{start_at} {start_at + 5}\n")
            worker.stdin.flush()
        reports = [json.loads(w.communicate(timeout=120)[0].strip()) for w in workers]
        counts = server.emulator.counters.snapshot()["token_requests"]
    if any(r["failed"] or r["settled"] is None for r in reports):
        raise SystemExit(f"the storm on {url} had failures or late workers: {reports}")
    refreshes = int(counts.get("refresh_token", {}).get("success", 0))
    return max(float(r["settled"]) for r in reports), refreshes


@contextmanager
def stores(tmp: Path, redis_server: RedisServer) -> Iterator[dict[str, tuple[str, SealedStore]]]:
    """A fresh store per backend (URL and an unencrypted handle), cleaned up afterwards."""
    with ExitStack() as stack:
        opened = {}
        for name in BACKENDS:
            url, cleanup = fresh_store(name, tmp / name, lambda: redis_server)
            (tmp / name).mkdir(parents=True, exist_ok=True)
            stack.callback(cleanup)
            store = stack.enter_context(open_store(url, key_provider=static_keys()))
            opened[name] = (url, store)
        yield opened


def main() -> None:
    os.environ.setdefault("CTCT_STORE_KEYRING", "0")  # the workers' keys: none, no keyring
    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        redis_server = RedisServer(tmp / "redis-server")
        redis_server.start()
        try:
            with stores(tmp, redis_server) as opened:
                # The hot paths first and interleaved, best of three turns each: measured
                # one backend after the other (between subprocess-heavy steps), whichever
                # ran first looked up to 1.8x slower on the same code.
                hot: dict[str, float] = {}
                for _ in range(3):
                    for name, (_url, store) in opened.items():
                        hot[name] = min(hot.get(name, float("inf")), hot_path_us(store))
                for name, (url, store) in opened.items():
                    results[name] = {
                        "hot": hot[name],
                        "trip": median_ms(round_trip(store)),
                        "take": median_ms(lambda s=store: s.acquire_rate("bench", 1e9, 1e9)),  # type: ignore[misc]
                        "cold": cold_start_ms(store, url, tmp / f"cold-{name}"),
                    }
            with stores(tmp / "storm", redis_server) as opened:
                for name, (url, _store) in opened.items():
                    wall, refreshes = storm_seconds(url)
                    results[name]["storm"] = wall
                    results[name]["refreshes"] = refreshes
        finally:
            redis_server.stop()
    print(
        f"{'backend':<12}{'token() us':>12}{'lease+load+CAS ms':>19}{'rate take ms':>14}"
        f"{'storm s':>9}{'refreshes':>11}{'auth token ms':>15}"
    )
    for name, r in results.items():
        print(
            f"{name:<12}{r['hot']:>12.3f}{r['trip']:>19.2f}{r['take']:>14.3f}"
            f"{r['storm']:>9.2f}{r['refreshes']:>11.0f}{r['cold']:>15.1f}"
        )
    base = results["sqlite"]["hot"]
    for name in ("postgresql", "redis"):
        ratio = results[name]["hot"] / base
        trip = results[name]["trip"]
        print(
            f"{name}: token() {ratio:.2f}x SQLite's ({'meets' if ratio <= 1.1 else 'MISSES'} "
            f"the 10% target); round trip {trip:.2f} ms ({'meets' if trip < 5 else 'MISSES'} "
            "the 5 ms target)"
        )
    print(
        f"storm: {STORM_PROCESSES} processes x {STORM_THREADS} threads at one expiry "
        "(wall time from the expiry to the slowest thread's new token; one refresh expected)"
    )
    # Timings on a shared machine mean little without its load (os.cpu_count() cores).
    print(
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on "
        f"{os.cpu_count()} cores"
    )
