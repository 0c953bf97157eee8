"""Token-bucket arithmetic shared by every backend (pure: the caller passes ``now``).

Backends keep ``(tokens, updated)`` per bucket and run this inside their own atomic step
(a transaction, a lock, a Lua script), so every process sharing the store shares the limit.
"""

from __future__ import annotations

from typing import NamedTuple


class BucketStep(NamedTuple):
    tokens: float  # tokens left after this step
    updated: float  # the time they were counted at
    wait: float  # 0.0 if a token was taken, else seconds until one is available


def take_token(
    tokens: float | None, updated: float | None, now: float, rate: float, burst: float
) -> BucketStep:
    """Refill for the time elapsed since ``updated`` and take one token if there is one.

    A bucket never seen before (``tokens is None``) starts full. A clock that moved
    backwards refills nothing rather than draining the bucket.
    """
    if tokens is None or updated is None:
        tokens, updated = burst, now
    elapsed = max(0.0, now - updated)
    available = min(burst, tokens + elapsed * rate)
    stamp = max(now, updated)
    if available >= 1.0:
        return BucketStep(available - 1.0, stamp, 0.0)
    return BucketStep(available, stamp, (1.0 - available) / rate)


def next_daily(count: int | None, limit: int) -> int | None:
    """The count after one more use, or None when ``limit`` uses were already counted."""
    current = count or 0
    if current >= limit:
        return None
    return current + 1
