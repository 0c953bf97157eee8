"""The in-process store: the same semantics as the others, kept in dictionaries.

For tests and for single-process apps that log in at every start. Several handles may
share one ``MemoryState`` (``memory://name`` URLs do), each closable on its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ctct.stores.base import (
    Clock,
    GrantKey,
    StoreConflict,
    StoreLock,
    check_lock_timeout,
    check_rate_args,
    conflict_error,
)
from ctct.stores.crypto import KeyConfig
from ctct.stores.locks import ThreadLock
from ctct.stores.rate import next_daily, take_token
from ctct.stores.sealed import SealedStore


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
    locks: dict[GrantKey, threading.Lock] = field(default_factory=dict)


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

    def lock(self, key: GrantKey, timeout: float) -> StoreLock:
        self.check_open()
        check_lock_timeout(timeout)
        with self.state.mutex:
            lock = self.state.locks.setdefault(key, threading.Lock())
        return ThreadLock(lock, timeout, str(key))

    def put_envelope_once(self, namespace: str, id: str, envelope: bytes, ttl: float) -> None:
        self.check_open()
        now = self.clock()
        with self.state.mutex:
            for slot, (_, expires) in list(self.state.once.items()):
                if expires <= now:
                    del self.state.once[slot]
            if (namespace, id) in self.state.once:
                raise StoreConflict(f"a single-use record {namespace}/{id} already exists")
            self.state.once[(namespace, id)] = (envelope, now + ttl)

    def take_envelope_once(self, namespace: str, id: str) -> bytes | None:
        self.check_open()
        now = self.clock()
        with self.state.mutex:
            found = self.state.once.pop((namespace, id), None)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def acquire_rate(self, bucket: str, rate: float, burst: float) -> float:
        self.check_open()
        check_rate_args(rate, burst)
        now = self.clock()
        with self.state.mutex:
            tokens, updated = self.state.buckets.get(bucket, (None, None))
            step = take_token(tokens, updated, now, rate, burst)
            self.state.buckets[bucket] = (step.tokens, step.updated)
        return step.wait

    def incr_daily(self, bucket: str, day: str, limit: int) -> int | None:
        self.check_open()
        with self.state.mutex:
            for b, d in [slot for slot in self.state.daily if slot[0] == bucket and slot[1] < day]:
                del self.state.daily[(b, d)]
            count = next_daily(self.state.daily.get((bucket, day)), limit)
            if count is not None:
                self.state.daily[(bucket, day)] = count
            return count
