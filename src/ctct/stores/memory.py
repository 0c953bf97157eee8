"""The in-process store: the same semantics as the others, kept in dictionaries.

For tests and for single-process apps that log in at every start. Several handles may
share one ``MemoryState`` (``memory://name`` URLs do), each closable on its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from ctct.stores.base import (
    Attempt,
    Claim,
    Clock,
    Event,
    GrantKey,
    StoreConflict,
    check_rate_args,
    conflict_error,
    utc_day,
)
from ctct.stores.crypto import KeyConfig
from ctct.stores.rate import next_daily, take_token
from ctct.stores.sealed import RawState, SealedStore

_ORDER = "#events"  # the sequence of insertion order over all events


@dataclass
class _LeaseRow:
    holder: str | None
    fence: int
    expires_at: float


@dataclass
class _EventRow:
    event: Event
    available_at: float
    order: int
    claimed_by: str | None = None
    claimed_until: float = 0.0


@dataclass
class MemoryState:
    """The data of a memory store; one mutex makes every operation atomic."""

    mutex: threading.Lock = field(default_factory=threading.Lock)
    # key -> (envelope, version); envelope None marks a deleted record whose version
    # must keep counting up so an old version never matches again.
    grants: dict[GrantKey, tuple[bytes | None, int]] = field(default_factory=dict)
    once: dict[tuple[str, str], tuple[bytes, float]] = field(default_factory=dict)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    daily: dict[tuple[str, str], int] = field(default_factory=dict)
    leases: dict[GrantKey, _LeaseRow] = field(default_factory=dict)
    attempts: dict[GrantKey, Attempt] = field(default_factory=dict)
    account_states: dict[GrantKey, RawState] = field(default_factory=dict)
    schedule: dict[GrantKey, tuple[float, str | None, float]] = field(default_factory=dict)
    events: dict[str, _EventRow] = field(default_factory=dict)
    sequences: dict[GrantKey | str | None, int] = field(default_factory=dict)


class MemoryStore(SealedStore):
    """A ``Store`` in this process's memory."""

    backend = "memory"
    at_rest = False

    def __init__(
        self,
        keys: KeyConfig | None = None,
        clock: Clock = time.time,
        *,
        state: MemoryState | None = None,
        name: str = "",
    ) -> None:
        super().__init__(keys if keys is not None else KeyConfig(), clock)
        self.state = state if state is not None else MemoryState()
        self.name = name

    def location(self) -> str:
        return f"memory://{self.name}"

    def server_facts(self) -> tuple[str, str, dict[str, str]]:
        return "this process", "none: lost when the process exits", {}

    def now(self) -> float:
        return self.clock() + self.time_offset

    # -- leases and attempts ----------------------------------------------------------

    def lease_try(self, key: GrantKey, holder: str, duration: float) -> int | None:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            row = self.state.leases.get(key)
            if row is not None and row.holder is not None and row.expires_at > now:
                return None
            fence = (row.fence if row is not None else 0) + 1
            self.state.leases[key] = _LeaseRow(holder, fence, now + duration)
            return fence

    def lease_renew(self, key: GrantKey, holder: str, duration: float) -> bool:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            row = self.state.leases.get(key)
            # Once expired a lease is not renewed, even if nobody took it (as in Redis).
            if row is None or row.holder != holder or row.expires_at <= now:
                return False
            row.expires_at = now + duration
            return True

    def lease_release(self, key: GrantKey, holder: str) -> None:
        with self.state.mutex:
            row = self.state.leases.get(key)
            if row is not None and row.holder == holder:
                row.holder = None

    def record_attempt(self, key: GrantKey, attempt: Attempt) -> None:
        self.check_open()
        stamped = Attempt(attempt.holder, attempt.parent, attempt.fence, self.now())
        with self.state.mutex:
            self.state.attempts[key] = stamped

    def load_attempt(self, key: GrantKey) -> Attempt | None:
        self.check_open()
        with self.state.mutex:
            return self.state.attempts.get(key)

    def clear_attempt(self, key: GrantKey, fence: int) -> None:
        self.check_open()
        with self.state.mutex:
            found = self.state.attempts.get(key)
            if found is not None and found.fence == fence:
                del self.state.attempts[key]

    # -- account states and scheduling ------------------------------------------------

    def put_state(self, key: GrantKey, code: str, reason: str, detail: bytes) -> None:
        now = self.now()
        with self.state.mutex:
            old = self.state.account_states.get(key)
            since = old[3] if old is not None and old[:2] == (code, reason) else now
            self.state.account_states[key] = (code, reason, detail, since)

    def get_states(self, key: GrantKey | None) -> dict[GrantKey, RawState]:
        self.check_open()
        with self.state.mutex:
            if key is None:
                return dict(self.state.account_states)
            found = self.state.account_states.get(key)
            return {} if found is None else {key: found}

    def schedule(self, key: GrantKey, due_at: float | None) -> None:
        self.check_open()
        with self.state.mutex:
            if due_at is None:
                self.state.schedule.pop(key, None)
            else:
                self.state.schedule[key] = (due_at, None, 0.0)

    def due(self, limit: int = 100) -> list[tuple[GrantKey, float]]:
        self.check_open()
        with self.state.mutex:
            rows = sorted((due, key) for key, (due, _, _) in self.state.schedule.items())
        return [(key, due) for due, key in rows[:limit]]

    def claim_due(self, worker: str, *, limit: int, claim_for: float) -> list[Claim]:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            ready = sorted(
                (due, key)
                for key, (due, _, until) in self.state.schedule.items()
                if due <= now and until <= now and self.state.grants.get(key, (None, 0))[0]
            )[:limit]
            claims = []
            for due, key in ready:
                self.state.schedule[key] = (due, worker, now + claim_for)
                claims.append(Claim(key, due, now + claim_for))
            return claims

    # -- outbox -----------------------------------------------------------------------

    def append_event(
        self, event_id: str, kind: str, key: GrantKey | None, envelope: bytes
    ) -> Event:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            seq = self.state.sequences.get(key, 0) + 1
            self.state.sequences[key] = seq
            event = Event(event_id, kind, key, seq, envelope, now)
            order = self.state.sequences.get(_ORDER, 0) + 1
            self.state.sequences[_ORDER] = order
            self.state.events[event_id] = _EventRow(event, now, order)
            return event

    def claim_event_envelopes(self, worker: str, limit: int, claim_for: float) -> list[Event]:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            ready = sorted(
                (
                    row
                    for row in self.state.events.values()
                    if row.event.status != "dead"
                    and row.available_at <= now
                    and row.claimed_until <= now
                ),
                key=lambda row: row.order,
            )[:limit]
            claimed = []
            for row in ready:
                row.claimed_by, row.claimed_until = worker, now + claim_for
                row.event = replace(row.event, status="claimed")
                claimed.append(row.event)
            return claimed

    def ack_event(self, event_id: str, worker: str) -> bool:
        self.check_open()
        with self.state.mutex:
            row = self.state.events.get(event_id)
            if row is None or row.claimed_by != worker or row.event.status != "claimed":
                return False
            del self.state.events[event_id]
            return True

    def retry_event(self, event_id: str, worker: str, *, delay: float, max_attempts: int) -> str:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            row = self.state.events.get(event_id)
            if row is None or row.claimed_by != worker or row.event.status != "claimed":
                return "gone"
            attempts = row.event.attempts + 1
            status = "dead" if attempts >= max_attempts else "pending"
            row.event = replace(row.event, attempts=attempts, status=status)
            row.claimed_by, row.claimed_until, row.available_at = None, 0.0, now + delay
            return status

    def dead_event_envelopes(self) -> list[Event]:
        self.check_open()
        with self.state.mutex:
            rows = [r for r in self.state.events.values() if r.event.status == "dead"]
        return [r.event for r in sorted(rows, key=lambda r: r.order)]

    def load_envelope(self, key: GrantKey) -> tuple[bytes, int] | None:
        self.check_open()
        with self.state.mutex:
            envelope, version = self.state.grants.get(key, (None, 0))
        return None if envelope is None else (envelope, version)

    def save_envelope(self, key: GrantKey, envelope: bytes, expected_version: int | None) -> int:
        self.check_open()
        with self.state.mutex:
            current, version = self.state.grants.get(key, (None, 0))
            live_version = version if current is not None else None
            if live_version != expected_version:
                raise conflict_error(key, expected_version, live_version)
            self.state.grants[key] = (envelope, version + 1)
            return version + 1

    def delete(self, key: GrantKey, *, expected_version: int | None = None) -> bool:
        self.check_open()
        with self.state.mutex:
            current, version = self.state.grants.get(key, (None, 0))
            if expected_version is not None and (current is None or version != expected_version):
                raise conflict_error(
                    key, expected_version, version if current is not None else None
                )
            if current is None:
                return False
            self.state.grants[key] = (None, version)
            return True

    def keys(self) -> list[GrantKey]:
        self.check_open()
        with self.state.mutex:
            return sorted(k for k, (env, _) in self.state.grants.items() if env is not None)

    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            for slot, (_, expires) in list(self.state.once.items()):
                if expires <= now:
                    del self.state.once[slot]
            if (namespace, id) in self.state.once:
                raise StoreConflict(f"a single-use record {namespace}/{id} already exists")
            self.state.once[(namespace, id)] = (envelope, now + ttl)

    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        self.check_open()
        now = self.now()
        with self.state.mutex:
            found = self.state.once.pop((namespace, id), None)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        self.check_open()
        check_rate_args(rate, burst)
        now = self.now()
        with self.state.mutex:
            tokens, updated = self.state.buckets.get(bucket, (None, None))
            step = take_token(tokens, updated, now, rate, burst)
            self.state.buckets[bucket] = (step.tokens, step.updated)
        return step.wait

    def incr_daily(self, bucket: str, day: str | None, limit: int) -> int | None:
        self.check_open()
        day = day if day is not None else utc_day(self.now())
        with self.state.mutex:
            for b, d in [slot for slot in self.state.daily if slot[0] == bucket and slot[1] < day]:
                del self.state.daily[(b, d)]
            count = next_daily(self.state.daily.get((bucket, day)), limit)
            if count is not None:
                self.state.daily[(bucket, day)] = count
            return count
