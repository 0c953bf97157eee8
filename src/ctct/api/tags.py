"""Tags: ``/contact_tags`` (list, get, create, update, delete -> activity)."""

from __future__ import annotations

from ctct.api.crud import AsyncCrud, Crud, Kind
from ctct.api.errors import Requirement
from ctct.api.runner import MAX_PAGE
from ctct.api.shapes import Tag

KIND = Kind(
    path="/contact_tags",
    items_key="tags",
    id_key="tag_id",
    page_size=MAX_PAGE["tags"],
    read=Requirement(("contact_data",), "contacts:read"),
    write=Requirement(("contact_data",), "contacts:write"),
)


class Tags(Crud[Tag]):
    """``client.tags``: ``iter()``, ``get(id)``, ``create({"name"})``, ``update(id, {"name"})``,
    ``delete(id)`` (an activity)."""

    kind = KIND


class AsyncTags(AsyncCrud[Tag]):
    kind = KIND
