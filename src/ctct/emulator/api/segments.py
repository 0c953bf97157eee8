"""Segments: ``/v3/segments`` (GET, POST), ``/v3/segments/{segment_id}`` (GET, PUT,
DELETE) and ``/v3/segments/{segment_id}/name`` (PATCH). Scope ``contact_data``;
privileges ``contacts:lists:read``/``write``. ``GET /v3/contacts?segment_id=`` lists a
segment's contacts (see ``contacts``); the criteria grammar is in ``segment_criteria``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, segment_criteria
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.params import whole_number
from ctct.emulator.api.segment_criteria import AREA
from ctct.emulator.api.segment_store import MAX_NAME, segment_not_found

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

DEFAULT_LIMIT: Final = 1000  # the contract's default
MAX_LIMIT: Final = 1000
SORTS: Final = ("date", "name")
_SCOPE: Final = ("contact_data",)
_READ_ONLY: Final = frozenset({"segment_id", "created_at", "edited_at"})
INT32_MAX: Final = 2**31 - 1


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.segments

    async def list_segments(request: Request, caller: Caller) -> Response:
        query = request.query_params
        limit = pagination.parse_limit(query.get("limit"), AREA, MAX_LIMIT, DEFAULT_LIMIT)
        cursor = query.get("cursor")
        after: list[Any] | None = None
        sort_by: str
        if cursor:
            state, _ = pagination.decode_cursor(cursor, AREA)
            sort_by, after = str(state.get("s")), state.get("k")
            valid = sort_by in SORTS and isinstance(after, list) and len(after) == 2
            if valid and isinstance(after, list):
                key, last_id = after
                valid = (
                    isinstance(last_id, int)
                    and abs(last_id) < 2**31
                    and isinstance(key, str if sort_by == "name" else float | int)
                )
                valid = valid and not isinstance(key, bool) and not isinstance(last_id, bool)
            if not valid:
                raise errors.validation(AREA, "cursor is not valid: use _links.next.href.")
        else:
            sort_by = query.get("sort_by") or "date"
            if sort_by not in SORTS:
                raise errors.validation(AREA, f"sort_by must be date or name; got {sort_by!r}.")
        rows, more = store.page(caller.account_id, sort_by, after, limit)
        body: dict[str, Any] = {"segments": [store.master(r) for r in rows]}
        if more:
            state = {"s": sort_by, "k": store.sort_key(rows[-1], sort_by)}
            token = pagination.encode_cursor(state, 0)
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def create_segment(request: Request, caller: Caller) -> Response:
        name, criteria = _segment_data(await read_json(request, AREA))
        row = store.create(caller.account_id, name, criteria)
        return errors.json_response(store.detail(row), 201)

    async def get_segment(request: Request, caller: Caller) -> Response:
        segment_id = segment_id_of(request)
        row = store.get(caller.account_id, segment_id)
        if row is None:
            raise segment_not_found(segment_id)
        return errors.json_response(store.detail(row))

    async def put_segment(request: Request, caller: Caller) -> Response:
        segment_id = segment_id_of(request)
        name, criteria = _segment_data(await read_json(request, AREA))
        row = store.update(caller.account_id, segment_id, name, criteria)
        return errors.json_response(store.detail(row))

    async def rename_segment(request: Request, caller: Caller) -> Response:
        segment_id = segment_id_of(request)
        body = await read_json(request, AREA)
        if not isinstance(body, dict):
            raise errors.validation(AREA, "The request body must be a JSON object.")
        unknown = [k for k in body if k != "name" and k not in _READ_ONLY]
        name = _name(body.get("name"), [f"{k} is not a property here." for k in unknown])
        row = store.update(caller.account_id, segment_id, name, None)
        return errors.json_response(store.detail(row))

    async def delete_segment(request: Request, caller: Caller) -> Response:
        store.delete(caller.account_id, segment_id_of(request))
        return Response(status_code=204)

    return [
        Resource(
            "/segments",
            (
                Operation("GET", list_segments, _SCOPE, "contacts:lists:read"),
                Operation("POST", create_segment, _SCOPE, "contacts:lists:write"),
            ),
        ),
        Resource(
            "/segments/{segment_id}",
            (
                Operation("GET", get_segment, _SCOPE, "contacts:lists:read"),
                Operation("PUT", put_segment, _SCOPE, "contacts:lists:write"),
                Operation("DELETE", delete_segment, _SCOPE, "contacts:lists:write"),
            ),
        ),
        Resource(
            "/segments/{segment_id}/name",
            (Operation("PATCH", rename_segment, _SCOPE, "contacts:lists:write"),),
        ),
    ]


def parse_segment_id(raw: str) -> int | None:
    """A segment id (a positive int32) from text, or None."""
    value = whole_number(raw, INT32_MAX)
    return value if value is not None and value >= 1 else None


def segment_id_of(request: Request) -> int:
    segment_id = parse_segment_id(str(request.path_params["segment_id"]))
    if segment_id is None:
        raise errors.not_found(AREA, "segment_id is in an invalid format: use a segment's id.")
    return segment_id


def segment_condition(
    emu: Emulator, account_id: str, segment_id: int, alias: str
) -> tuple[str, list[Any]]:
    """The SQL condition selecting a live segment's contacts now (404 if there is none)."""
    row = emu.accounts.segments.live(account_id, segment_id)
    if row is None:
        raise segment_not_found(segment_id)
    criteria = segment_criteria.parse(row["criteria"])
    return criteria.sql(alias, account_id, emu.clock.now())


def _name(raw: object, problems: list[str]) -> str:
    if not isinstance(raw, str) or not raw.strip():
        problems.append("name is required: a non-empty string.")
    elif len(raw) > MAX_NAME:
        problems.append(f"name must be at most {MAX_NAME} characters long.")
    if problems:
        raise errors.validation(AREA, *problems)
    assert isinstance(raw, str)
    return raw.strip()


def _segment_data(body: object) -> tuple[str, segment_criteria.Criteria]:
    """A ``SegmentData``: ``name`` and ``segment_criteria``, both required."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems = [
        f"{k} is not a segment property; send name and segment_criteria."
        for k in body
        if k not in ("name", "segment_criteria") and k not in _READ_ONLY
    ]
    try:
        criteria = segment_criteria.parse(body.get("segment_criteria"))
    except errors.ApiError as exc:
        problems.extend(message for _, message in exc.errors)
        criteria = None
    name = _name(body.get("name"), problems)
    assert criteria is not None  # a problem would have raised in _name
    return name, criteria
