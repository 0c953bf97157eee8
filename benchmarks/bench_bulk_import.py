"""A 100,000-contact import next to the same work done one contact per request.

Both at CC's standard limits (4 requests/second per key) against a loopback emulator:

- bulk: a CSV of ``email,first_name,last_name`` checked locally, sent as JSON imports
  split at 40,000 contacts / 4 MB, then polled until processed (``ctct.Client``);
- one by one: ``POST /v3/contacts`` per contact, measured on a sample of 200 contacts
  (CTCT_BENCH_SAMPLE) and projected to 100,000.

    python -m benchmarks bulk_import
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

N = 100_000


def main() -> None:
    from benchmarks.bench_api_throughput import login_env
    from ctct.api import RateLimits
    from ctct.api.csv_rows import parse_contacts_csv

    sample = int(os.environ.get("CTCT_BENCH_SAMPLE", "200"))
    with tempfile.TemporaryDirectory(prefix="ctct-bench-") as tmp:
        context, _, env = login_env(4.0, Path(tmp))
        try:
            client = env.client(limits=RateLimits(), poll_interval=1.0)
            target = client.lists.create("Benchmark")
            csv_text = "email,first_name,last_name\n" + "".join(
                f"user{i:06d}@example.com,First{i},Last{i}\n" for i in range(N)
            )
            started_bulk = time.perf_counter()
            checked = parse_contacts_csv(csv_text.encode())
            parsed = time.perf_counter()
            client.activities.json_import(checked.contacts, [target["list_id"]])
            bulk = time.perf_counter() - started_bulk
            counts = env.api_counts()
            imports = counts["POST /v3/activities/contacts_json_import"].get("201", 0)
            polls = sum(counts.get("GET /v3/activities/{activity_id}", {}).values())
            held = client.contacts.count()

            started = time.perf_counter()
            for i in range(sample):
                client.contacts.create(
                    {
                        "email_address": {"address": f"single{i:06d}@example.com"},
                        "first_name": f"S{i}",
                        "last_name": f"L{i}",
                    }
                )
            single = time.perf_counter() - started
            throttled = env.statuses().get("429", 0)
        finally:
            env.close()
            context.__exit__(None, None, None)
    projected = single / sample * N
    print(f"{N:,} contacts at 4 requests/second per key")
    print(
        f"  bulk import:    {bulk:8.1f} s  ({imports} import requests + {polls} polls; "
        f"local CSV check {parsed - started_bulk:.1f} s)"
    )
    print(f"  one by one:     {projected:8.0f} s  projected ({single:.1f} s for {sample})")
    print(f"  speed-up:       {projected / bulk:8.0f} x;  contacts held after import: {held:,}")
    print(f"  429 answers:    {throttled}")


if __name__ == "__main__":
    main()
