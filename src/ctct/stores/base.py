"""The store protocol every backend implements, its value types and its errors.

A store keeps, per grant (profile + issuer + client_id), one opaque record with a version
used for compare-and-swap, a per-grant lock meant to be held across a network refresh,
short-lived single-use records (login state, PKCE verifiers) and shared rate-limit
counters. Backends only move bytes; encryption is done once, in ``_BaseStore``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from ctct.errors import StoreError

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time``; injected so tests control TTLs and rates."""


class StoreConflict(StoreError):
    """A compare-and-swap lost: the record's version is not the one expected."""

    retryable = True


class StoreLockTimeout(StoreError):
    """A grant's lock could not be taken within the timeout."""

    retryable = True


class StoreCorrupt(StoreError):
    """The store's file or a record in it is not in a format ctct wrote."""


@dataclass(frozen=True, order=True)
class GrantKey:
    """Identifies one stored grant.

    ``issuer`` is the provider's storage identity for the authorization server (whatever
    the provider profile gives); ``client_id`` is the application's. Several profiles
    (connected accounts) can share one issuer and client.
    """

    profile: str
    issuer: str
    client_id: str

    def __post_init__(self) -> None:
        for name in ("profile", "issuer", "client_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"GrantKey.{name} must be a non-empty string, got {value!r}")

    @cached_property  # on the hot path of every load; the key is immutable
    def context(self) -> bytes:
        """An unambiguous byte encoding, bound into encryption as associated data."""
        return json.dumps(["grant", self.profile, self.issuer, self.client_id]).encode()

    def digest(self) -> str:
        """A filesystem-safe name for this key (used for lock files)."""
        return hashlib.sha256(self.context).hexdigest()

    def __str__(self) -> str:
        return f"profile {self.profile!r} (issuer {self.issuer}, client {self.client_id})"


def once_context(namespace: str, id: str) -> bytes:
    """Associated data for a single-use record: it cannot be replayed under another id."""
    return json.dumps(["once", namespace, id]).encode()


@dataclass(frozen=True)
class Record:
    """A stored record: the plaintext bytes and the version to pass back to ``save``."""

    data: bytes = field(repr=False)  # token material: never in a repr
    version: int


@dataclass(frozen=True)
class StoreInfo:
    """What ``status`` and ``doctor`` show about a store."""

    backend: str  # "sqlite", "memory", ...
    location: str  # a path, or a description for stores without one
    encryption: str | None  # the key's source (e.g. "CTCT_STORE_KEY"), None when not encrypted
    warnings: tuple[str, ...] = ()


@runtime_checkable
class StoreLock(Protocol):
    """One acquisition of a grant's lock.

    Use it as a context manager, or call ``acquire``/``release`` (an async front end calls
    ``acquire`` in a worker thread; ``release`` may then be called from any thread). Each
    object is acquired at most once. The lock excludes other threads, other objects for the
    same key and, for backends shared between processes, other processes; a process that
    dies holding it releases it.
    """

    def acquire(self) -> None:
        """Block until the lock is held; raise ``StoreLockTimeout`` after the timeout."""

    def release(self) -> None:
        """Release the lock (``RuntimeError`` if it is not held)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Store(Protocol):
    """The token store protocol. Every method is safe to call from any thread."""

    def load(self, key: GrantKey) -> Record | None:
        """The record for ``key``, decrypted, or None if there is none."""

    def save(self, key: GrantKey, data: bytes, *, expected_version: int | None) -> int:
        """Write ``data`` atomically and durably if the current version is ``expected_version``.

        ``expected_version=None`` means the record must not exist. Returns the new version,
        which is greater than any version the key had before (even across deletes, so an
        old version can never match again). Raises ``StoreConflict`` on a mismatch.
        """

    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool:
        """Delete the record; True if one was deleted.

        With ``expected_version``, only if the record has that version (``StoreConflict``
        otherwise, including when it is gone).
        """

    def keys(self) -> list[GrantKey]:
        """Every key that has a record, sorted."""

    def lock(self, key: GrantKey, timeout: float) -> StoreLock:
        """A lock for ``key`` (not yet acquired); locks on different keys are independent."""

    def put_once(self, namespace: str, id: str, data: bytes, ttl: float) -> None:
        """Keep a single-use record for ``ttl`` seconds; ``StoreConflict`` if ``id`` is live."""

    def take_once(self, namespace: str, id: str) -> bytes | None:
        """Remove and return a single-use record; None if absent, taken or expired."""

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        """Take one token from a shared token bucket (``rate`` per second, ``burst`` max).

        Returns 0.0 when a token was taken, otherwise the seconds to wait before one is
        available (and takes nothing). A new bucket starts full.
        """

    def incr_daily(self, bucket: str, day: str, limit: int) -> int | None:
        """Count one use of ``bucket`` on ``day`` (e.g. "2026-11-30" in UTC).

        Returns the new count, or None without counting when ``limit`` is reached.
        Counts of earlier days (lower strings) are discarded.
        """

    def describe(self) -> StoreInfo:
        """Backend, location, encryption source and warnings, for ``status``/``doctor``."""

    def close(self) -> None:
        """Release resources; the store cannot be used afterwards."""


def conflict_error(key: GrantKey, expected: int | None, found: int | None) -> StoreConflict:
    """The ``StoreConflict`` for a compare-and-swap that found ``found`` (None: no record)."""

    def show(version: int | None) -> str:
        return "no record" if version is None else f"version {version}"

    return StoreConflict(
        f"the record for {key} changed concurrently: expected {show(expected)}, "
        f"found {show(found)}; re-read it and try again"
    )


def check_once_args(namespace: str, id: str) -> None:
    if not namespace or not id:
        raise ValueError("single-use records need a non-empty namespace and id")


def check_rate_args(rate: float, burst: float) -> None:
    if not rate > 0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    if not burst >= 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")


def check_lock_timeout(timeout: float) -> None:
    if not timeout >= 0:
        raise ValueError(f"lock timeout must be zero or positive, got {timeout!r}")
