"""When and how long to wait before trying a request again (policy as data, as stamina).

Retried:

- ``429 throttled`` - for every method: CC refuses it before processing anything;
- 5xx - only for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE): a POST that got
  a 500 may have been carried out, and CC has no idempotency keys;
- connection failures - for every method when the request certainly did not reach the
  server (could not connect, no free connection), else only for idempotent methods.

Never retried: ``quota_exceeded`` (it lasts until 00:00 UTC) and every other 4xx.

Waits grow exponentially with full jitter, capped, and honour ``Retry-After`` (seconds
or an HTTP date) when the server sends one. ``set_testing(True)`` turns every retry
wait into zero for tests (rate-limit waits are not retries: they stay).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx2

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# Transport errors raised before a byte of the request left this machine.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
)

_testing = False


def set_testing(testing: bool) -> None:
    """Turn retry waits off (``True``) or back on, process-wide, like ``stamina.set_testing``."""
    global _testing
    _testing = testing


def is_testing() -> bool:
    return _testing


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. The defaults suit CC's 4 requests/second."""

    attempts: int = 5
    """Tries in all, the first included (1: never retry)."""
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_exp_base: float = 2.0
    jitter: float = 1.0
    """Fraction of each wait that is random (1.0: full jitter, 0: none)."""
    max_retry_after: float = 120.0
    """A ``Retry-After`` longer than this is not waited for: the error is raised."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts!r}")
        if self.wait_initial < 0 or self.wait_max < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("waits must be >= 0 and jitter in [0, 1]")

    def backoff(self, attempt: int, rand: float | None = None) -> float:
        """The wait after failed try number ``attempt`` (1-based)."""
        if _testing:
            return 0.0
        ceiling = min(self.wait_max, self.wait_initial * self.wait_exp_base ** (attempt - 1))
        r = random.random() if rand is None else rand
        return ceiling * (1.0 - self.jitter) + ceiling * self.jitter * r

    def wait_for(self, attempt: int, retry_after: float | None) -> float | None:
        """The wait before the next try, or None to give up (``Retry-After`` too long)."""
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return 0.0 if _testing else retry_after
        return self.backoff(attempt)


NEVER = RetryPolicy(attempts=1)
"""Send each request once."""


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def may_retry_status(method: str, status: int, error_key: str | None) -> bool:
    if status == 429:
        return error_key != "quota_exceeded"
    return status >= 500 and method.upper() in IDEMPOTENT


def may_retry_exception(method: str, exc: Exception) -> bool:
    if isinstance(exc, _NOT_SENT):
        return True
    return isinstance(exc, httpx2.TransportError) and method.upper() in IDEMPOTENT
