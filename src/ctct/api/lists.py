"""Contact lists: ``/contact_lists`` (list, get, create, update, delete -> activity)."""

from __future__ import annotations

from typing import Any

from ctct.api.crud import AsyncCrud, Crud, Kind
from ctct.api.errors import Requirement
from ctct.api.flow import Json
from ctct.api.runner import MAX_PAGE
from ctct.api.shapes import ContactList

KIND = Kind(
    path="/contact_lists",
    items_key="lists",
    id_key="list_id",
    page_size=MAX_PAGE["lists"],
    read=Requirement(("contact_data",), "contacts:lists:read"),
    write=Requirement(("contact_data",), "contacts:lists:write"),
)


def list_body(name: str, description: str | None, favorite: bool | None) -> Json:
    body: Json = {"name": name}
    if description is not None:
        body["description"] = description
    if favorite is not None:
        body["favorite"] = favorite
    return body


class ContactLists(Crud[ContactList]):
    """``client.lists``: ``iter()``, ``get(id)``, ``create(name)``, ``update(id, body)``,
    ``rename(id, name)``, ``delete(id)`` (an activity), ``find_by_name(name)``."""

    kind = KIND

    def create(
        self, body: Json | str, *, description: str | None = None, favorite: bool | None = None
    ) -> ContactList:
        """``POST /contact_lists`` with a body, or a name (409 if the name is taken)."""
        if isinstance(body, str):
            body = list_body(body, description, favorite)
        return super().create(body)

    def rename(self, list_id: str, name: str) -> ContactList:
        """Change a list's name, keeping its description and favorite flag."""
        current = self.get(list_id)
        return self.update(list_id, _renamed(current, name))

    def find_by_name(self, name: str, **query: Any) -> ContactList | None:
        return next((i for i in self.iter(**query) if i.get("name") == name), None)


class AsyncContactLists(AsyncCrud[ContactList]):
    kind = KIND

    async def create(
        self, body: Json | str, *, description: str | None = None, favorite: bool | None = None
    ) -> ContactList:
        if isinstance(body, str):
            body = list_body(body, description, favorite)
        return await super().create(body)

    async def rename(self, list_id: str, name: str) -> ContactList:
        current = await self.get(list_id)
        return await self.update(list_id, _renamed(current, name))

    async def find_by_name(self, name: str, **query: Any) -> ContactList | None:
        async for item in self.iter(**query):
            if item.get("name") == name:
                return item
        return None


def _renamed(current: ContactList, name: str) -> Json:
    return list_body(name, current.get("description"), current.get("favorite"))
