"""Sustained API throughput as a share of the per-key budget.

Several processes x threads (``tests/api/worker.py``) call ``GET /account/summary``
through ``ctct.Client`` for a while against a loopback emulator enforcing the limit;
the figure is requests answered per second divided by the budget, and the number of
429 answers (the target: >= 95% of the budget, zero 429s). Two budgets: CC's standard
4/s and the partner 10/s.

    python -m benchmarks api_throughput      (CTCT_BENCH_SECONDS=20 by default)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROCESSES = 2
THREADS = 4


def login_env(rate: float, tmp: Path, **changes: Any) -> tuple[Any, Any, Any]:
    """A socket emulator limiting the API to ``rate``/s, a stored grant, and its env."""
    from tests.api.conftest import FAST_CLIENT, ApiEnv

    from ctct.emulator import EmulatorConfig
    from ctct.stores.crypto import generate_key
    from ctct.testing import start_emulator

    os.environ["CTCT_STORE_KEY"] = generate_key()
    os.environ["CTCT_STORE_KEYRING"] = "0"
    config = EmulatorConfig(auto_approve=True, token_rate_per_second=1_000.0).with_changes(
        api_rate_per_second=rate, **changes
    )
    context = start_emulator(config)
    handle = context.__enter__()
    env = ApiEnv(handle, "socket", f"sqlite:///{tmp}/store-{rate}.db", FAST_CLIENT)
    env.login()
    return context, handle, env


def run(rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ctct-bench-") as tmp:
        context, handle, env = login_env(rate, Path(tmp))
        try:
            start_at = time.time() + 4.0
            until = start_at + seconds
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.api.worker",
                        "--base-url",
                        handle.base_url,
                        "--client-id",
                        handle.client_id,
                        "--client-secret",
                        handle.client_secret or "",
                        "--store",
                        env.store_url,
                        "--threads",
                        str(THREADS),
                        "--start-at",
                        str(start_at),
                        "--until",
                        str(until),
                        "--rate",
                        str(rate),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(PROCESSES)
            ]
            reports = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
            statuses = env.statuses()
        finally:
            env.close()
            context.__exit__(None, None, None)
    calls = sum(r["calls"] for r in reports)
    # Answers per second between the first and the last answer anywhere: calls that
    # were waiting for the budget at the deadline finish after it, so the nominal
    # duration would overstate the rate.
    first = min(r["first"] for r in reports)
    last = max(r["last"] for r in reports)
    achieved = (calls - 1) / (last - first)
    return {
        "budget_per_s": rate,
        "seconds": round(last - first, 2),
        "calls": calls,
        "per_s": round(achieved, 3),
        "share": round(achieved / rate, 4),
        "throttled_429": statuses.get("429", 0),
        "failures": sum(sum(r["failures"].values()) for r in reports),
    }


def main() -> None:
    seconds = float(os.environ.get("CTCT_BENCH_SECONDS", "20"))
    print(f"{PROCESSES} processes x {THREADS} threads, {seconds:.0f} s per budget")
    print(f"{'budget':>8} {'calls':>7} {'window':>7} {'req/s':>7} {'share':>7} {'429s':>5}")
    for rate in (4.0, 10.0):
        result = run(rate, seconds)
        print(
            f"{rate:>6.0f}/s {result['calls']:>7} {result['seconds']:>6.1f}s "
            f"{result['per_s']:>7.2f} {result['share']:>7.1%} {result['throttled_429']:>5}"
        )


if __name__ == "__main__":
    main()
