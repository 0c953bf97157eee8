"""Custom fields: ``/v3/contact_custom_fields`` (GET paginated, POST) and
``/v3/contact_custom_fields/{custom_field_id}`` (GET, PUT, DELETE). Scope
``contact_data``; privileges ``contacts:read``/``contacts:write``.

POST answers 201 (409 for a label in use, 400 past 100 fields); PUT replaces the label and
choices (omitted choices are cleared; the type cannot change); DELETE answers 204 and
removes the field's values from every contact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, params
from ctct.emulator.api.custom_field_store import AREA, custom_field_not_found
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.isotime import format_datetime

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT: Final = 100
MAX_LABEL: Final = 50
MAX_CHOICES: Final = 100
# CC's classic types, and those it added in 2025 (spec section 8.4).
TYPES: Final = (
    "string",
    "date",
    "datetime",
    "currency",
    "text_area",
    "number",
    "boolean",
    "single_select",
    "multi_select",
)
SELECT_TYPES: Final = ("single_select", "multi_select")
METADATA_KEYS: Final = frozenset(
    {
        "display_type",
        "allow_negative",
        "decimal_places",
        "currency_code",
        "integer",
        "display_format",
    }
)
_READ_ONLY: Final = frozenset({"custom_field_id", "name", "created_at", "updated_at"})
_SCOPE: Final = ("contact_data",)


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.custom_fields

    async def list_fields(request: Request, caller: Caller) -> Response:
        query = request.query_params
        limit = pagination.parse_limit(query.get("limit"), AREA, MAX_LIMIT)
        after = 0
        if query.get("cursor"):
            _, after = pagination.decode_cursor(query["cursor"], AREA)
        rows, more = store.page(caller.account_id, after, limit)
        body: dict[str, Any] = {"custom_fields": [store.resource(r) for r in rows]}
        if more:
            token = pagination.encode_cursor({}, rows[-1]["seq"])
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def create_field(request: Request, caller: Caller) -> Response:
        label, kind, data = _parse(await read_json(request, AREA), put=False, now=emu.clock.now())
        row = store.create(caller.account_id, label, kind, data)
        return errors.json_response(store.resource(row), status_code=201)

    async def get_field(request: Request, caller: Caller) -> Response:
        field_id = params.path_uuid(request, "custom_field_id", AREA)
        row = store.get(caller.account_id, field_id)
        if row is None:
            raise custom_field_not_found(field_id)
        return errors.json_response(store.resource(row))

    async def put_field(request: Request, caller: Caller) -> Response:
        field_id = params.path_uuid(request, "custom_field_id", AREA)
        body = await read_json(request, AREA)
        current = store.get(caller.account_id, field_id)
        if current is None:
            raise custom_field_not_found(field_id)
        label, _, data = _parse(
            body, put=True, now=emu.clock.now(), kind=current["type"], old=store.resource(current)
        )
        row = store.replace(caller.account_id, field_id, label, data)
        return errors.json_response(store.resource(row))

    async def delete_field(request: Request, caller: Caller) -> Response:
        store.delete(caller.account_id, params.path_uuid(request, "custom_field_id", AREA))
        return Response(status_code=204)

    return [
        Resource(
            "/contact_custom_fields",
            (
                Operation("GET", list_fields, _SCOPE, "contacts:read"),
                Operation("POST", create_field, _SCOPE, "contacts:write"),
            ),
        ),
        Resource(
            "/contact_custom_fields/{custom_field_id}",
            (
                Operation("GET", get_field, _SCOPE, "contacts:read"),
                Operation("PUT", put_field, _SCOPE, "contacts:write"),
                Operation("DELETE", delete_field, _SCOPE, "contacts:write"),
            ),
        ),
    ]


def _parse(
    body: object,
    *,
    put: bool,
    now: float,
    kind: str | None = None,
    old: dict[str, Any] | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """``(label, type, stored data)`` from a ``CustomFieldRequest`` (POST) or a
    ``CustomFieldPutRequest`` (PUT: ``label`` and ``choices`` only)."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    allowed = {"label", "choices"} if put else {"label", "type", "metadata", "choices", "version"}
    for key in body:
        if key not in allowed and key not in _READ_ONLY and not (put and key == "type"):
            problems.append(f"{key} cannot be {'changed' if put else 'set'} here.")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
        problems.append(f"label is required: a string of 1 to {MAX_LABEL} characters.")
    if put:
        if body.get("type") not in (None, kind):
            problems.append("type cannot be changed; create a new custom field instead.")
    else:
        kind = body.get("type")
        if kind not in TYPES:
            problems.append(f"type is required: one of {', '.join(TYPES)}.")
    data: dict[str, Any] = {}
    metadata = body.get("metadata") if not put else (old or {}).get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or not set(metadata) <= METADATA_KEYS:
            problems.append(f"metadata may hold only {', '.join(sorted(METADATA_KEYS))}.")
        else:
            data["metadata"] = metadata
    old_choices = {c["choice_id"]: c for c in (old or {}).get("choices", [])}
    choices = _choices(body.get("choices"), old_choices, put, now, problems)
    if kind in SELECT_TYPES and not choices:
        problems.append(f"A {kind} field needs at least one choice.")
    elif choices and kind not in SELECT_TYPES:
        problems.append(f"choices are for {' and '.join(SELECT_TYPES)} fields only.")
    if choices:
        data["choices"] = choices
    if problems:
        raise errors.validation(AREA, *problems)
    assert isinstance(label, str) and isinstance(kind, str)
    return label.strip(), kind, data


def _choices(
    raw: object,
    old: dict[int, dict[str, Any]],
    put: bool,
    now: float,
    problems: list[str],
) -> list[dict[str, Any]]:
    if raw is None:
        return []  # on PUT too: omitted means cleared
    if not isinstance(raw, list) or len(raw) > MAX_CHOICES:
        problems.append(f"choices must be an array of at most {MAX_CHOICES} items.")
        return []
    stamp = format_datetime(now)
    next_id = max(old, default=0) + 1
    result = []
    for index, item in enumerate(raw):
        label = item.get("choice_label") if isinstance(item, dict) else None
        if not isinstance(label, str) or not label or len(label) > 255:
            problems.append(f"choices[{index}].choice_label must be a string of 1 to 255.")
            continue
        order = item.get("display_order", index + 1)
        if isinstance(order, bool) or not isinstance(order, int):
            problems.append(f"choices[{index}].display_order must be an integer.")
            continue
        choice_id = item.get("choice_id") if put else None
        if choice_id is not None and choice_id not in old:
            problems.append(f"choices[{index}].choice_id {choice_id!r} is not a choice of it.")
            continue
        if choice_id is None:
            choice_id, next_id = next_id, next_id + 1
            created = stamp
        else:
            created = old[choice_id]["created_at"]
        result.append(
            {
                "choice_id": choice_id,
                "choice_label": label,
                "display_order": order,
                "created_at": created,
                "updated_at": stamp,
            }
        )
    return result
