"""A separate process that uses an SQLite store, for the multi-process tests.

Run as ``python worker.py COMMAND DB [ARGS...]``; see ``main`` for the commands. It talks
to the test through stdout lines and its exit code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from ctct.stores import GrantKey, SqliteStore, StoreConflict
from ctct.stores.keys import no_keys


def grant(profile: str = "default") -> GrantKey:
    return GrantKey(profile, "https://authz.example/oauth2/aus1", "client-1")


def say(line: str) -> None:
    print(line, flush=True)


def hold(store: SqliteStore, profile: str) -> None:
    """Take the lock and keep it until killed."""
    store.lock(grant(profile), timeout=30).acquire()
    say("locked")
    time.sleep(600)


def critical(store: SqliteStore, log: Path, rounds: int) -> None:
    """Enter the critical section ``rounds`` times, logging entry and exit."""
    for _ in range(rounds):
        with store.lock(grant(), timeout=60):
            with log.open("a") as out:
                out.write(f"enter {os.getpid()}\n")
            time.sleep(0.002)  # widen the window an exclusion bug would need
            with log.open("a") as out:
                out.write(f"exit {os.getpid()}\n")


def increment(store: SqliteStore, rounds: int, threads: int, *, locked: bool) -> None:
    """Add 1 to the counter record ``rounds`` times per thread; print the CAS conflicts."""
    conflicts = 0
    mutex = threading.Lock()

    def add_one() -> None:
        nonlocal conflicts
        while True:
            record = store.load(grant())
            assert record is not None
            try:
                store.save(grant(), b"%d" % (int(record.data) + 1), expected_version=record.version)
                return
            except StoreConflict:
                with mutex:
                    conflicts += 1

    def run() -> None:
        for _ in range(rounds):
            if locked:
                with store.lock(grant(), timeout=60):
                    add_one()
            else:
                add_one()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    say(f"conflicts {conflicts}")


def save_and_die(store: SqliteStore, value: str) -> None:
    """Save, then die by SIGKILL the moment ``save`` returns: nothing gets to clean up."""
    record = store.load(grant())
    version = store.save(
        grant(), value.encode(), expected_version=None if record is None else record.version
    )
    say(f"saved {version}")
    os.kill(os.getpid(), signal.SIGKILL)


def create(store: SqliteStore) -> None:
    """Use every table and a lock, then wait (files open) until stdin closes."""
    store.save(grant(), b"x", expected_version=None)
    store.put_once("login", "s", b"y", ttl=60)
    store.acquire_rate("b", 1, 1)
    with store.lock(grant(), timeout=5):
        say("ready")
        sys.stdin.read()


def main() -> None:
    command, db = sys.argv[1], Path(sys.argv[2])
    args = sys.argv[3:]
    if command == "create":
        os.umask(0)  # the store must not depend on a strict umask
    try:
        store = SqliteStore(db, no_keys())
    except Exception as exc:
        say(f"error {type(exc).__name__}: {exc}")
        sys.exit(2)
    if command == "hold":
        hold(store, args[0])
    elif command == "critical":
        critical(store, Path(args[0]), int(args[1]))
    elif command == "increment":
        increment(store, int(args[0]), int(args[1]), locked=args[2] == "locked")
    elif command == "save-and-die":
        save_and_die(store, args[0])
    elif command == "create":
        create(store)
    elif command == "open":
        say(f"opened {store.describe().backend}")
    else:
        raise SystemExit(f"unknown command {command}")
    store.close()


if __name__ == "__main__":
    main()
