"""The default store: one SQLite database in WAL mode, shared by every local process.

Durability: ``synchronous=FULL`` for grants (each save is fsync'd before it returns);
single-use records and rate counters use ``NORMAL`` on separate connections since losing
them on power loss is harmless. Each operation is one short transaction; writes start
with ``BEGIN IMMEDIATE`` so waiting happens in SQLite's busy handler, not in a failed
upgrade. Connections are pooled (sqlite3 objects must not be used by two threads at once).

Privacy: the directory is created 0700 and the database, ``-wal`` and ``-shm`` files are
created 0600 by us before SQLite opens them (SQLite gives files it creates later the
database's mode), without touching the process umask.

Safety: a file that is not a ctct store - garbage, truncated, another application's
database, a directory, unreadable - raises ``StoreCorrupt``/``StoreError`` naming the
path, and is never written to, truncated or deleted.

Grant locks are ``flock`` locks on ``<db>.locks/<sha256 of key>.lock`` (see ``locks``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ctct.errors import StoreError
from ctct.stores.base import (
    Clock,
    GrantKey,
    StoreConflict,
    StoreCorrupt,
    StoreLock,
    check_lock_timeout,
    check_rate_args,
    conflict_error,
)
from ctct.stores.crypto import KeyConfig
from ctct.stores.files import check_sqlite_file, create_private, private_dir
from ctct.stores.locks import ProcessLock
from ctct.stores.rate import next_daily, take_token
from ctct.stores.sealed import SealedStore

SCHEMA_VERSION = 1
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

_LOAD = "SELECT data, version FROM grants WHERE profile = ? AND issuer = ? AND client_id = ?"
_UPSERT = (
    "INSERT INTO grants (profile, issuer, client_id, version, data) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (profile, issuer, client_id) DO UPDATE "
    "SET version = excluded.version, data = excluded.data"
)

# Connections of a parent process are unusable in a forked child and closing them there
# could checkpoint or delete the parent's WAL: the child parks them here, never closed.
_FORKED_AWAY: list[sqlite3.Connection] = []


def default_path() -> Path:
    """``<user state dir>/ctct/tokens.db`` (e.g. ``~/.local/state/ctct/tokens.db``)."""
    import platformdirs

    return platformdirs.user_state_path("ctct") / "tokens.db"


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
        check_sqlite_file(self.path, self._warnings)
        for suffix in ("-wal", "-shm"):
            create_private(self.path.with_name(self.path.name + suffix))
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
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._translate(exc, "opening") from None

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

    def lock(self, key: GrantKey, timeout: float) -> StoreLock:
        self.check_open()
        check_lock_timeout(timeout)
        return ProcessLock(self.lock_dir / f"{key.digest()}.lock", timeout, str(key))

    # -- single-use records and counters ----------------------------------------------

    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        now = self.clock()
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
        now = self.clock()
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
        now = self.clock()
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

    def incr_daily(self, bucket: str, day: str, limit: int) -> int | None:
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
