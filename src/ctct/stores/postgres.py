"""The PostgreSQL store (``postgresql://...``): grants and coordination for a fleet.

psycopg 3 with a bounded ``psycopg_pool`` (``?pool_max=``, default 4 per process): every
operation takes a connection, runs one short statement or transaction and gives the
connection back, so no connection or transaction is ever held across network I/O, and
waiters for a lease poll without holding one (16 processes x 8 threads use at most
16 x ``pool_max`` connections). Everything runs on the server's clock
(``clock_timestamp()``). Row locks and transaction-scoped advisory locks only: safe behind
PgBouncer's transaction pooling (no session state is used).

The schema (``?schema=``, default ``ctct``) is created and upgraded only by
``ctct store init`` / ``ctct store upgrade`` (``initialize_schema``), which take a
transaction-scoped advisory lock so replicas starting together are safe, and which a
role with DDL rights can run apart from the application's role. Opening a store only
checks the schema: missing or older than this release needs -> a clear error.
``meta.schema_version`` is the oldest release able to use the schema (migrations only add,
so the previous release keeps reading during a rolling deploy); ``schema_revision`` is
the newest migration applied.

psycopg is imported here only: ``import ctct`` and the CLI's fast path never load it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ctct.errors import ConfigError, StoreError
from ctct.stores.base import (
    Attempt,
    Claim,
    Event,
    GrantKey,
    StoreConflict,
    check_rate_args,
    conflict_error,
)
from ctct.stores.crypto import KeyConfig
from ctct.stores.sealed import RawState, SealedStore
from ctct.stores.urls import identifier, positive_int, redact_url, split_options

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

T = TypeVar("T")

SCHEMA_VERSION: Final = 1  # the oldest release that can use the schema
SCHEMA_REVISION: Final = 1  # the newest migration
_OPTIONS = {
    "schema": "ctct",
    "pool_max": "4",
    "connect_timeout": "10",
    "retry_for": "15",
    "prepare_threshold": "off",
}
_NOW = "(extract(epoch from clock_timestamp())::float8 + %(o)s::float8)"

# Each migration is one transaction; only additions, so older releases keep working.
MIGRATIONS: Final[dict[int, str]] = {
    1: """
CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.grants (
    profile text NOT NULL, issuer text NOT NULL, client_id text NOT NULL,
    version bigint NOT NULL, data bytea,
    PRIMARY KEY (profile, issuer, client_id));
CREATE TABLE IF NOT EXISTS {s}.once (
    namespace text NOT NULL, id text NOT NULL, data bytea NOT NULL,
    expires_at float8 NOT NULL, PRIMARY KEY (namespace, id));
CREATE INDEX IF NOT EXISTS once_expiry ON {s}.once (expires_at);
CREATE TABLE IF NOT EXISTS {s}.buckets (
    bucket text PRIMARY KEY, tokens float8 NOT NULL, updated float8 NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.daily (
    bucket text NOT NULL, day text NOT NULL, count bigint NOT NULL,
    PRIMARY KEY (bucket, day));
CREATE TABLE IF NOT EXISTS {s}.leases (
    name text PRIMARY KEY, holder text, fence bigint NOT NULL, expires_at float8 NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.attempts (
    profile text NOT NULL, issuer text NOT NULL, client_id text NOT NULL,
    holder text NOT NULL, parent text NOT NULL, fence bigint NOT NULL,
    started_at float8 NOT NULL, PRIMARY KEY (profile, issuer, client_id));
CREATE TABLE IF NOT EXISTS {s}.states (
    profile text NOT NULL, issuer text NOT NULL, client_id text NOT NULL,
    code text NOT NULL, reason text NOT NULL, detail bytea NOT NULL, since float8 NOT NULL,
    PRIMARY KEY (profile, issuer, client_id));
CREATE TABLE IF NOT EXISTS {s}.schedule (
    profile text NOT NULL, issuer text NOT NULL, client_id text NOT NULL,
    due_at float8 NOT NULL, claimed_by text, claimed_until float8 NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, issuer, client_id));
CREATE INDEX IF NOT EXISTS schedule_due ON {s}.schedule (due_at);
CREATE TABLE IF NOT EXISTS {s}.sequences (scope text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.events (
    id text PRIMARY KEY, ord bigserial, kind text NOT NULL,
    profile text, issuer text, client_id text, seq bigint NOT NULL, payload bytea NOT NULL,
    created_at float8 NOT NULL, attempts integer NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'pending', available_at float8 NOT NULL,
    claimed_by text, claimed_until float8 NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_ready ON {s}.events (status, available_at, ord);
""",
}

_KEY = "profile = %(p)s AND issuer = %(i)s AND client_id = %(c)s"
PAGE: Final = 1_000
_EVENT_COLUMNS = "id, kind, profile, issuer, client_id, seq, payload, created_at, attempts, status"


def _import_psycopg() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise ConfigError(
            "a postgresql:// store needs psycopg 3 and psycopg_pool: pip install 'ctct[postgres]'"
        ) from None
    return psycopg, psycopg_pool


def _key(key: GrantKey) -> dict[str, Any]:
    return {"p": key.profile, "i": key.issuer, "c": key.client_id}


class PgSettings:
    """What a ``postgresql://`` URL says: the driver's conninfo and ctct's options."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = redact_url(url)
        conninfo, options = split_options(url, _OPTIONS)
        self.conninfo = conninfo
        self.schema = identifier(options["schema"], "schema", url)
        self.pool_max = positive_int(options["pool_max"], "pool_max", url)
        self.connect_timeout = positive_int(options["connect_timeout"], "connect_timeout", url)
        self.retry_for = float(positive_int(options["retry_for"], "retry_for", url))
        # psycopg prepares a statement server-side after its 5th use on a connection,
        # which PgBouncer's transaction pooling cannot follow (before 1.21, or without
        # max_prepared_statements): off unless the URL asks for it.
        threshold = options["prepare_threshold"]
        self.prepare_threshold = (
            None if threshold == "off" else positive_int(threshold, "prepare_threshold", url)
        )

    def driver_options(self) -> dict[str, Any]:
        return {
            "autocommit": True,
            "connect_timeout": self.connect_timeout,
            "prepare_threshold": self.prepare_threshold,
        }

    def sql(self, text: str) -> str:
        """``text`` with ``{s}`` as the quoted schema (a checked identifier)."""
        return text.replace("{s}", f'"{self.schema}"').replace("%(now)s", _NOW)


def connect_once(settings: PgSettings) -> Any:
    pg, _ = _import_psycopg()
    try:
        conn = pg.connect(settings.conninfo, **settings.driver_options())
    except pg.Error as exc:
        raise StoreError(
            f"cannot connect to the PostgreSQL store {settings.shown}: {_first_line(exc)}"
        ) from None
    return conn


def schema_revision(conn: psycopg.Connection[Any], settings: PgSettings) -> tuple[int, int] | None:
    """``(schema_version, schema_revision)`` or None when the schema is missing."""
    row = conn.execute(
        "SELECT to_regclass(%(t)s) IS NOT NULL", {"t": f'"{settings.schema}".meta'}
    ).fetchone()
    if row is None or not row[0]:
        return None
    rows = dict(conn.execute(settings.sql("SELECT key, value FROM {s}.meta")).fetchall())
    return int(rows.get("schema_version", "0")), int(rows.get("schema_revision", "0"))


def initialize_schema(url: str) -> tuple[int | None, int]:
    """Create or upgrade the schema; returns (revision before or None, revision after).

    Safe when several replicas run it at once: one transaction under an advisory lock
    scoped to that transaction (works behind PgBouncer's transaction pooling)."""
    settings = PgSettings(url)
    pg, _ = _import_psycopg()
    with connect_once(settings) as conn:
        try:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%(n)s))",
                    {"n": f"ctct-schema:{settings.schema}"},
                )
                conn.execute(settings.sql("CREATE SCHEMA IF NOT EXISTS {s}"))
                found = schema_revision(conn, settings)
                before = found[1] if found is not None else None
                if found is not None and found[0] > SCHEMA_REVISION:
                    raise StoreError(
                        f"the schema {settings.schema!r} of {settings.shown} was made by a "
                        f"newer ctct (needs schema {found[0]}); upgrade ctct"
                    )
                for revision in sorted(MIGRATIONS):
                    if before is None or revision > before:
                        conn.execute(settings.sql(MIGRATIONS[revision]))
                conn.execute(
                    settings.sql(
                        "INSERT INTO {s}.meta (key, value) VALUES ('schema_version', %(v)s), "
                        "('schema_revision', %(r)s) ON CONFLICT (key) DO UPDATE SET "
                        "value = excluded.value"
                    ),
                    {"v": str(SCHEMA_VERSION), "r": str(max(SCHEMA_REVISION, before or 0))},
                )
        except pg.Error as exc:
            raise StoreError(
                f"cannot create the schema {settings.schema!r} in {settings.shown}: "
                f"{_first_line(exc)} (it needs a role allowed to CREATE in the database)"
            ) from None
    return before, SCHEMA_REVISION


def drop_schema(url: str) -> None:
    """Drop the store's schema and everything in it (tests; ``ctct store`` never does)."""
    settings = PgSettings(url)
    with connect_once(settings) as conn:
        conn.execute(settings.sql("DROP SCHEMA IF EXISTS {s} CASCADE"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresStore(SealedStore):
    """A ``Store`` in a PostgreSQL schema, shared by every host that can reach it."""

    backend = "postgresql"
    remote_clock = True
    lease_poll_max = 0.1

    def __init__(self, url: str, keys: KeyConfig | None = None) -> None:
        super().__init__(keys if keys is not None else KeyConfig())
        self.settings = PgSettings(url)
        self._psycopg, self._pool_module = _import_psycopg()
        self._pid = os.getpid()
        self._pool = self._new_pool()
        self.server_version = ""
        with self._connection() as conn:
            found = schema_revision(conn, self.settings)
            row = conn.execute("SHOW server_version").fetchone()
            self.server_version = str(row[0]) if row else ""
        if found is None or found[1] < SCHEMA_VERSION:
            self.close()
            what = "missing" if found is None else "older than this ctct needs"
            raise StoreError(
                f"the PostgreSQL store {self.settings.shown} has its schema "
                f"{self.settings.schema!r} {what}: run `ctct store init` (or "
                "`ctct store upgrade`) with a role allowed to create tables"
            )
        if found[0] > SCHEMA_REVISION:
            self.close()
            raise StoreError(
                f"the schema {self.settings.schema!r} of {self.settings.shown} was made by a "
                f"newer ctct (it needs schema {found[0]}); upgrade ctct"
            )
        self.revision = found[1]

    # -- connections ------------------------------------------------------------------

    def _new_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        pool: psycopg_pool.ConnectionPool[Any] = self._pool_module.ConnectionPool(
            self.settings.conninfo,
            min_size=0,
            max_size=self.settings.pool_max,
            kwargs=self.settings.driver_options(),
            open=True,
            timeout=self.settings.retry_for,
            name="ctct-store",
        )
        return pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        self.check_open()
        if self._pid != os.getpid():  # a forked child must not share the parent's sockets
            self._pid, self._pool = os.getpid(), self._new_pool()
        try:
            with self._pool.connection() as conn:
                yield conn
        except self._pool_module.PoolTimeout:
            raise StoreError(
                f"the PostgreSQL store {self.settings.shown} did not answer within "
                f"{self.settings.retry_for:g} s; check that it is up and reachable"
            ) from None

    def _run(self, action: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` on a pooled connection; retry while the server is unreachable
        (a restart, a failover) for up to ``retry_for`` seconds."""
        deadline = time.monotonic() + self.settings.retry_for
        pause = 0.05
        while True:
            try:
                with self._connection() as conn:
                    return work(conn)
            except self._psycopg.OperationalError as exc:
                if time.monotonic() + pause > deadline:
                    raise StoreError(
                        f"the PostgreSQL store {self.settings.shown} failed while {action}: "
                        f"{_first_line(exc)}"
                    ) from None
                time.sleep(pause)
                pause = min(1.0, pause * 2)
            except self._psycopg.Error as exc:
                raise StoreError(
                    f"the PostgreSQL store {self.settings.shown} failed while {action}: "
                    f"{_first_line(exc)}"
                ) from None

    def _one(self, action: str, sql: str, args: dict[str, Any]) -> Any:
        query = self.settings.sql(sql)
        args = {**args, "o": self.time_offset}
        return self._run(action, lambda conn: conn.execute(query, args).fetchone())

    def _all(self, action: str, sql: str, args: dict[str, Any]) -> list[Any]:
        query = self.settings.sql(sql)
        args = {**args, "o": self.time_offset}
        return self._run(action, lambda conn: conn.execute(query, args).fetchall())

    def _count(self, action: str, sql: str, args: dict[str, Any]) -> int:
        query = self.settings.sql(sql)
        args = {**args, "o": self.time_offset}
        return self._run(action, lambda conn: conn.execute(query, args).rowcount)

    def location(self) -> str:
        return f"{self.settings.shown} (schema {self.settings.schema})"

    def now(self) -> float:
        return float(self._one("reading the clock", "SELECT %(now)s", {})[0])

    def close(self) -> None:
        if not self.closed and self._pid == os.getpid():
            self._pool.close()
        super().close()

    # -- grants -----------------------------------------------------------------------

    def load_envelope(self, key: GrantKey) -> tuple[bytes, int] | None:
        row = self._one("reading", "SELECT data, version FROM {s}.grants WHERE " + _KEY, _key(key))
        if row is None or row[0] is None:
            return None
        return bytes(row[0]), int(row[1])

    def save_envelope(self, key: GrantKey, envelope: bytes, expected_version: int | None) -> int:
        args = {**_key(key), "d": envelope, "v": expected_version}
        if expected_version is None:
            row = self._one(
                "saving",
                "INSERT INTO {s}.grants AS g (profile, issuer, client_id, version, data) "
                "VALUES (%(p)s, %(i)s, %(c)s, 1, %(d)s) ON CONFLICT (profile, issuer, client_id) "
                "DO UPDATE SET version = g.version + 1, data = excluded.data "
                "WHERE g.data IS NULL RETURNING version",
                args,
            )
        else:
            row = self._one(
                "saving",
                "UPDATE {s}.grants SET version = version + 1, data = %(d)s WHERE "
                + _KEY
                + " AND version = %(v)s AND data IS NOT NULL RETURNING version",
                args,
            )
        if row is not None:
            return int(row[0])
        raise conflict_error(key, expected_version, self._live_version(key))

    def _live_version(self, key: GrantKey) -> int | None:
        found = self.load_envelope(key)
        return None if found is None else found[1]

    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool:
        row = self._one(
            "deleting",
            "UPDATE {s}.grants SET data = NULL WHERE "
            + _KEY
            + " AND data IS NOT NULL AND (%(v)s::bigint IS NULL OR version = %(v)s::bigint) "
            "RETURNING version",
            {**_key(key), "v": expected_version},
        )
        if row is None and expected_version is not None:
            raise conflict_error(key, expected_version, self._live_version(key))
        return row is not None

    def keys(self) -> list[GrantKey]:
        rows = self._all(
            "listing",
            "SELECT profile, issuer, client_id FROM {s}.grants WHERE data IS NOT NULL "
            "ORDER BY profile, issuer, client_id",
            {},
        )
        return sorted(GrantKey(*row) for row in rows)

    def envelopes(self) -> Iterator[tuple[GrantKey, bytes, int]]:
        # Keyset pages: each page one short query, so memory stays one page's worth and
        # no connection is held while the caller works through the rows.
        after = ("", "", "")
        while True:
            rows = self._all(
                "listing",
                "SELECT profile, issuer, client_id, data, version FROM {s}.grants "
                "WHERE data IS NOT NULL AND (profile, issuer, client_id) > (%(p)s, %(i)s, %(c)s) "
                "ORDER BY profile, issuer, client_id LIMIT %(n)s",
                {"p": after[0], "i": after[1], "c": after[2], "n": PAGE},
            )
            for profile, issuer, client_id, data, version in rows:
                yield GrantKey(profile, issuer, client_id), bytes(data), int(version)
            if len(rows) < PAGE:
                return
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    # -- leases -----------------------------------------------------------------------

    def lease_try(self, key: GrantKey, holder: str, duration: float) -> int | None:
        row = self._one(
            "taking a lease",
            "INSERT INTO {s}.leases AS l (name, holder, fence, expires_at) "
            "VALUES (%(n)s, %(h)s, 1, %(now)s + %(d)s) ON CONFLICT (name) DO UPDATE SET "
            "holder = excluded.holder, fence = l.fence + 1, expires_at = excluded.expires_at "
            "WHERE l.holder IS NULL OR l.expires_at <= %(now)s RETURNING fence",
            {"n": key.context.decode(), "h": holder, "d": duration},
        )
        return None if row is None else int(row[0])

    def lease_renew(self, key: GrantKey, holder: str, duration: float) -> bool:
        return bool(
            self._count(
                "renewing a lease",
                "UPDATE {s}.leases SET expires_at = %(now)s + %(d)s WHERE name = %(n)s "
                "AND holder = %(h)s AND expires_at > %(now)s",
                {"n": key.context.decode(), "h": holder, "d": duration},
            )
        )

    def lease_release(self, key: GrantKey, holder: str) -> None:
        self._count(
            "releasing a lease",
            "UPDATE {s}.leases SET holder = NULL WHERE name = %(n)s AND holder = %(h)s",
            {"n": key.context.decode(), "h": holder},
        )

    def record_attempt(self, key: GrantKey, attempt: Attempt) -> None:
        self._count(
            "recording a refresh attempt",
            "INSERT INTO {s}.attempts (profile, issuer, client_id, holder, parent, fence, "
            "started_at) VALUES (%(p)s, %(i)s, %(c)s, %(h)s, %(a)s, %(f)s, %(now)s) "
            "ON CONFLICT (profile, issuer, client_id) DO UPDATE SET holder = excluded.holder, "
            "parent = excluded.parent, fence = excluded.fence, started_at = excluded.started_at",
            {**_key(key), "h": attempt.holder, "a": attempt.parent, "f": attempt.fence},
        )

    def load_attempt(self, key: GrantKey) -> Attempt | None:
        row = self._one(
            "reading a refresh attempt",
            "SELECT holder, parent, fence, started_at FROM {s}.attempts WHERE " + _KEY,
            _key(key),
        )
        return None if row is None else Attempt(row[0], row[1], int(row[2]), float(row[3]))

    def clear_attempt(self, key: GrantKey, fence: int) -> None:
        self._count(
            "clearing a refresh attempt",
            "DELETE FROM {s}.attempts WHERE " + _KEY + " AND fence = %(f)s",
            {**_key(key), "f": fence},
        )

    # -- states and scheduling --------------------------------------------------------

    def put_state(self, key: GrantKey, code: str, reason: str, detail: bytes) -> None:
        self._count(
            "saving an account state",
            "INSERT INTO {s}.states AS t (profile, issuer, client_id, code, reason, detail, "
            "since) VALUES (%(p)s, %(i)s, %(c)s, %(code)s, %(r)s, %(d)s, %(now)s) "
            "ON CONFLICT (profile, issuer, client_id) DO UPDATE SET "
            "since = CASE WHEN t.code = excluded.code AND t.reason = excluded.reason "
            "THEN t.since ELSE excluded.since END, code = excluded.code, "
            "reason = excluded.reason, detail = excluded.detail",
            {**_key(key), "code": code, "r": reason, "d": detail},
        )

    def get_states(self, key: GrantKey | None) -> dict[GrantKey, RawState]:
        query = "SELECT profile, issuer, client_id, code, reason, detail, since FROM {s}.states"
        if key is not None:
            rows = self._all("reading account states", query + " WHERE " + _KEY, _key(key))
        else:
            rows = self._all("reading account states", query, {})
        return {GrantKey(r[0], r[1], r[2]): (r[3], r[4], bytes(r[5]), float(r[6])) for r in rows}

    def schedule(self, key: GrantKey, due_at: float | None) -> None:
        if due_at is None:
            self._count("scheduling", "DELETE FROM {s}.schedule WHERE " + _KEY, _key(key))
            return
        self._count(
            "scheduling",
            "INSERT INTO {s}.schedule (profile, issuer, client_id, due_at, claimed_by, "
            "claimed_until) VALUES (%(p)s, %(i)s, %(c)s, %(d)s, NULL, 0) "
            "ON CONFLICT (profile, issuer, client_id) DO UPDATE SET due_at = excluded.due_at, "
            "claimed_by = NULL, claimed_until = 0",
            {**_key(key), "d": due_at},
        )

    def due(self, limit: int = 100) -> list[tuple[GrantKey, float]]:
        rows = self._all(
            "listing due grants",
            "SELECT profile, issuer, client_id, due_at FROM {s}.schedule "
            "ORDER BY due_at, profile, issuer, client_id LIMIT %(l)s",
            {"l": limit},
        )
        return [(GrantKey(r[0], r[1], r[2]), float(r[3])) for r in rows]

    def claim_due(self, worker: str, *, limit: int, claim_for: float) -> list[Claim]:
        # SKIP LOCKED: claimers pass over rows another claimer is updating instead of
        # waiting, so N workers never hand out one due grant twice at once.
        rows = self._all(
            "claiming due grants",
            "UPDATE {s}.schedule s SET claimed_by = %(w)s, claimed_until = %(now)s + %(f)s "
            "FROM (SELECT s2.profile, s2.issuer, s2.client_id FROM {s}.schedule s2 "
            "JOIN {s}.grants g USING (profile, issuer, client_id) "
            "WHERE s2.due_at <= %(now)s AND s2.claimed_until <= %(now)s "
            "AND g.data IS NOT NULL ORDER BY s2.due_at LIMIT %(l)s "
            "FOR UPDATE OF s2 SKIP LOCKED) pick "
            "WHERE s.profile = pick.profile AND s.issuer = pick.issuer "
            "AND s.client_id = pick.client_id "
            "RETURNING s.profile, s.issuer, s.client_id, s.due_at, s.claimed_until",
            {"w": worker, "f": claim_for, "l": limit},
        )
        claims = [Claim(GrantKey(r[0], r[1], r[2]), float(r[3]), float(r[4])) for r in rows]
        return sorted(claims, key=lambda c: (c.due_at, c.key))

    # -- outbox -----------------------------------------------------------------------

    def append_event(
        self, event_id: str, kind: str, key: GrantKey | None, envelope: bytes
    ) -> Event:
        ident = _key(key) if key is not None else {"p": None, "i": None, "c": None}
        row = self._one(
            "adding an event",
            "WITH s AS (INSERT INTO {s}.sequences AS q (scope, seq) VALUES (%(scope)s, 1) "
            "ON CONFLICT (scope) DO UPDATE SET seq = q.seq + 1 RETURNING seq) "
            "INSERT INTO {s}.events (id, kind, profile, issuer, client_id, seq, payload, "
            "created_at, available_at) SELECT %(id)s, %(k)s, %(p)s, %(i)s, %(c)s, s.seq, "
            "%(d)s, %(now)s, %(now)s FROM s RETURNING seq, created_at",
            {
                **ident,
                "scope": key.context.decode() if key is not None else "*",
                "id": event_id,
                "k": kind,
                "d": envelope,
            },
        )
        return Event(event_id, kind, key, int(row[0]), envelope, float(row[1]))

    def claim_event_envelopes(self, worker: str, limit: int, claim_for: float) -> list[Event]:
        rows = self._all(
            "claiming events",
            "UPDATE {s}.events e SET status = 'claimed', claimed_by = %(w)s, "
            "claimed_until = %(now)s + %(f)s FROM (SELECT id FROM {s}.events "
            "WHERE status <> 'dead' AND available_at <= %(now)s AND claimed_until <= %(now)s "
            "ORDER BY ord LIMIT %(l)s FOR UPDATE SKIP LOCKED) pick WHERE e.id = pick.id "
            "RETURNING e.ord, " + ", ".join(f"e.{c.strip()}" for c in _EVENT_COLUMNS.split(",")),
            {"w": worker, "f": claim_for, "l": limit},
        )
        return [_event(row[1:]) for row in sorted(rows, key=lambda r: int(r[0]))]

    def ack_event(self, event_id: str, worker: str) -> bool:
        return bool(
            self._count(
                "acknowledging an event",
                "DELETE FROM {s}.events WHERE id = %(id)s AND claimed_by = %(w)s "
                "AND status = 'claimed'",
                {"id": event_id, "w": worker},
            )
        )

    def retry_event(self, event_id: str, worker: str, *, delay: float, max_attempts: int) -> str:
        row = self._one(
            "retrying an event",
            "UPDATE {s}.events SET attempts = attempts + 1, claimed_by = NULL, "
            "claimed_until = 0, available_at = %(now)s + %(d)s, status = CASE WHEN "
            "attempts + 1 >= %(m)s THEN 'dead' ELSE 'pending' END WHERE id = %(id)s "
            "AND claimed_by = %(w)s AND status = 'claimed' RETURNING status",
            {"id": event_id, "w": worker, "d": delay, "m": max_attempts},
        )
        return "gone" if row is None else str(row[0])

    def dead_event_envelopes(self) -> list[Event]:
        rows = self._all(
            "listing dead events",
            "SELECT " + _EVENT_COLUMNS + " FROM {s}.events WHERE status = 'dead' ORDER BY ord",
            {},
        )
        return [_event(row) for row in rows]

    # -- single-use records and counters ----------------------------------------------

    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        row = self._one(
            "saving a single-use record",
            "INSERT INTO {s}.once AS o (namespace, id, data, expires_at) "
            "VALUES (%(n)s, %(id)s, %(d)s, %(now)s + %(t)s) ON CONFLICT (namespace, id) "
            "DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at "
            "WHERE o.expires_at <= %(now)s RETURNING 1",
            {"n": namespace, "id": id, "d": envelope, "t": ttl},
        )
        if row is None:
            raise StoreConflict(f"a single-use record {namespace}/{id} already exists")
        self._count(  # expired records of others: cheap, indexed
            "expiring single-use records",
            "DELETE FROM {s}.once WHERE expires_at <= %(now)s - 60",
            {},
        )

    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        # One statement: two takers can never both get the record.
        row = self._one(
            "taking a single-use record",
            "DELETE FROM {s}.once WHERE namespace = %(n)s AND id = %(id)s "
            "RETURNING data, expires_at > %(now)s",
            {"n": namespace, "id": id},
        )
        if row is None or not row[1]:
            return None
        return bytes(row[0])

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        check_rate_args(rate, burst)
        # The token bucket of ``ctct.stores.rate.take_token``, in one statement.
        sql = (
            "WITH old AS (SELECT tokens, updated FROM {s}.buckets WHERE bucket = %(b)s "
            "FOR UPDATE), calc AS (SELECT least(%(burst)s, old.tokens + greatest(0, "
            "n.t - old.updated) * %(rate)s) AS avail, greatest(n.t, old.updated) AS stamp "
            "FROM old, (SELECT %(now)s AS t) n) UPDATE {s}.buckets SET "
            "tokens = CASE WHEN calc.avail >= 1 THEN calc.avail - 1 ELSE calc.avail END, "
            "updated = calc.stamp FROM calc WHERE bucket = %(b)s RETURNING "
            "CASE WHEN calc.avail >= 1 THEN 0 ELSE (1 - calc.avail) / %(rate)s END"
        )
        args = {"b": bucket, "rate": float(rate), "burst": float(burst)}
        row = self._one("counting a request", sql, args)
        if row is None:
            # A new bucket starts full: create it with this request's token taken.
            created = self._one(
                "counting a request",
                "INSERT INTO {s}.buckets (bucket, tokens, updated) VALUES "
                "(%(b)s, %(burst)s - 1, %(now)s) ON CONFLICT (bucket) DO NOTHING RETURNING 0",
                args,
            )
            if created is not None:
                return 0.0
            row = self._one("counting a request", sql, args)
        return max(0.0, float(row[0]))

    def incr_daily(self, bucket: str, day: str | None, limit: int) -> int | None:
        if limit < 1:
            return None
        today = "coalesce(%(day)s, to_char(to_timestamp(%(now)s) AT TIME ZONE 'UTC', 'YYYY-MM-DD'))"
        row = self._one(
            "counting a request",
            "WITH gone AS (DELETE FROM {s}.daily WHERE bucket = %(b)s AND day < " + today + ") "
            "INSERT INTO {s}.daily AS d (bucket, day, count) VALUES (%(b)s, " + today + ", 1) "
            "ON CONFLICT (bucket, day) DO UPDATE SET count = d.count + 1 "
            "WHERE d.count < %(l)s RETURNING count",
            {"b": bucket, "day": day, "l": limit},
        )
        return None if row is None else int(row[0])

    # -- status -----------------------------------------------------------------------

    def backend_warnings(self) -> list[str]:
        return []

    def server_facts(self) -> tuple[str, str, dict[str, str]]:
        row = self._one(
            "probing", "SELECT current_setting('fsync'), current_setting('synchronous_commit')", {}
        )
        return (
            f"PostgreSQL {self.server_version}",
            f"fsync={row[0]}, synchronous_commit={row[1]}",
            {"schema": f"{self.settings.schema} (revision {self.revision})"},
        )


def _event(row: Any) -> Event:
    key = GrantKey(row[2], row[3], row[4]) if row[2] is not None else None
    return Event(
        id=row[0],
        kind=row[1],
        key=key,
        seq=int(row[5]),
        payload=bytes(row[6]),
        created_at=float(row[7]),
        attempts=int(row[8]),
        status=str(row[9]),
    )
