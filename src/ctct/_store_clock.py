"""Stored times across hosts whose clocks disagree: one conversion, on the store's clock.

A token record's times (``expires_at``, ``received_at``...) are epoch seconds on the
clock of the host that wrote it; every host that reads it compares them with its own
clock. On one machine that is the same clock. In a fleet it is not: a host 90 s behind
the writer would serve an access token 90 s past its expiry, one 90 s ahead would see
every new token as expired and refresh it again.

The one clock every host shares is the store server's (leases and buckets already run
on it). So each record also holds its writer's *store offset* (store server's clock
minus the writer's clock, measured when it was written), and a reader moves the times
into its own clock by the difference of the two offsets::

    reader time = writer time + (writer offset - reader offset)

(at one instant the writer's clock reads ``S - writer offset`` and the reader's
``S - reader offset``). The provider's clock skew (``TokenSet.clock_skew``, provider
clock minus local clock) moves the other way. Records written before the offset was
stored read as offset 0: right on one machine, where they were written. Stores on this
host (SQLite, memory) have offset 0 by definition, so nothing moves there.

The conversion happens once, when a record is read (``TokenSet.from_json``); the hot
path (``TokenManager.token()``) compares times already on its own clock, in memory. A
host measures its offset at most every ``MEASURE_EVERY`` seconds, when it reads a record
anyway (``OffsetCache``), never per call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Final

NOISE: Final = 0.5
"""Offset differences below this are measurement noise (a round trip's asymmetry), not
clocks that disagree: applying them would move a record's times a little on every
hand-over between hosts that agree. Well inside the one-second grain of the provider's
``Date`` (``ctct._tokens``) and far inside any refresh margin."""

MEASURE_EVERY: Final = 60.0
"""Re-measure a store's offset at most this often (seconds, monotonic): clocks drift by
milliseconds a minute; an NTP step shows up within a minute."""


def shift(writer_offset: float, reader_offset: float) -> float:
    """Seconds to add to a time on the writer's clock to put it on the reader's."""
    delta = writer_offset - reader_offset
    return delta if abs(delta) >= NOISE else 0.0


def rebase(data: bytes, moved: float) -> bytes:
    """A token record's plaintext, copied to another store: its writer's offset re-told
    against the new store's clock (``moved``: the new store's offset minus the old one's,
    both measured by the copying host). Other records, and a ``moved`` within ``NOISE``,
    are returned as they are (byte for byte: a re-run finds them unchanged)."""
    if abs(moved) < NOISE:
        return data
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data
    if not isinstance(record, dict) or "format" not in record or "expires_at" not in record:
        return data
    written = record.get("store_offset")
    if isinstance(written, bool) or not isinstance(written, int | float | None):
        return data  # a bad field: the reader reports it
    record["store_offset"] = (written or 0.0) + moved
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8")


def measure(server_now: Callable[[], float], wall: Callable[[], float] = time.time) -> float:
    """The store server's clock minus ``wall``, from one reading of each (the server's
    reading is taken to be at the middle of the round trip)."""
    before = wall()
    server = server_now()
    after = wall()
    return server - (before + after) / 2


class OffsetCache:
    """One store server's offset, measured at most every ``every`` seconds (thread-safe).

    Shared by every handle on that server in a process (``ctct.stores.sealed``), so
    records handed between them keep their times exactly; ``server_now`` is passed on
    each call, so the cache holds no handle (which may be closed by the next call)."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        every: float = MEASURE_EVERY,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._every = every
        self._lock = threading.Lock()
        self._offset = 0.0
        self._measured_at: float | None = None

    def get(self, server_now: Callable[[], float]) -> float:
        with self._lock:  # one measurement, however many threads ask at once
            now = self._monotonic()
            if self._measured_at is None or now - self._measured_at >= self._every:
                self._offset = measure(server_now, self._wall)
                self._measured_at = now
            return self._offset
