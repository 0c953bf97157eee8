"""anyio's thread offloading and sleep, imported on the async paths only.

The sync API and every CLI command import the modules that also hold the async
variants (``TokenManager``, ``Client``, the rate limiter); importing anyio, and
asyncio under it, at module level would make each of them pay for an event loop
they never start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def to_thread(function: Callable[..., T], *args: Any) -> T:
    """``anyio.to_thread.run_sync(function, *args)`` (not cancellable, anyio's default)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function, *args)


async def sleep(seconds: float) -> None:
    """``anyio.sleep(seconds)``."""
    import anyio

    await anyio.sleep(seconds)
