"""The store protocol every backend implements (version 2), its value types and errors.

A store keeps, per grant (profile + issuer + client_id), one opaque record with a version
used for compare-and-swap; per-key *leases* (a lock with a duration, a fencing version and
renewal) meant to be held across a network refresh; the refresh *attempt* in flight; short-
lived single-use records (login state, PKCE verifiers); shared rate-limit counters; and for
the keeper: a due-time index with claims, account states and an event outbox.

Every time a store decides on (lease expiry, TTLs, buckets, the daily counter's day, due
times, claims, retries) is the store *server's* clock, ``Store.now()``: never the caller's.
Only index material is stored in plaintext (keys, versions, lease holders and fences, due
times, state and reason codes, fingerprints); tokens, account names and server text are
sealed, bound to their record by associated data. Backends only move bytes; encryption
is done once, in ``ctct.stores.sealed.SealedStore``. /work/notes/h9-protocol.md and
docs/fleet.md describe the design.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
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


class RecordUnreadable(StoreCorrupt):
    """One grant's record cannot be read (encrypted with a key that is not configured,
    altered, or copied from another profile); the other records are not affected. The
    message names the commands that replace or remove just this record."""


def unreadable_fix(profile: str | None) -> str:
    """How to get out of an unreadable record of ``profile`` (None: the one selected)."""
    import shlex

    flag = "" if profile in (None, "default") else f" --profile {shlex.quote(profile)}"
    return (
        f"replace it with `ctct auth login --force{flag}`, or remove just this record with "
        f"`ctct auth logout --local --force{flag}` (other profiles are not touched)"
    )


class LeaseLost(StoreError):
    """A lease expired and was taken over (or released) before its holder renewed it."""

    retryable = True


class StoreMoved(StoreError):
    """The grant was moved to another store (``ctct store migrate``): use that one."""

    exit_code = 19


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
        # For messages: the provider's readable name, never the internal issuer key.
        from ctct._cc import provider_label

        where = provider_label(self.issuer.removeprefix("login:"))
        return f"profile {self.profile!r} ({where}, client {self.client_id})"


def once_context(namespace: str, id: str) -> bytes:
    """Associated data for a single-use record: it cannot be replayed under another id."""
    return json.dumps(["once", namespace, id]).encode()


@dataclass(frozen=True)
class Record:
    """A stored record: the plaintext bytes and the version to pass back to ``save``."""

    data: bytes = field(repr=False)  # token material: never in a repr
    version: int
    clock_offset: float = field(default=0.0, compare=False)
    """The reader's store offset when it was read (``Store.clock_offset()``): what a
    token record's times are converted with (``ctct._store_clock``)."""


@dataclass(frozen=True)
class StoreInfo:
    """What ``status`` and ``doctor`` show about a store."""

    backend: str  # "sqlite", "memory", ...
    location: str  # a path, or a description for stores without one
    encryption: str | None  # the key's source (e.g. "CTCT_STORE_KEY"), None when not encrypted
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreProbe:
    """What ``doctor`` and ``auth status`` show about the store's server: one round trip."""

    server: str  # e.g. "PostgreSQL 16.4", "Redis 7.0.15", "SQLite 3.40.1"
    persistence: str  # what survives a restart, in the server's own terms
    latency_ms: float  # one round trip (a read by key), measured now
    details: dict[str, str] = field(default_factory=dict)  # schema, prefix...
    problem: str | None = None
    """Why the server cannot keep grants safely, with what to do (e.g. Redis without
    ``appendfsync always``): ``doctor`` fails on it."""

    def summary(self) -> str:
        extra = "".join(f"; {name} {value}" for name, value in self.details.items())
        return (
            f"{self.server}; persistence: {self.persistence}; round trip "
            f"{self.latency_ms:.1f} ms{extra}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "persistence": self.persistence,
            "latency_ms": round(self.latency_ms, 3),
            **self.details,
            **({"problem": self.problem} if self.problem is not None else {}),
        }


@runtime_checkable
class Lease(Protocol):
    """One acquisition of a key's lease: exclusive until released or expired.

    ``remaining()`` counts on the local monotonic clock from just *before* the acquire (or
    last renew) request was sent, so it never over-estimates what the server grants: a
    holder that checks ``remaining()`` before sending work is inside its lease when the
    server sees it, whatever the hosts' wall clocks say. ``fence`` grows with every
    acquisition of the key, so a record written under a lease can say which holder wrote it.
    """

    @property
    def fence(self) -> int: ...

    @property
    def holder(self) -> str:
        """A random id of this acquisition (what attempts record as "who")."""

    @property
    def duration(self) -> float: ...

    @property
    def held(self) -> bool: ...

    def remaining(self) -> float:
        """Seconds left (0.0 when released, lost or run out)."""

    def renew(self, duration: float | None = None) -> None:
        """Extend the lease to ``duration`` (default: the last one) from now.

        Raises ``LeaseLost`` if the lease ran out and another holder took it (the lease is
        then no longer held)."""

    def release(self) -> None:
        """Give the lease up (compare-and-delete: a lost lease is left alone)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True)
class Attempt:
    """A refresh about to be sent: who (the lease holder), which parent refresh token
    (its fingerprint), under which fence; ``started_at`` is the server time it was recorded."""

    holder: str
    parent: str
    fence: int
    started_at: float = 0.0


@dataclass(frozen=True)
class AccountState:
    """An account's state for people and the keeper: short plaintext codes, sealed detail.

    ``code``: ok, refreshing, at_risk, needs_login, app_error, paused, shed; ``reason``: a
    short code (e.g. ``rotation_lost``, ``rejected``); ``detail``: free text (may contain
    server text: sealed); ``since``: server time of the last change of ``code``/``reason``.
    """

    code: str
    reason: str = ""
    detail: bytes = field(default=b"", repr=False)
    since: float = 0.0


@dataclass(frozen=True)
class Claim:
    """A due grant claimed by a worker until ``claimed_until`` (server time)."""

    key: GrantKey
    due_at: float
    claimed_until: float


@dataclass(frozen=True)
class Event:
    """An outbox event. ``seq`` counts from 1 per key (per store for key None)."""

    id: str
    kind: str
    key: GrantKey | None
    seq: int
    payload: bytes = field(repr=False)
    created_at: float
    attempts: int = 0
    status: str = "pending"  # pending, claimed, dead


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

    def records(self) -> Iterator[tuple[GrantKey, Record]]:
        """Every grant with its record, decrypted, in one pass (a fleet scan: one query
        instead of one read per grant). Records written meanwhile may be missed."""

    def now(self) -> float:
        """The store server's clock (epoch seconds), the one leases and TTLs run on."""

    def clock_offset(self) -> float:
        """The store server's clock minus this host's wall clock (seconds), measured at
        most once a minute (0.0 for a store on this host: SQLite, memory). Token records
        carry their writer's, so every host reads their times on its own clock."""

    def lease(self, key: GrantKey, *, duration: float, timeout: float) -> Lease:
        """Acquire the lease of ``key`` for ``duration`` seconds, waiting up to ``timeout``.

        Raises ``StoreLockTimeout``. Waiting holds no connection or transaction."""

    def lock(self, key: GrantKey, timeout: float) -> StoreLock:
        """A lock for ``key`` (not yet acquired); locks on different keys are independent.

        Version 1 API: a lease kept alive in the background until released."""

    def record_attempt(self, key: GrantKey, attempt: Attempt) -> None:
        """Record that ``attempt.holder`` is about to send a refresh of ``key``."""

    def load_attempt(self, key: GrantKey) -> Attempt | None:
        """The attempt last recorded and not cleared, if any."""

    def clear_attempt(self, key: GrantKey, fence: int) -> None:
        """Clear the attempt recorded under ``fence`` (another fence's is left alone)."""

    def set_state(self, key: GrantKey, state: AccountState) -> None:
        """Store the account state of ``key`` (``since`` is set by the store)."""

    def load_state(self, key: GrantKey) -> AccountState | None: ...

    def states(self) -> dict[GrantKey, AccountState]: ...

    def schedule(self, key: GrantKey, due_at: float | None) -> None:
        """Set (None: remove) when ``key`` is due, and release any claim on it."""

    def due(self, limit: int = 100) -> list[tuple[GrantKey, float]]:
        """Scheduled keys, earliest first (claimed or not)."""

    def claim_due(self, worker: str, *, limit: int, claim_for: float) -> list[Claim]:
        """Claim up to ``limit`` due, unclaimed grants for ``claim_for`` seconds."""

    def add_event(self, kind: str, key: GrantKey | None, payload: bytes) -> Event:
        """Append an event to the outbox (payload sealed); returns it with id and seq."""

    def claim_events(self, worker: str, *, limit: int, claim_for: float) -> list[Event]:
        """Claim up to ``limit`` deliverable events (oldest first) for ``claim_for`` s."""

    def ack_event(self, event_id: str, worker: str) -> bool:
        """The event was delivered: remove it. False if not claimed by ``worker``."""

    def retry_event(self, event_id: str, worker: str, *, delay: float, max_attempts: int) -> str:
        """Delivery failed: retry after ``delay`` s, or dead-letter after ``max_attempts``."""

    def dead_events(self) -> list[Event]: ...

    def put_once(self, namespace: str, id: str, data: bytes, ttl: float) -> None:
        """Keep a single-use record for ``ttl`` seconds; ``StoreConflict`` if ``id`` is live."""

    def take_once(self, namespace: str, id: str) -> bytes | None:
        """Remove and return a single-use record; None if absent, taken or expired."""

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        """Take one token from a shared token bucket (``rate`` per second, ``burst`` max).

        Returns 0.0 when a token was taken, otherwise the seconds to wait before one is
        available (and takes nothing). A new bucket starts full.
        """

    def incr_daily(self, bucket: str, day: str | None, limit: int) -> int | None:
        """Count one use of ``bucket`` on ``day`` (e.g. "2026-11-30" in UTC; None: the
        store server's current UTC day).

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


def check_lease_args(duration: float, timeout: float) -> None:
    if not duration > 0:
        raise ValueError(f"lease duration must be positive, got {duration!r}")
    check_lock_timeout(timeout)


def state_context(key: GrantKey) -> bytes:
    return json.dumps(["state", key.profile, key.issuer, key.client_id]).encode()


def event_context(event_id: str) -> bytes:
    return json.dumps(["event", event_id]).encode()


def utc_day(now: float) -> str:
    """The UTC calendar day of ``now`` as ``YYYY-MM-DD``."""
    import datetime

    return datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d")
