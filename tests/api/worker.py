"""A worker process for the shared-limits test and the throughput benchmark:
``python -m tests.api.worker --base-url URL --store URL --threads N --until T``.

N threads call ``GET /account/summary`` through one ``Client`` until ``until`` (epoch
seconds) and the worker prints one JSON line: calls, the times of its first and last
answers, failures (by type)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct.api import Client, RateLimits
from ctct.stores import open_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--until", type=float, required=True)
    parser.add_argument("--rate", type=float, default=4.0)
    args = parser.parse_args()

    manager = TokenManager(
        provider=Provider.constant_contact(args.base_url),
        client=ClientCredentials(args.client_id, Secret(args.client_secret)),
        store=open_store(args.store),
        owns_store=True,
    )
    calls = 0
    first, last = float("inf"), 0.0
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    with (
        manager,
        Client(manager, limits=RateLimits(rate_per_second=args.rate, daily_quota=None)) as client,
    ):
        manager.token()  # warm the token cache before the clock starts
        while time.time() < args.start_at:
            time.sleep(0.005)

        def run() -> None:
            nonlocal calls, first, last
            mine = 0
            times: list[float] = []
            while time.time() < args.until:
                try:
                    client.account.summary()
                    mine += 1
                    times.append(time.time())
                except Exception as exc:
                    with lock:
                        failures[f"{type(exc).__name__}: {exc}"[:200]] += 1
            with lock:
                calls += mine
                if times:
                    first, last = min(first, times[0]), max(last, times[-1])

        threads = [threading.Thread(target=run) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    report = {"calls": calls, "first": first, "last": last, "failures": dict(failures)}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
