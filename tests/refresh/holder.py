"""A process that takes a grant's lease and keeps it: ``python -m tests.refresh.holder``.

It prints ``held`` once the lease is its own; the parent then freezes it (SIGSTOP), as a
hung disk or a stopped container would. A line on stdin (after SIGCONT) releases the
lease and the process prints ``released``.
"""

from __future__ import annotations

import sys

from ctct.stores import GrantKey, open_store


def main() -> None:
    store_url, profile, issuer, client_id = sys.argv[1:5]
    key = GrantKey(profile, issuer, client_id)
    with open_store(store_url) as store:
        lease = store.lease(key, duration=600.0, timeout=30.0)
        print("held", flush=True)
        sys.stdin.readline()
        lease.release()
        print("released", flush=True)


if __name__ == "__main__":
    main()
