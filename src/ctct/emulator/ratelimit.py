"""Rate limits as Constant Contact counts them: per API key (client_id).

A token bucket per key for the per-second rate (burst equal to the rate unless
configured), and a daily counter that resets at 00:00 UTC. Pure logic over the
emulator's clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ctct.emulator.clock import Clock


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    def __init__(self, clock: Clock, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.clock = clock
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: str) -> bool:
        now = self.clock.now()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class DailyQuota:
    """Counts requests per key per UTC day."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def _day(self) -> int:
        return int(self.clock.now() // 86_400)

    def try_acquire(self, key: str) -> bool:
        day = self._day()
        with self._lock:
            count = self._counts.get((key, day), 0)
            if count >= self.limit:
                return False
            self._counts[(key, day)] = count + 1
            # Forget earlier days so a long-running emulator does not grow.
            for stale in [k for k in self._counts if k[1] < day]:
                del self._counts[stale]
            return True

    def used(self, key: str) -> int:
        with self._lock:
            return self._counts.get((key, self._day()), 0)

    def reset_time(self) -> float:
        """Epoch seconds of the next 00:00 UTC."""
        return float((self._day() + 1) * 86_400)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
