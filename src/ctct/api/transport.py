"""Transports that take one unit of the shared per-key budget (``RateLimiter``) right
before each request goes on the wire: after the token is attached (a refresh can take
time), and for a replay after a 401 too."""

from __future__ import annotations

import httpx2

from ctct.api.limits import RateLimiter


class LimitedTransport(httpx2.BaseTransport):
    """Takes one unit of the shared budget before every request on the wire."""

    def __init__(self, inner: httpx2.BaseTransport, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.limiter.acquire()
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncLimitedTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await self.limiter.aacquire()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
