"""Client-side rate limiting per API key, shared by every thread and process.

Constant Contact limits each API key (client_id) to 4 requests/second and 10,000/day
(partner keys: 10/s, 250,000/day), across all processes and connected accounts, with
the day ending at 00:00 UTC. So the limiter keeps its state in the store that every
worker shares (``store.acquire_rate`` / ``store.incr_daily``; SQLite by default):

- a token bucket at ``rate * (1 - margin)`` with a burst of 1. The server's bucket has a
  burst of ``rate`` (the emulator's does), so requests spaced evenly here can arrive
  bunched by network jitter of up to ``(rate - 1) / rate`` seconds without a 429;
- a daily count; at the quota ``QuotaExceeded`` is raised with the reset time, before
  the request is sent. A ``quota_exceeded`` from the server is remembered for the rest
  of the day by this process (``note_exhausted``), so it stops asking too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ctct import _cc
from ctct._aio import sleep, to_thread
from ctct._provider import Provider
from ctct.api.errors import next_utc_midnight, quota_exceeded
from ctct.stores import Store


@dataclass(frozen=True)
class RateLimits:
    """The per-key budget. ``RateLimits.for_provider(provider)`` reads CC's defaults from
    the provider profile; ``RateLimits.partner()`` is CC's partner budget."""

    rate_per_second: float = _cc.API_RATE_PER_SECOND
    daily_quota: int | None = _cc.API_DAILY_QUOTA
    margin: float = 0.02
    """Fraction of the rate left unused, against clock skew and timer granularity."""
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not self.rate_per_second > 0:
            raise ValueError(f"rate_per_second must be positive, got {self.rate_per_second!r}")
        if self.daily_quota is not None and self.daily_quota < 1:
            raise ValueError(f"daily_quota must be at least 1, got {self.daily_quota!r}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")

    @property
    def effective_rate(self) -> float:
        return self.rate_per_second * (1.0 - self.margin)

    @classmethod
    def for_provider(cls, provider: Provider) -> RateLimits:
        rate = provider.api_rate_per_second or _cc.API_RATE_PER_SECOND
        return cls(rate_per_second=rate, daily_quota=provider.api_daily_quota)

    @classmethod
    def partner(cls) -> RateLimits:
        """CC's partner budget: 10 requests/second, 250,000/day (granted on request)."""
        return cls(rate_per_second=10.0, daily_quota=250_000)

    def with_changes(self, **changes: object) -> RateLimits:
        return replace(self, **changes)  # type: ignore[arg-type]


def limits_from_env(
    provider_limits: RateLimits, environ: Mapping[str, str] | None = None
) -> RateLimits:
    """The provider's limits, changed by ``CTCT_API_RATE`` / ``CTCT_API_DAILY_QUOTA``
    (e.g. a partner key's 10/s and 250,000/day). The library and the CLI both read them."""
    from ctct.api.errors import InputError

    env = os.environ if environ is None else environ
    changes: dict[str, float | int] = {}
    for name, key, kind in (
        ("CTCT_API_RATE", "rate_per_second", float),
        ("CTCT_API_DAILY_QUOTA", "daily_quota", int),
    ):
        raw = env.get(name, "").strip()
        if raw:
            try:
                value = kind(raw)
                if value <= 0:
                    raise ValueError
            except ValueError:
                raise InputError(f"{name} must be a positive number, not {raw!r}.") from None
            changes[key] = value
    return provider_limits.with_changes(**changes) if changes else provider_limits


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


# Days on which the server said the quota was used up, per bucket (this process).
_exhausted_lock = threading.Lock()
_exhausted: dict[tuple[str, str], float] = {}  # (store, bucket) -> reset time


class RateLimiter:
    """Takes one unit of the shared budget before each request on the wire."""

    def __init__(
        self,
        store: Store,
        bucket: str,
        limits: RateLimits,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.bucket = bucket
        self.limits = limits
        self.clock = clock
        self._sleep = sleep
        info = store.describe()
        self._exhausted_key = (f"{info.backend}:{info.location}", bucket)

    @staticmethod
    def bucket_for(client_id: str, api_base_url: str) -> str:
        """The shared bucket of one API key at one API (an emulator's is not CC's)."""
        return f"api:{client_id}@{api_base_url}"

    def _check_daily(self) -> None:
        now = self.clock()
        with _exhausted_lock:
            reset_at = _exhausted.get(self._exhausted_key)
        if reset_at is not None and now < reset_at:
            raise quota_exceeded(now, local=True, limit=self.limits.daily_quota)
        quota = self.limits.daily_quota
        if quota is not None and self.store.incr_daily(self.bucket, utc_day(now), quota) is None:
            raise quota_exceeded(now, local=True, limit=quota)

    def acquire(self) -> None:
        """Block until a request may be sent; ``QuotaExceeded`` when today's budget is spent."""
        self._check_daily()
        rate, burst = self.limits.effective_rate, self.limits.burst
        while True:
            wait = self.store.acquire_rate(self.bucket, rate, burst)
            if wait <= 0:
                return
            self._sleep(wait)

    async def aacquire(self) -> None:
        """``acquire`` for the event loop (store calls run in a worker thread)."""
        await to_thread(self._check_daily)
        rate, burst = self.limits.effective_rate, self.limits.burst
        while True:
            wait = await to_thread(self.store.acquire_rate, self.bucket, rate, burst)
            if wait <= 0:
                return
            await sleep(wait)

    def note_exhausted(self) -> None:
        """The server answered ``quota_exceeded``: refuse locally until 00:00 UTC."""
        with _exhausted_lock:
            _exhausted[self._exhausted_key] = next_utc_midnight(self.clock())
