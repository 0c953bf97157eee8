"""What a resource needs from a client: run a flow, walk pages. ``Client`` and
``AsyncClient`` implement these; resources stay free of I/O and of each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, TypeVar

from ctct.api.flow import Call, Flow, Json
from ctct.api.retry import RetryPolicy

T = TypeVar("T")

# Page sizes: CC's maximum per resource (spec section 7), so a walk takes fewest requests.
MAX_PAGE = {
    "contacts": 500,
    "lists": 500,
    "custom_fields": 100,
    "tags": 500,
    "activities": 500,
    "campaigns": 500,
}


class SyncRunner(Protocol):
    policy: RetryPolicy
    poll_interval: float

    def run(self, flow: Flow[T]) -> T: ...

    def pages(self, call: Call) -> Iterator[Json]: ...


class AsyncRunner(Protocol):
    policy: RetryPolicy
    poll_interval: float

    async def run(self, flow: Flow[T]) -> T: ...

    def pages(self, call: Call) -> AsyncIterator[Json]: ...


def next_href(body: Any) -> str | None:
    """``_links.next.href`` of a page, or None on the last page."""
    if not isinstance(body, dict):
        return None
    links = body.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return href if isinstance(href, str) and href else None


def items_of(body: Json, key: str) -> list[Json]:
    items = body.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def iter_items(runner: SyncRunner, call: Call, key: str) -> Iterator[Json]:
    for page in runner.pages(call):
        yield from items_of(page, key)


async def aiter_items(runner: AsyncRunner, call: Call, key: str) -> AsyncIterator[Json]:
    async for page in runner.pages(call):
        for item in items_of(page, key):
            yield item


def clean_params(params: dict[str, Any]) -> dict[str, Any]:
    """Drop unset filters; join sequences with commas (CC's csv query style)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or value == () or value == []:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[name] = value
    return out
