"""Token stores: one small protocol (``Store``), backends behind it, encryption at rest.

``open_store(url)`` picks the backend from a URL:

- ``sqlite://`` (default): ``<user state dir>/ctct/tokens.db``
- ``sqlite:///abs/path/tokens.db``: that file (``sqlite:////abs/path/tokens.db`` too)
- ``memory://``: a private in-process store; ``memory://NAME``: shared in this process
- ``postgresql://user@host/db?schema=ctct``: a PostgreSQL schema (``ctct[postgres]``)
- ``redis://host:6379/0?prefix=ctct``, ``rediss://...``: a Redis server (``ctct[redis]``)

The PostgreSQL and Redis backends are imported only when such a URL is opened.

Records are opaque bytes, encrypted with AES-256-GCM when a store key is configured (see
``ctct.stores.keys`` for where keys come from) and bound to their grant key.
"""

from __future__ import annotations

import threading
import time

from ctct.errors import ConfigError, StoreError
from ctct.stores.base import (
    AccountState,
    Attempt,
    Claim,
    Clock,
    Event,
    GrantKey,
    Lease,
    LeaseLost,
    Record,
    RecordUnreadable,
    Store,
    StoreConflict,
    StoreCorrupt,
    StoreInfo,
    StoreLock,
    StoreLockTimeout,
    StoreMoved,
)
from ctct.stores.crypto import KeyConfig, generate_key, write_key_file
from ctct.stores.keys import (
    KeyProvider,
    default_key_file,
    default_key_provider,
    no_keys,
    resolve_keys,
    static_keys,
)
from ctct.stores.memory import MemoryState, MemoryStore
from ctct.stores.sealed import SealedStore
from ctct.stores.sqlite import SqliteStore, default_path
from ctct.stores.urls import sqlite_path

__all__ = [
    "AccountState",
    "Attempt",
    "Claim",
    "Clock",
    "Event",
    "GrantKey",
    "KeyConfig",
    "KeyProvider",
    "Lease",
    "LeaseLost",
    "MemoryState",
    "MemoryStore",
    "Record",
    "RecordUnreadable",
    "SealedStore",
    "SqliteStore",
    "Store",
    "StoreConflict",
    "StoreCorrupt",
    "StoreError",
    "StoreInfo",
    "StoreLock",
    "StoreLockTimeout",
    "StoreMoved",
    "default_key_file",
    "default_key_provider",
    "default_path",
    "generate_key",
    "no_keys",
    "open_store",
    "rekey",
    "resolve_keys",
    "static_keys",
    "write_key_file",
]

URL_FORMS = (
    "sqlite:// (the default file), sqlite:///absolute/path.db (or sqlite:////absolute/"
    "path.db), memory://, memory://NAME, "
    "postgresql://user@host/db, redis://host:6379/0 or rediss://host:6380/0"
)

_named_mutex = threading.Lock()
_named_memory: dict[str, MemoryState] = {}


def open_store(
    url: str | None = None,
    *,
    key_provider: KeyProvider | None = None,
    clock: Clock = time.time,
) -> SealedStore:
    """Open the store at ``url`` (None: the default SQLite file).

    ``key_provider`` supplies the encryption keys; by default SQLite stores look in the
    environment, key file and keyring (``resolve_keys``) and memory stores use none.
    ``clock`` drives single-use TTLs and rate buckets. Raises ``ConfigError`` for a URL
    it does not understand and ``StoreError`` for a store it cannot use.
    """
    text = (url or "sqlite://").strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ConfigError("the store URL has no scheme; use " + URL_FORMS)
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = sqlite_path(text) or default_path()
        provider = key_provider if key_provider is not None else default_key_provider
        return SqliteStore(path, provider(), clock)
    if scheme == "memory":
        keys = key_provider() if key_provider is not None else KeyConfig()
        if not rest:
            return MemoryStore(keys, clock)
        with _named_mutex:
            state = _named_memory.setdefault(rest, MemoryState())
        return MemoryStore(keys, clock, state=state, name=rest)
    if scheme in ("postgresql", "postgres"):
        from ctct.stores.postgres import PostgresStore

        provider = key_provider if key_provider is not None else default_key_provider
        return PostgresStore(text, provider())
    if scheme in ("redis", "rediss"):
        from ctct.stores.redis import RedisStore

        provider = key_provider if key_provider is not None else default_key_provider
        return RedisStore(text, provider())
    from ctct.stores.urls import redact_url

    raise ConfigError(
        f"unknown store URL scheme {scheme!r} in {redact_url(text)!r}; use {URL_FORMS}"
    )


def rekey(store: SealedStore, *, lock_timeout: float = 30.0) -> int:
    """Re-encrypt every grant in ``store`` with its current key; return how many changed.

    Run it after putting a new key first (``CTCT_STORE_KEY=new,old``); once it returns,
    the old key can be removed.
    """
    return store.rekey(lock_timeout=lock_timeout)
