"""A worker process for the shared-limits tests and the throughput benchmark:
``python -m tests.api.worker --base-url URL --store URL --threads N --until T``.

N threads call ``GET /account/summary`` through one ``Client`` until ``until`` (epoch
seconds) and the worker prints one JSON line: calls, the times of its answers, failures
(by type). With ``--daily-quota`` a thread stops at the first local ``QuotaExceeded``
(counted in ``quota_stops``, not a failure). Without ``--start-at`` it prints ``ready``
once its token is cached and reads ``START UNTIL`` from stdin."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter

from ctct._manager import TokenManager
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._secret import Secret
from ctct.api import Client, QuotaExceeded, RateLimits
from ctct.stores import open_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--until", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--daily-quota", type=int, default=None)
    parser.add_argument("--burst", type=float, default=1.0)
    args = parser.parse_args()

    manager = TokenManager(
        provider=Provider.constant_contact(args.base_url),
        client=ClientCredentials(args.client_id, Secret(args.client_secret)),
        store=open_store(args.store),
        profile=args.profile,
        owns_store=True,
    )
    calls = quota_stops = 0
    answered: list[float] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    limits = RateLimits(rate_per_second=args.rate, daily_quota=args.daily_quota, burst=args.burst)
    with manager, Client(manager, limits=limits) as client:
        manager.token()  # warm the token cache before the clock starts
        if not args.start_at:
            print("ready", flush=True)
            args.start_at, args.until = map(float, sys.stdin.readline().split())
        while time.time() < args.start_at:
            time.sleep(0.005)

        def run() -> None:
            nonlocal calls, quota_stops
            times: list[float] = []
            stopped = False
            while time.time() < args.until:
                try:
                    client.account.summary()
                    times.append(time.time())
                except QuotaExceeded as exc:
                    if not (exc.local and args.daily_quota):
                        raise
                    stopped = True
                    break
                except Exception as exc:
                    with lock:
                        failures[f"{type(exc).__name__}: {exc}"[:200]] += 1
            with lock:
                calls += len(times)
                quota_stops += stopped
                answered.extend(times)

        threads = [threading.Thread(target=run) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    report = {
        "calls": calls,
        "first": min(answered, default=float("inf")),
        "last": max(answered, default=0.0),
        "answered": sorted(answered),
        "quota_stops": quota_stops,
        "failures": dict(failures),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
