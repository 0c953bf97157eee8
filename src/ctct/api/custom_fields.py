"""Custom fields: ``/contact_custom_fields`` (list, get, create, update, delete)."""

from __future__ import annotations

from ctct.api.crud import AsyncCrud, Crud, Kind
from ctct.api.errors import Requirement
from ctct.api.runner import MAX_PAGE
from ctct.api.shapes import CustomField

KIND = Kind(
    path="/contact_custom_fields",
    items_key="custom_fields",
    id_key="custom_field_id",
    page_size=MAX_PAGE["custom_fields"],
    read=Requirement(("contact_data",), "contacts:read"),
    write=Requirement(("contact_data",), "contacts:write"),
)


class CustomFields(Crud[CustomField]):
    """``client.custom_fields``: ``iter()``, ``get(id)``, ``create({"label", "type"})``,
    ``update(id, body)``, ``delete(id)``."""

    kind = KIND


class AsyncCustomFields(AsyncCrud[CustomField]):
    kind = KIND
