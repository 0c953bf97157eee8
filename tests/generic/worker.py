"""A storm worker reaching the provider by discovery: ``python -m tests.generic.worker``.

The parent sets ``CTCT_ISSUER`` (and the client and store) in the environment; each
worker discovers the provider itself, then N threads call ``TokenManager.token()`` back
to back from ``--start-at`` until ``--until`` and it prints one JSON line: calls,
failures, distinct tokens.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from ctct._manager import TokenManager
from ctct._refresh import RefreshPolicy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--until", type=float, required=True)
    args = parser.parse_args()
    calls = 0
    failures: list[str] = []
    tokens: set[str] = set()
    lock = threading.Lock()
    with TokenManager.from_settings(policy=RefreshPolicy(margin=0.0)) as manager:
        while time.time() < args.start_at:
            time.sleep(0.005)

        def run() -> None:
            nonlocal calls
            mine = 0
            seen: set[str] = set()
            while time.time() < args.until:
                try:
                    seen.add(manager.token())
                except Exception as exc:
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                mine += 1
                time.sleep(0.002)
            with lock:
                calls += mine
                tokens.update(seen)

        threads = [threading.Thread(target=run) for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    report = {"calls": calls, "failures": failures[:5], "failed": len(failures)}
    print(json.dumps({**report, "tokens": len(tokens)}), flush=True)


if __name__ == "__main__":
    main()
