"""The default store: one SQLite database in WAL mode, shared by every local process.

Durability: ``synchronous=FULL`` for grants (each save is fsync'd before it returns);
single-use records and rate counters use ``NORMAL`` on separate connections since losing
them on power loss is harmless. Each operation is one short transaction; writes start
with ``BEGIN IMMEDIATE`` so waiting happens in SQLite's busy handler, not in a failed
upgrade. Connections are pooled (sqlite3 objects must not be used by two threads at once).

Privacy: the directory is created 0700 and the database, ``-wal`` and ``-shm`` files are
created 0600 by us before SQLite opens them (SQLite gives files it creates later the
database's mode), without touching the process umask. Existing ones that are symbolic
links, someone else's or open to group or others are refused (``ctct.stores.files``).

Safety: a file that is not a ctct store - garbage, truncated, another application's
database, a directory, unreadable - raises ``StoreCorrupt``/``StoreError`` naming the
path, and is never written to, truncated or deleted.

Leases (protocol v2) are rows in ``leases`` (holder, fence, expiry on the store's clock)
backed by an ``flock`` on ``<db>.locks/<sha256 of key>.lock`` held with the lease: a holder
that dies, even by SIGKILL, frees the flock at once and the next holder may take the lease
without waiting for its expiry; a holder that is only paused keeps its flock, and is taken
over (without the flock: the row says so) once its lease expires.

Schema: ``meta.schema_version`` is the oldest reader that understands the file (1: the
version 2 tables are only additions, so the previous release keeps working on it);
``meta.schema_revision`` is what this code last upgraded it to (2).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ctct.errors import StoreError
from ctct.stores.base import (
    Attempt,
    Claim,
    Clock,
    Event,
    GrantKey,
    StoreConflict,
    StoreCorrupt,
    check_rate_args,
    conflict_error,
    utc_day,
)
from ctct.stores.crypto import KeyConfig
from ctct.stores.files import check_companion_file, check_sqlite_file, private_dir
from ctct.stores.leases import PolledLease
from ctct.stores.locks import open_lock_file
from ctct.stores.rate import next_daily, take_token
from ctct.stores.sealed import RawState, SealedStore

SCHEMA_VERSION = 1
SCHEMA_REVISION = 2
APPLICATION_ID = 0x63746374  # "ctct": marks the file as ours in the SQLite header

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grants (
    profile TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data BLOB,  -- NULL marks a deleted record whose version keeps counting up
    PRIMARY KEY (profile, issuer, client_id)
);
CREATE TABLE IF NOT EXISTS once (
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    data BLOB NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX IF NOT EXISTS once_expiry ON once (expires_at);
CREATE TABLE IF NOT EXISTS buckets (
    bucket TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily (
    bucket TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (bucket, day)
) WITHOUT ROWID;
"""

_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT,
    fence INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    flocked INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempts (
    profile TEXT NOT NULL, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
    holder TEXT NOT NULL, parent TEXT NOT NULL, fence INTEGER NOT NULL,
    started_at REAL NOT NULL,
    PRIMARY KEY (profile, issuer, client_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS states (
    profile TEXT NOT NULL, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, detail BLOB NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (profile, issuer, client_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedule (
    profile TEXT NOT NULL, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
    due_at REAL NOT NULL, claimed_by TEXT, claimed_until REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, issuer, client_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS schedule_due ON schedule (due_at);
CREATE TABLE IF NOT EXISTS sequences (scope TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    profile TEXT, issuer TEXT, client_id TEXT,
    seq INTEGER NOT NULL,
    ord INTEGER NOT NULL,  -- insertion order over all events
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    available_at REAL NOT NULL,
    claimed_by TEXT,
    claimed_until REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_ready ON events (status, available_at, ord);
"""


_PAGE = 1_000
_LOAD = "SELECT data, version FROM grants WHERE profile = ? AND issuer = ? AND client_id = ?"
_UPSERT = (
    "INSERT INTO grants (profile, issuer, client_id, version, data) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (profile, issuer, client_id) DO UPDATE "
    "SET version = excluded.version, data = excluded.data"
)


def _ident(key: GrantKey) -> tuple[str, str, str]:
    return (key.profile, key.issuer, key.client_id)


def _event(row: Any, status: str | None = None) -> Event:
    key = GrantKey(str(row[2]), str(row[3]), str(row[4])) if row[2] is not None else None
    return Event(
        id=str(row[0]),
        kind=str(row[1]),
        key=key,
        seq=int(row[5]),
        payload=bytes(row[6]),
        created_at=float(row[7]),
        attempts=int(row[8]),
        status=status or str(row[9]),
    )


class FlockLease(PolledLease):
    """A lease row plus the key's ``flock`` while held (see the module docstring)."""

    _ROW_CHECK = 0.1  # seconds between row checks while another process has the flock

    def __init__(
        self, store: SqliteStore, key: GrantKey, duration: float, timeout: float, path: Path
    ) -> None:
        super().__init__(store, key, duration, timeout)
        self.store = store
        self.path = path
        self._fd: int | None = None
        self._next_row_check = 0.0

    def _try(self) -> int | None:
        if self._fd is None:
            self._fd = open_lock_file(self.path)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            now = time.monotonic()
            if now < self._next_row_check:
                return None
            self._next_row_check = now + self._ROW_CHECK
            fence = self.store.lease_take(self.key, self.holder, self.duration, flocked=False)
            if fence is not None:
                self._release_local()  # taken over without the flock: do not hold an fd
            return fence
        fence = self.store.lease_take(self.key, self.holder, self.duration, flocked=True)
        if fence is None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return fence

    def _given_up(self) -> None:
        self._release_local()

    def _release_local(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # drops the flock if we had it


# Connections of a parent process are unusable in a forked child and closing them there
# could checkpoint or delete the parent's WAL: the child parks them here, never closed.
_FORKED_AWAY: list[sqlite3.Connection] = []


def default_path() -> Path:
    """``<user state dir>/ctct/tokens.db`` (e.g. ``~/.local/state/ctct/tokens.db``)."""
    from ctct._dirs import user_dir

    return Path(user_dir("state")) / "tokens.db"


class SqliteStore(SealedStore):
    """A ``Store`` in an SQLite database file; safe across threads and processes."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path,
        keys: KeyConfig | None = None,
        clock: Clock = time.time,
        *,
        busy_timeout: float = 30.0,
    ) -> None:
        super().__init__(keys if keys is not None else KeyConfig(), clock)
        if not path.is_absolute():
            raise ValueError(f"the store path must be absolute, got {path}")
        self.path = path
        self.lock_dir = path.with_name(path.name + ".locks")
        self.busy_timeout = busy_timeout
        self._warnings: list[str] = []
        self._pid = os.getpid()
        self._durable: list[sqlite3.Connection] = []
        self._fast: list[sqlite3.Connection] = []
        self._open_files()
        conn = self._connect(durable=True)
        try:
            self._initialize(conn)
        except BaseException:
            conn.close()
            raise
        self._durable.append(conn)

    # -- opening ----------------------------------------------------------------------

    def _open_files(self) -> None:
        private_dir(self.path.parent, self._warnings)
        check_sqlite_file(self.path)
        for suffix, what in (("-wal", "write-ahead log"), ("-shm", "shared-memory file")):
            companion = self.path.with_name(self.path.name + suffix)
            check_companion_file(companion, f"the token store's {what}")
        private_dir(self.lock_dir, self._warnings)

    def _connect(self, *, durable: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # pooled; never used by two threads at once
            )
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        except sqlite3.Error as exc:
            raise self._translate(exc, "opening") from None
        return conn

    def _initialize(self, conn: sqlite3.Connection) -> None:
        """Check the file is ours (or empty) and create the schema; read-only unless empty."""
        try:
            # Reading the header first: a damaged file fails here, before any write.
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                raise self._corrupt(problem)
            if app_id == APPLICATION_ID:
                self._check_schema(conn)
                self._mark_encrypted(conn)
                return
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id != 0 or tables:
                raise StoreError(
                    f"{self.path} is an SQLite database of another application, not a ctct "
                    "token store; ctct leaves it untouched: choose another store path"
                )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have initialized it since we looked.
                if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                    for statement in (_SCHEMA + _SCHEMA_V2).split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?), "
                        "('schema_revision', ?)",
                        (str(SCHEMA_VERSION), str(SCHEMA_REVISION)),
                    )
                    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute("COMMIT")
                self._mark_encrypted(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._translate(exc, "opening") from None

    def _mark_encrypted(self, conn: sqlite3.Connection) -> None:
        """Note in the file that a process with a store key uses it (``meta.encrypted``).

        ``ctct auth token``'s fast path does not ask the keyring (too slow), so it serves
        a plaintext record only from a store no keyed process has opened; otherwise it
        leaves the record to the full CLI, which refuses plaintext under a key.
        """
        if not self.sealer.encrypting:
            return
        if conn.execute("SELECT 1 FROM meta WHERE key = 'encrypted'").fetchone() is None:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('encrypted', '1')")

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row is not None and str(row[0]).isdigit() else None
        if version is None:
            raise StoreCorrupt(f"the token store {self.path} has no schema version; it is damaged")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the token store {self.path} was written by a newer ctct (schema {version}); "
                "upgrade ctct"
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_revision'").fetchone()
        if row is None or not str(row[0]).isdigit() or int(row[0]) < SCHEMA_REVISION:
            self._upgrade(conn)

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Add the version 2 tables (additions only: older releases still read the file)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA_V2.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_revision', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_REVISION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- connections and errors -------------------------------------------------------

    def _take(self, durable: bool) -> sqlite3.Connection:
        self.check_open()
        if self._pid != os.getpid():
            _FORKED_AWAY.extend(self._durable + self._fast)
            self._durable, self._fast, self._pid = [], [], os.getpid()
        pool = self._durable if durable else self._fast
        try:
            return pool.pop()  # list.pop/append are atomic: no lock on the hot path
        except IndexError:
            return self._connect(durable=durable)

    def _give(self, conn: sqlite3.Connection, durable: bool) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                conn.close()
                return
        if self.closed:
            conn.close()
        else:
            (self._durable if durable else self._fast).append(conn)

    def _translate(self, exc: sqlite3.Error, action: str) -> StoreError:
        name = getattr(exc, "sqlite_errorname", "")
        where = f"the token store {self.path}"
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StoreError(
                f"{where} stayed busy for over {self.busy_timeout:g} s while {action}; "
                "another process is holding it: try again"
            )
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return self._corrupt(str(exc))
        if name.startswith("SQLITE_FULL"):
            return StoreError(f"{where} cannot grow: the disk is full")
        if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY", "SQLITE_AUTH")):
            return StoreError(
                f"cannot use {where} ({exc}); check that it and its -wal/-shm files are "
                "owned by this user and writable"
            )
        return StoreError(f"{where} failed while {action}: {exc}")

    def _corrupt(self, detail: str) -> StoreCorrupt:
        return StoreCorrupt(
            f"the token store {self.path} is damaged ({detail}); ctct leaves it untouched: "
            "move it aside and log in again, or restore a backup"
        )

    @contextmanager
    def _write(self, action: str, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; rolled back if the body raises."""
        conn = self._take(durable)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._translate(exc, action) from None
        finally:
            self._give(conn, durable)  # rolls back an unfinished transaction

    # -- grants -----------------------------------------------------------------------

    def load_envelope(self, key: GrantKey) -> tuple[bytes, int] | None:
        conn = self._take(True)
        try:
            row = conn.execute(_LOAD, (key.profile, key.issuer, key.client_id)).fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc, "reading") from None
        finally:
            self._give(conn, True)
        if row is None or row[0] is None:
            return None
        return bytes(row[0]), int(row[1])

    def save_envelope(self, key: GrantKey, envelope: bytes, expected_version: int | None) -> int:
        ident = (key.profile, key.issuer, key.client_id)
        with self._write("saving") as conn:
            row = conn.execute(_LOAD, ident).fetchone()
            version = 0 if row is None else int(row[1])
            live = version if row is not None and row[0] is not None else None
            if live != expected_version:
                raise conflict_error(key, expected_version, live)
            conn.execute(_UPSERT, (*ident, version + 1, envelope))
        return version + 1

    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool:
        ident = (key.profile, key.issuer, key.client_id)
        with self._write("deleting") as conn:
            row = conn.execute(_LOAD, ident).fetchone()
            live = int(row[1]) if row is not None and row[0] is not None else None
            if expected_version is not None and live != expected_version:
                raise conflict_error(key, expected_version, live)
            if live is None:
                return False
            conn.execute(
                "UPDATE grants SET data = NULL WHERE profile = ? AND issuer = ? AND client_id = ?",
                ident,
            )
            return True

    def envelopes(self) -> Iterator[tuple[GrantKey, bytes, int]]:
        # Keyset pages: memory stays one page's worth, no read transaction stays open.
        after = ("", "", "")
        while True:
            conn = self._take(True)
            try:
                rows = conn.execute(
                    "SELECT profile, issuer, client_id, data, version FROM grants "
                    "WHERE data IS NOT NULL AND (profile, issuer, client_id) > (?, ?, ?) "
                    "ORDER BY profile, issuer, client_id LIMIT ?",
                    (*after, _PAGE),
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._translate(exc, "listing") from None
            finally:
                self._give(conn, True)
            for profile, issuer, client_id, data, version in rows:
                yield GrantKey(profile, issuer, client_id), bytes(data), int(version)
            if len(rows) < _PAGE:
                return
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    def keys(self) -> list[GrantKey]:
        conn = self._take(True)
        try:
            rows = conn.execute(
                "SELECT profile, issuer, client_id FROM grants WHERE data IS NOT NULL "
                "ORDER BY profile, issuer, client_id"
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._translate(exc, "listing") from None
        finally:
            self._give(conn, True)
        return [GrantKey(*row) for row in rows]

    # -- leases ---------------------------------------------------------------------

    def now(self) -> float:
        return self.clock() + self.time_offset

    def new_lease(self, key: GrantKey, duration: float, timeout: float) -> PolledLease:
        self.check_open()
        return FlockLease(self, key, duration, timeout, self.lock_dir / f"{key.digest()}.lock")

    def lease_take(
        self, key: GrantKey, holder: str, duration: float, *, flocked: bool
    ) -> int | None:
        """Take the lease row. With the key's flock held (``flocked``), any holder that
        also had it is gone; without, only an expired lease may be taken over."""
        name = key.context.decode()
        with self._write("taking a lease", durable=False) as conn:
            now = self.now()
            row = conn.execute(
                "SELECT holder, fence, expires_at, flocked FROM leases WHERE name = ?", (name,)
            ).fetchone()
            held = row is not None and row[0] is not None and row[2] > now
            if flocked:
                free = not held or bool(row[3])
            else:
                # The flock is busy: a free-looking row is a holder about to write it.
                free = row is not None and row[0] is not None and row[2] <= now
            if not free:
                return None
            fence = (int(row[1]) if row is not None else 0) + 1
            conn.execute(
                "INSERT INTO leases (name, holder, fence, expires_at, flocked) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "fence = excluded.fence, expires_at = excluded.expires_at, "
                "flocked = excluded.flocked",
                (name, holder, fence, now + duration, int(flocked)),
            )
            return fence

    def lease_try(self, key: GrantKey, holder: str, duration: float) -> int | None:
        return self.lease_take(key, holder, duration, flocked=False)

    def lease_renew(self, key: GrantKey, holder: str, duration: float) -> bool:
        with self._write("renewing a lease", durable=False) as conn:
            now = self.now()
            changed = conn.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?",
                (now + duration, key.context.decode(), holder, now),
            ).rowcount
        return bool(changed)

    def lease_release(self, key: GrantKey, holder: str) -> None:
        with self._write("releasing a lease", durable=False) as conn:
            conn.execute(
                "UPDATE leases SET holder = NULL WHERE name = ? AND holder = ?",
                (key.context.decode(), holder),
            )

    # -- attempts, states, schedule ---------------------------------------------------

    def record_attempt(self, key: GrantKey, attempt: Attempt) -> None:
        with self._write("recording a refresh attempt") as conn:
            conn.execute(
                "INSERT INTO attempts (profile, issuer, client_id, holder, parent, fence, "
                "started_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "holder = excluded.holder, parent = excluded.parent, fence = excluded.fence, "
                "started_at = excluded.started_at",
                (*_ident(key), attempt.holder, attempt.parent, attempt.fence, self.now()),
            )

    def load_attempt(self, key: GrantKey) -> Attempt | None:
        row = self._read_one(
            "SELECT holder, parent, fence, started_at FROM attempts "
            "WHERE profile = ? AND issuer = ? AND client_id = ?",
            _ident(key),
        )
        return None if row is None else Attempt(row[0], row[1], int(row[2]), float(row[3]))

    def clear_attempt(self, key: GrantKey, fence: int) -> None:
        with self._write("clearing a refresh attempt") as conn:
            conn.execute(
                "DELETE FROM attempts "
                "WHERE profile = ? AND issuer = ? AND client_id = ? AND fence = ?",
                (*_ident(key), fence),
            )

    def put_state(self, key: GrantKey, code: str, reason: str, detail: bytes) -> None:
        with self._write("saving an account state") as conn:
            conn.execute(
                "INSERT INTO states (profile, issuer, client_id, code, reason, detail, since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "since = CASE WHEN code = excluded.code AND reason = excluded.reason "
                "THEN since ELSE excluded.since END, "
                "code = excluded.code, reason = excluded.reason, detail = excluded.detail",
                (*_ident(key), code, reason, detail, self.now()),
            )

    def get_states(self, key: GrantKey | None) -> dict[GrantKey, RawState]:
        query = "SELECT profile, issuer, client_id, code, reason, detail, since FROM states"
        rows = (
            self._read_all(
                query + " WHERE profile = ? AND issuer = ? AND client_id = ?", _ident(key)
            )
            if key
            else self._read_all(query, ())
        )
        return {GrantKey(r[0], r[1], r[2]): (r[3], r[4], bytes(r[5]), float(r[6])) for r in rows}

    def schedule(self, key: GrantKey, due_at: float | None) -> None:
        with self._write("scheduling", durable=False) as conn:
            if due_at is None:
                conn.execute(
                    "DELETE FROM schedule WHERE profile = ? AND issuer = ? AND client_id = ?",
                    _ident(key),
                )
            else:
                conn.execute(
                    "INSERT INTO schedule (profile, issuer, client_id, due_at, claimed_by, "
                    "claimed_until) VALUES (?, ?, ?, ?, NULL, 0) ON CONFLICT DO UPDATE SET "
                    "due_at = excluded.due_at, claimed_by = NULL, claimed_until = 0",
                    (*_ident(key), due_at),
                )

    def due(self, limit: int = 100) -> list[tuple[GrantKey, float]]:
        rows = self._read_all(
            "SELECT profile, issuer, client_id, due_at FROM schedule ORDER BY due_at LIMIT ?",
            (limit,),
        )
        return [(GrantKey(r[0], r[1], r[2]), float(r[3])) for r in rows]

    def claim_due(self, worker: str, *, limit: int, claim_for: float) -> list[Claim]:
        with self._write("claiming due grants", durable=False) as conn:
            now = self.now()
            rows = conn.execute(
                "SELECT s.profile, s.issuer, s.client_id, s.due_at FROM schedule s "
                "JOIN grants g USING (profile, issuer, client_id) "
                "WHERE s.due_at <= ? AND s.claimed_until <= ? AND g.data IS NOT NULL "
                "ORDER BY s.due_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE schedule SET claimed_by = ?, claimed_until = ? "
                    "WHERE profile = ? AND issuer = ? AND client_id = ?",
                    (worker, now + claim_for, row[0], row[1], row[2]),
                )
        return [Claim(GrantKey(r[0], r[1], r[2]), float(r[3]), now + claim_for) for r in rows]

    # -- outbox -----------------------------------------------------------------------

    def append_event(
        self, event_id: str, kind: str, key: GrantKey | None, envelope: bytes
    ) -> Event:
        scope = key.context.decode() if key is not None else "*"
        ident = _ident(key) if key is not None else (None, None, None)
        with self._write("adding an event") as conn:
            now = self.now()
            seq = conn.execute(
                "INSERT INTO sequences (scope, seq) VALUES (?, 1) ON CONFLICT (scope) "
                "DO UPDATE SET seq = seq + 1 RETURNING seq",
                (scope,),
            ).fetchone()[0]
            order = conn.execute(
                "INSERT INTO sequences (scope, seq) VALUES ('#events', 1) ON CONFLICT (scope) "
                "DO UPDATE SET seq = seq + 1 RETURNING seq"
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO events (id, kind, profile, issuer, client_id, seq, ord, payload, "
                "created_at, available_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, kind, *ident, seq, order, envelope, now, now),
            )
        return Event(event_id, kind, key, int(seq), envelope, now)

    def claim_event_envelopes(self, worker: str, limit: int, claim_for: float) -> list[Event]:
        with self._write("claiming events") as conn:
            now = self.now()
            rows = conn.execute(
                "SELECT id, kind, profile, issuer, client_id, seq, payload, created_at, attempts, "
                "status FROM events WHERE status != 'dead' "
                "AND available_at <= ? AND claimed_until <= ? "
                "ORDER BY ord LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE events SET status = 'claimed', claimed_by = ?, claimed_until = ? "
                    "WHERE id = ?",
                    (worker, now + claim_for, row[0]),
                )
        return [_event(row, status="claimed") for row in rows]

    def ack_event(self, event_id: str, worker: str) -> bool:
        with self._write("acknowledging an event") as conn:
            deleted = conn.execute(
                "DELETE FROM events WHERE id = ? AND claimed_by = ? AND status = 'claimed'",
                (event_id, worker),
            ).rowcount
        return bool(deleted)

    def retry_event(self, event_id: str, worker: str, *, delay: float, max_attempts: int) -> str:
        with self._write("retrying an event") as conn:
            row = conn.execute(
                "UPDATE events SET attempts = attempts + 1, claimed_by = NULL, claimed_until = 0, "
                "available_at = ?, status = CASE WHEN attempts + 1 >= ? THEN 'dead' "
                "ELSE 'pending' END WHERE id = ? AND claimed_by = ? AND status = 'claimed' "
                "RETURNING status",
                (self.now() + delay, max_attempts, event_id, worker),
            ).fetchone()
        return "gone" if row is None else str(row[0])

    def dead_event_envelopes(self) -> list[Event]:
        rows = self._read_all(
            "SELECT id, kind, profile, issuer, client_id, seq, payload, created_at, attempts, "
            "status FROM events WHERE status = 'dead' "
            "ORDER BY ord",
            (),
        )
        return [_event(row) for row in rows]

    def _read_one(self, sql: str, args: tuple[object, ...]) -> Any:
        rows = self._read_all(sql, args)
        return rows[0] if rows else None

    def _read_all(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        conn = self._take(True)
        try:
            return list(conn.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            raise self._translate(exc, "reading") from None
        finally:
            self._give(conn, True)

    # -- single-use records and counters ----------------------------------------------

    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        now = self.now()
        with self._write("saving a single-use record", durable=False) as conn:
            conn.execute("DELETE FROM once WHERE expires_at <= ?", (now,))
            inserted = conn.execute(
                "INSERT INTO once (namespace, id, data, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (namespace, id, envelope, now + ttl),
            ).rowcount
            if not inserted:
                raise StoreConflict(f"a single-use record {namespace}/{id} already exists")

    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        now = self.now()
        with self._write("taking a single-use record", durable=False) as conn:
            # One statement: two takers can never both get the record.
            row = conn.execute(
                "DELETE FROM once WHERE namespace = ? AND id = ? RETURNING data, expires_at",
                (namespace, id),
            ).fetchone()
        if row is None or row[1] <= now:
            return None
        return bytes(row[0])

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        check_rate_args(rate, burst)
        now = self.now()
        with self._write("counting a request", durable=False) as conn:
            row = conn.execute(
                "SELECT tokens, updated FROM buckets WHERE bucket = ?", (bucket,)
            ).fetchone()
            step = take_token(row[0] if row else None, row[1] if row else None, now, rate, burst)
            conn.execute(
                "INSERT INTO buckets (bucket, tokens, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, "
                "updated = excluded.updated",
                (bucket, step.tokens, step.updated),
            )
        return step.wait

    def incr_daily(self, bucket: str, day: str | None, limit: int) -> int | None:
        day = day if day is not None else utc_day(self.now())
        with self._write("counting a request", durable=False) as conn:
            conn.execute("DELETE FROM daily WHERE bucket = ? AND day < ?", (bucket, day))
            row = conn.execute(
                "SELECT count FROM daily WHERE bucket = ? AND day = ?", (bucket, day)
            ).fetchone()
            count = next_daily(row[0] if row else None, limit)
            if count is not None:
                conn.execute(
                    "INSERT INTO daily (bucket, day, count) VALUES (?, ?, ?) "
                    "ON CONFLICT (bucket, day) DO UPDATE SET count = excluded.count",
                    (bucket, day, count),
                )
        return count

    # -- the rest ---------------------------------------------------------------------

    def server_facts(self) -> tuple[str, str, dict[str, str]]:
        # Grant writes use synchronous=FULL connections: each commit is fsynced.
        return f"SQLite {sqlite3.sqlite_version}", "WAL journal, grants fsynced on commit", {}

    def location(self) -> str:
        return str(self.path)

    def backend_warnings(self) -> list[str]:
        return list(self._warnings)

    def close(self) -> None:
        super().close()
        pools, self._durable, self._fast = self._durable + self._fast, [], []
        if self._pid != os.getpid():
            _FORKED_AWAY.extend(pools)
            return
        for conn in pools:
            conn.close()
