"""Helpers for the store tests: every backend behind one interface, plus raw access.

Raw access (the stored envelope bytes, bypassing the store) lets tests check what reaches
the disk and tamper with it the way an attacker or a bad copy would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctct.stores import (
    GrantKey,
    KeyConfig,
    MemoryState,
    MemoryStore,
    SealedStore,
    SqliteStore,
)
from ctct.stores.crypto import parse_keys


class ManualClock:
    """A clock that moves only when told to (a real injectable clock, not a mock).

    For backends whose clock is the server's (PostgreSQL, Redis), ``advance`` moves the
    test-only ``time_offset`` of every store handle registered with ``follow``."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.offset = 0.0
        self.followers: list[SealedStore] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.offset += seconds
        for store in self.followers:
            store.time_offset = self.offset

    def follow(self, store: SealedStore) -> SealedStore:
        store.time_offset = self.offset
        self.followers.append(store)
        return store


def keys_of(*texts: str) -> KeyConfig:
    """A KeyConfig from key texts (first encrypts)."""
    parsed = tuple(k for t in texts for k in parse_keys(t, source="test"))
    return KeyConfig(parsed, "test keys" if parsed else None)


@dataclass
class Backend:
    """One backend under test: makes handles on one shared store, and raw access to it."""

    name: str
    clock: ManualClock
    _make: Callable[[KeyConfig, ManualClock], SealedStore]
    raw_get: Callable[[GrantKey], bytes | None]
    raw_set: Callable[[GrantKey, bytes], None]
    opened: list[SealedStore] = field(default_factory=list)

    def make(self, keys: KeyConfig | None = None) -> SealedStore:
        """A new handle on the same underlying store (like another worker would open)."""
        store = self._make(keys if keys is not None else KeyConfig(), self.clock)
        self.opened.append(store)
        return store


def sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "state" / "tokens.db"
    ident = "profile = ? AND issuer = ? AND client_id = ?"

    def raw_get(key: GrantKey) -> bytes | None:
        with sqlite3.connect(path) as conn:
            row = conn.execute(
                f"SELECT data FROM grants WHERE {ident}", (key.profile, key.issuer, key.client_id)
            ).fetchone()
        conn.close()
        return None if row is None or row[0] is None else bytes(row[0])

    def raw_set(key: GrantKey, blob: bytes) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(
                f"UPDATE grants SET data = ? WHERE {ident}",
                (blob, key.profile, key.issuer, key.client_id),
            )
        conn.close()

    return Backend(
        "sqlite",
        ManualClock(),
        lambda keys, clock: SqliteStore(path, keys, clock),
        raw_get,
        raw_set,
    )


def memory_backend() -> Backend:
    state = MemoryState()

    def raw_get(key: GrantKey) -> bytes | None:
        return state.grants.get(key, (None, 0))[0]

    def raw_set(key: GrantKey, blob: bytes) -> None:
        state.grants[key] = (blob, state.grants[key][1])

    return Backend(
        "memory",
        ManualClock(),
        lambda keys, clock: MemoryStore(keys, clock, state=state, name="test"),
        raw_get,
        raw_set,
    )


GRANT = GrantKey("default", "https://authz.example/oauth2/aus1", "client-1")
OTHER = GrantKey("second", "https://authz.example/oauth2/aus1", "client-1")


def postgres_backend(url: str) -> Backend:
    """A PostgreSQL backend on the schema named in ``url`` (created by the caller)."""
    import psycopg

    from ctct.stores.postgres import PgSettings, PostgresStore

    settings = PgSettings(url)
    ident = "profile = %s AND issuer = %s AND client_id = %s"

    def raw_get(key: GrantKey) -> bytes | None:
        with psycopg.connect(settings.conninfo, autocommit=True) as conn:
            row = conn.execute(
                settings.sql("SELECT data FROM {s}.grants WHERE " + ident),
                (key.profile, key.issuer, key.client_id),
            ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def raw_set(key: GrantKey, blob: bytes) -> None:
        with psycopg.connect(settings.conninfo, autocommit=True) as conn:
            conn.execute(
                settings.sql("UPDATE {s}.grants SET data = %s WHERE " + ident),
                (blob, key.profile, key.issuer, key.client_id),
            )

    clock = ManualClock()
    return Backend(
        "postgresql",
        clock,
        lambda keys, clock: clock.follow(PostgresStore(url, keys)),
        raw_get,
        raw_set,
    )


def redis_backend(url: str) -> Backend:
    """A Redis backend under the key prefix named in ``url``."""
    import redis

    from ctct.stores.redis import RedisSettings, RedisStore

    settings = RedisSettings(url)

    def raw_get(key: GrantKey) -> bytes | None:
        client = redis.Redis.from_url(settings.conninfo)
        try:
            value: Any = client.hget(settings.grant_key(key), "data")
        finally:
            client.close()
        return None if value is None or value == b"" else bytes(value)

    def raw_set(key: GrantKey, blob: bytes) -> None:
        client = redis.Redis.from_url(settings.conninfo)
        try:
            client.hset(settings.grant_key(key), "data", blob)
        finally:
            client.close()

    clock = ManualClock()
    return Backend(
        "redis",
        clock,
        lambda keys, clock: clock.follow(RedisStore(url, keys)),
        raw_get,
        raw_set,
    )
