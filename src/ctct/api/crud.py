"""The shape shared by contact lists, custom fields and tags: a collection under one
path with paged listing, get, create, full-replace update and delete. Each resource
module describes itself with a ``Kind`` and adds what is its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

from ctct.api.errors import Requirement
from ctct.api.flow import Call, Flow, Json, call_flow, get, object_flow, parse_json, with_body
from ctct.api.runner import AsyncRunner, SyncRunner, aiter_items, clean_params, iter_items

# The item's shape (a TypedDict of ``ctct.api.shapes``): results are plain dicts, typed.
Item = TypeVar("Item")


@dataclass(frozen=True)
class Kind:
    path: str  # "/contact_lists"
    items_key: str  # "lists"
    id_key: str  # "list_id"
    page_size: int
    read: Requirement
    write: Requirement

    def item_path(self, item_id: str) -> str:
        return f"{self.path}/{quote(item_id, safe='')}"

    def list_call(self, query: dict[str, Any]) -> Call:
        params = clean_params({"limit": self.page_size, **query})
        return get(self.path, params, requirement=self.read)


class Crud(Generic[Item]):
    """Synchronous operations on one ``Kind`` whose items have the shape ``Item``."""

    kind: Kind

    def __init__(self, runner: SyncRunner) -> None:
        self._r = runner

    def iter(self, **query: Any) -> Iterator[Item]:
        """Every item, following ``_links.next.href``; ``query`` adds filters."""
        return cast(
            Iterator[Item], iter_items(self._r, self.kind.list_call(query), self.kind.items_key)
        )

    def get(self, item_id: str, **query: Any) -> Item:
        call = get(self.kind.item_path(item_id), clean_params(query), requirement=self.kind.read)
        return cast(Item, self._r.run(object_flow(call, self._r.policy)))

    def create(self, body: Json) -> Item:
        call = with_body("POST", self.kind.path, body, requirement=self.kind.write)
        return cast(Item, self._r.run(object_flow(call, self._r.policy)))

    def update(self, item_id: str, body: Json) -> Item:
        """``PUT``: a full replace (omitted properties become null)."""
        call = with_body("PUT", self.kind.item_path(item_id), body, requirement=self.kind.write)
        return cast(Item, self._r.run(object_flow(call, self._r.policy)))

    def delete(self, item_id: str) -> Json | None:
        """Delete; for lists and tags CC answers 202 with the deletion activity."""
        return self._r.run(delete_flow(self.kind, item_id, self._r))

    def find(self, field: str, value: str) -> Item | None:
        """The first item whose ``field`` equals ``value`` (walks every page)."""
        items = iter_items(self._r, self.kind.list_call({}), self.kind.items_key)
        return cast(Item | None, next((i for i in items if i.get(field) == value), None))


class AsyncCrud(Generic[Item]):
    """The same operations as ``Crud``, awaited."""

    kind: Kind

    def __init__(self, runner: AsyncRunner) -> None:
        self._r = runner

    def iter(self, **query: Any) -> AsyncIterator[Item]:
        items = aiter_items(self._r, self.kind.list_call(query), self.kind.items_key)
        return cast(AsyncIterator[Item], items)

    async def get(self, item_id: str, **query: Any) -> Item:
        call = get(self.kind.item_path(item_id), clean_params(query), requirement=self.kind.read)
        return cast(Item, await self._r.run(object_flow(call, self._r.policy)))

    async def create(self, body: Json) -> Item:
        call = with_body("POST", self.kind.path, body, requirement=self.kind.write)
        return cast(Item, await self._r.run(object_flow(call, self._r.policy)))

    async def update(self, item_id: str, body: Json) -> Item:
        call = with_body("PUT", self.kind.item_path(item_id), body, requirement=self.kind.write)
        return cast(Item, await self._r.run(object_flow(call, self._r.policy)))

    async def delete(self, item_id: str) -> Json | None:
        return await self._r.run(delete_flow(self.kind, item_id, self._r))

    async def find(self, field: str, value: str) -> Item | None:
        async for item in aiter_items(self._r, self.kind.list_call({}), self.kind.items_key):
            if item.get(field) == value:
                return cast(Item, item)
        return None


def delete_flow(kind: Kind, item_id: str, runner: SyncRunner | AsyncRunner) -> Flow[Json | None]:
    call = Call("DELETE", kind.item_path(item_id), requirement=kind.write)
    response = yield from call_flow(call, runner.policy)
    body = parse_json(response)
    return body if isinstance(body, dict) else None
