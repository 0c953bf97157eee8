"""The part of every backend that is not about storage: encryption, checks, rekeying.

Backends subclass ``SealedStore`` and move opaque envelopes (bytes) and versions; this
class seals on the way in and opens on the way out, so no backend ever sees plaintext
and every backend encrypts the same way.
"""

from __future__ import annotations

import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from types import TracebackType
from typing import Self

from ctct._store_clock import OffsetCache
from ctct.errors import StoreError
from ctct.stores.base import (
    AccountState,
    Attempt,
    Claim,
    Clock,
    Event,
    GrantKey,
    Lease,
    Record,
    StoreInfo,
    StoreLock,
    StoreProbe,
    check_lease_args,
    check_once_args,
    event_context,
    once_context,
    state_context,
)
from ctct.stores.crypto import KeyConfig, Sealer
from ctct.stores.keys import NOT_ENCRYPTED_WARNING
from ctct.stores.leases import LOCK_LEASE, KeepAliveLock, PolledLease
from ctct.stores.migrate import is_tombstone, moved_error

_PROBE_KEY = GrantKey("ctct-probe", "ctct-probe", "ctct-probe")

RawState = tuple[str, str, bytes, float]
"""(code, reason, sealed detail, since) as a backend stores an account state."""


class SealedStore(ABC):
    """Base class of the backends; implements the ``Store`` protocol's data methods."""

    backend = "abstract"
    #: whether records reach a disk or a server (then "not encrypted" is worth a warning)
    at_rest = True
    #: the longest pause between two polls of a busy lease
    lease_poll_max = 0.05
    #: whether the server's clock is another host's (PostgreSQL, Redis): then token
    #: records' times are converted between the writer's and the reader's clocks
    remote_clock = False

    def __init__(self, keys: KeyConfig, clock: Clock = time.time) -> None:
        self.sealer = Sealer(keys)
        self.clock = clock
        self.closed = False
        self.time_offset = 0.0
        """Test only: seconds added to the server's clock (every backend honours it)."""

    # -- what backends implement ------------------------------------------------------

    @abstractmethod
    def load_envelope(self, key: GrantKey) -> tuple[bytes, int] | None:
        """The stored envelope and version, or None."""

    @abstractmethod
    def save_envelope(self, key: GrantKey, envelope: bytes, expected_version: int | None) -> int:
        """Compare-and-swap write of an envelope; returns the new version."""

    @abstractmethod
    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        """Store a single-use envelope expiring ``ttl`` seconds after ``self.clock()``."""

    @abstractmethod
    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        """Remove a single-use envelope; return it unless absent or expired."""

    @abstractmethod
    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool: ...

    @abstractmethod
    def keys(self) -> list[GrantKey]: ...

    @abstractmethod
    def now(self) -> float:
        """The server's clock plus ``time_offset``."""

    @abstractmethod
    def lease_try(self, key: GrantKey, holder: str, duration: float) -> int | None: ...

    @abstractmethod
    def lease_renew(self, key: GrantKey, holder: str, duration: float) -> bool: ...

    @abstractmethod
    def lease_release(self, key: GrantKey, holder: str) -> None: ...

    @abstractmethod
    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float: ...

    @abstractmethod
    def incr_daily(self, bucket: str, day: str | None, limit: int) -> int | None: ...

    @abstractmethod
    def record_attempt(self, key: GrantKey, attempt: Attempt) -> None: ...

    @abstractmethod
    def load_attempt(self, key: GrantKey) -> Attempt | None: ...

    @abstractmethod
    def clear_attempt(self, key: GrantKey, fence: int) -> None: ...

    @abstractmethod
    def put_state(self, key: GrantKey, code: str, reason: str, detail: bytes) -> None:
        """Store a state (``detail`` sealed); ``since`` changes only with code/reason."""

    @abstractmethod
    def get_states(self, key: GrantKey | None) -> dict[GrantKey, RawState]:
        """The raw state of ``key`` (None: of every key)."""

    @abstractmethod
    def schedule(self, key: GrantKey, due_at: float | None) -> None: ...

    @abstractmethod
    def due(self, limit: int = 100) -> list[tuple[GrantKey, float]]: ...

    @abstractmethod
    def claim_due(self, worker: str, *, limit: int, claim_for: float) -> list[Claim]: ...

    @abstractmethod
    def append_event(
        self, event_id: str, kind: str, key: GrantKey | None, envelope: bytes
    ) -> Event:
        """Append a sealed event; returns it (payload: the envelope) with seq and time."""

    @abstractmethod
    def claim_event_envelopes(self, worker: str, limit: int, claim_for: float) -> list[Event]: ...

    @abstractmethod
    def ack_event(self, event_id: str, worker: str) -> bool: ...

    @abstractmethod
    def retry_event(
        self, event_id: str, worker: str, *, delay: float, max_attempts: int
    ) -> str: ...

    @abstractmethod
    def dead_event_envelopes(self) -> list[Event]: ...

    @abstractmethod
    def location(self) -> str:
        """A path or description of where records are kept."""

    def backend_warnings(self) -> list[str]:
        return []

    def probe(self) -> StoreProbe:
        """Server, persistence and one round trip's latency (``doctor``, ``auth status``;
        never on a hot path)."""
        server, persistence, details = self.server_facts()
        started = time.perf_counter()
        self.load_envelope(_PROBE_KEY)  # one indexed read of a key that never exists
        latency = time.perf_counter() - started
        return StoreProbe(server, persistence, latency * 1000, details, self.durability_problem())

    def server_facts(self) -> tuple[str, str, dict[str, str]]:
        """(server and version, persistence, details) for ``probe``."""
        return self.backend, "unknown", {}

    def durability_problem(self) -> str | None:
        """Why grants are not safe on this server (None: they are)."""
        return None

    def close(self) -> None:
        self.closed = True

    # -- the protocol -----------------------------------------------------------------

    def new_lease(self, key: GrantKey, duration: float, timeout: float) -> PolledLease:
        """A lease object, not yet acquired (backends with local extras override this)."""
        return PolledLease(self, key, duration, timeout)

    def lease(self, key: GrantKey, *, duration: float, timeout: float) -> Lease:
        self.check_open()
        check_lease_args(duration, timeout)
        return self.new_lease(key, duration, timeout).acquire()

    def lock(self, key: GrantKey, timeout: float) -> StoreLock:
        self.check_open()
        check_lease_args(LOCK_LEASE, timeout)
        return KeepAliveLock(self.new_lease(key, LOCK_LEASE, timeout))

    def set_state(self, key: GrantKey, state: AccountState) -> None:
        self.check_open()
        self.put_state(
            key, state.code, state.reason, self.sealer.seal(state.detail, state_context(key))
        )

    def _open_state(self, key: GrantKey, raw: RawState) -> AccountState:
        code, reason, envelope, since = raw
        # States and events hold no grant; older plaintext ones stay readable after a
        # key is configured (rekey does not rewrite them).
        detail = self.sealer.open(
            envelope, state_context(key), what=f"the state of {key}", allow_plain=True
        )
        return AccountState(code, reason, detail, since)

    def load_state(self, key: GrantKey) -> AccountState | None:
        self.check_open()
        raw = self.get_states(key).get(key)
        return None if raw is None else self._open_state(key, raw)

    def states(self) -> dict[GrantKey, AccountState]:
        self.check_open()
        return {k: self._open_state(k, raw) for k, raw in sorted(self.get_states(None).items())}

    def add_event(self, kind: str, key: GrantKey | None, payload: bytes) -> Event:
        self.check_open()
        if not kind:
            raise ValueError("an event needs a kind")
        event_id = secrets.token_hex(12)
        event = self.append_event(
            event_id, kind, key, self.sealer.seal(payload, event_context(event_id))
        )
        return replace(event, payload=payload)

    def _open_event(self, event: Event) -> Event:
        what = f"event {event.id}"
        return replace(
            event,
            payload=self.sealer.open(
                event.payload, event_context(event.id), what=what, allow_plain=True
            ),
        )

    def claim_events(self, worker: str, *, limit: int, claim_for: float) -> list[Event]:
        self.check_open()
        if limit < 1 or not claim_for > 0:
            raise ValueError("claim_events needs limit >= 1 and claim_for > 0")
        return [self._open_event(e) for e in self.claim_event_envelopes(worker, limit, claim_for)]

    def dead_events(self) -> list[Event]:
        self.check_open()
        return [self._open_event(e) for e in self.dead_event_envelopes()]

    def check_open(self) -> None:
        if self.closed:
            raise StoreError(f"the {self.backend} store at {self.location()} is closed")

    def load_plain(self, key: GrantKey) -> tuple[bytes, int] | None:
        """The decrypted record and its version, tombstones included (for migrations)."""
        found = self.load_envelope(key)
        if found is None:
            return None
        envelope, version = found
        return self.sealer.open(envelope, key.context, what=key), version

    def load(self, key: GrantKey) -> Record | None:
        found = self.load_plain(key)
        return None if found is None else _record(key, *found, self.clock_offset())

    def clock_offset(self) -> float:
        if not self.remote_clock:
            return 0.0
        # The server's own clock, without the test-only ``time_offset``: that moves the
        # server's decisions (leases, TTLs), not the hosts' clocks records are written on.
        with _offsets_lock:
            cache = _offsets.setdefault((self.backend, self.location()), OffsetCache())
        return cache.get(lambda: self.now() - self.time_offset)

    def envelopes(self) -> Iterator[tuple[GrantKey, bytes, int]]:
        """Every grant's envelope and version; backends override with one query."""
        for key in self.keys():
            found = self.load_envelope(key)
            if found is not None:
                yield key, found[0], found[1]

    def records(self) -> Iterator[tuple[GrantKey, Record]]:
        offset: float | None = None
        for key, envelope, version in self.envelopes():
            if offset is None:  # after the first read: a failing store fails on the read
                offset = self.clock_offset()
            data = self.sealer.open(envelope, key.context, what=key)
            yield key, _record(key, data, version, offset)

    def save(self, key: GrantKey, data: bytes, *, expected_version: int | None) -> int:
        if expected_version is not None and expected_version < 1:
            raise ValueError(f"expected_version must be None or positive, got {expected_version}")
        return self.save_envelope(key, self.sealer.seal(data, key.context), expected_version)

    def put_once(self, namespace: str, id: str, data: bytes, ttl: float) -> None:
        check_once_args(namespace, id)
        if not ttl > 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        envelope = self.sealer.seal(data, once_context(namespace, id))
        self.put_envelope_once(namespace, id, envelope, ttl)

    def take_once(self, namespace: str, id: str) -> bytes | None:
        check_once_args(namespace, id)
        envelope = self.take_envelope_once(namespace, id)
        if envelope is None:
            return None
        what = f"single-use record {namespace}/{id}"
        return self.sealer.open(envelope, once_context(namespace, id), what=what)

    def describe(self) -> StoreInfo:
        config = self.sealer.config
        warnings = list(config.warnings)
        if not self.sealer.encrypting and self.at_rest:
            warnings.append(NOT_ENCRYPTED_WARNING)
        warnings.extend(self.backend_warnings())
        return StoreInfo(
            backend=self.backend,
            location=self.location(),
            encryption=config.source if self.sealer.encrypting else None,
            warnings=tuple(warnings),
        )

    def rekey(self, *, lock_timeout: float = 30.0) -> int:
        """Re-encrypt every grant not yet sealed with the current key; return how many.

        Each grant is rewritten under its lock with compare-and-swap, so a concurrent
        refresh is never lost. Single-use records are left alone: they expire within
        minutes and old keys still decrypt them meanwhile.
        """
        rewritten = 0
        for key in self.keys():
            with self.lock(key, lock_timeout):
                found = self.load_envelope(key)
                if found is None or self.sealer.is_current(found[0]):
                    continue
                # The one place a plaintext record is taken with a key configured: the
                # operator runs rekey to encrypt records written before there was a key.
                plaintext = self.sealer.open(found[0], key.context, what=key, allow_plain=True)
                self.save_envelope(key, self.sealer.seal(plaintext, key.context), found[1])
                rewritten += 1
        return rewritten

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location()}>"


_offsets_lock = threading.Lock()
_offsets: dict[tuple[str, str], OffsetCache] = {}
"""Per server (backend, location), per process: every handle reads with one offset."""


def _record(key: GrantKey, data: bytes, version: int, offset: float) -> Record:
    if is_tombstone(data):
        # Moved by `ctct store migrate`: fail loudly, never serve or refresh it here.
        raise moved_error(key, data)
    return Record(data, version, offset)
