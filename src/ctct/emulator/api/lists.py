"""Contact lists: ``/v3/contact_lists`` (GET, POST) and ``/v3/contact_lists/{list_id}``
(GET, PUT, DELETE). Scope ``contact_data``; privileges ``contacts:lists:read``/``write``.

DELETE answers 202 with a ``list_delete`` activity; the list goes away when the activity
runs (asynchronously, as at CC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, params
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.list_store import AREA, ListQuery, list_not_found

if TYPE_CHECKING:
    import sqlite3

    from ctct.emulator.app import Emulator

MAX_LIMIT = 1000  # the contract's maximum (CC's guide says 500)
MAX_NAME = 255
MAX_DESCRIPTION = 1000  # not in the contract; bounded so a typo cannot store megabytes
STATUSES = ("all", "active", "deleted")
MEMBERSHIP_COUNTS = ("all", "active")
_SCOPE = ("contact_data",)
_READ_ONLY = frozenset({"list_id", "created_at", "updated_at", "deleted_at", "membership_count"})


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.lists

    def render(rows: list[sqlite3.Row], membership: str | None) -> list[dict[str, Any]]:
        bodies = [store.resource(r) for r in rows]
        if membership is not None:
            counts = store.membership_counts(
                [r["list_id"] for r in rows], active_only=membership == "active"
            )
            for body in bodies:
                body["membership_count"] = counts[body["list_id"]]
        return bodies

    async def list_lists(request: Request, caller: Caller) -> Response:
        query_params = request.query_params
        limit = pagination.parse_limit(query_params.get("limit"), AREA, MAX_LIMIT)
        cursor = query_params.get("cursor")
        if cursor:
            state, after = pagination.decode_cursor(cursor, AREA)
            query, include_count, membership = _from_cursor_state(state)
        else:
            query, include_count, membership = _parse_list_params(request)
            after = 0
        rows, more = store.page(caller.account_id, query, after, limit)
        body: dict[str, Any] = {"lists": render(rows, membership)}
        if include_count:
            body["lists_count"] = store.count(caller.account_id, query)
        if more:
            state = {"q": query.to_json(), "c": include_count, "m": membership}
            token = pagination.encode_cursor(state, rows[-1]["seq"])
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def create_list(request: Request, caller: Caller) -> Response:
        name, description, favorite = _parse_body(await read_json(request, AREA))
        row = store.create(caller.account_id, name, description, favorite, emu.clock.now())
        return errors.json_response(store.resource(row), status_code=201)

    async def get_list(request: Request, caller: Caller) -> Response:
        list_id = params.path_uuid(request, "list_id", AREA)
        # The contract declares no 400 for this operation (unlike the list of lists), so
        # a value other than all/active is ignored rather than refused.
        given = request.query_params.get("include_membership_count")
        membership = given if given in MEMBERSHIP_COUNTS else None
        row = store.get(caller.account_id, list_id)
        if row is None:
            raise list_not_found(list_id)
        return errors.json_response(render([row], membership)[0])

    async def put_list(request: Request, caller: Caller) -> Response:
        list_id = params.path_uuid(request, "list_id", AREA)
        name, description, favorite = _parse_body(await read_json(request, AREA))
        row = store.replace(
            caller.account_id, list_id, name, description, favorite, emu.clock.now()
        )
        return errors.json_response(store.resource(row))

    async def delete_list(request: Request, caller: Caller) -> Response:
        list_id = params.path_uuid(request, "list_id", AREA)
        row = store.get(caller.account_id, list_id)
        if row is None or row["deleted_at"] is not None:
            raise list_not_found(list_id)
        activity = emu.accounts.activities.create(
            caller.account_id, "list_delete", {"list_ids": [list_id]}, {}
        )
        emu.accounts.runner.wake()
        # ActivityDeleteListResponse: no status counters, no started/completed times.
        body = activity.render(status_keys=(), times=False)
        # The contract declares Location on this 202: where to poll the activity (an
        # absolute URL on the origin the request came to, as a gateway would send it).
        location = f"{str(request.base_url).rstrip('/')}/v3/activities/{activity.activity_id}"
        return errors.json_response(body, 202, {"Location": location})

    return [
        Resource(
            "/contact_lists",
            (
                Operation("GET", list_lists, _SCOPE, "contacts:lists:read"),
                Operation("POST", create_list, _SCOPE, "contacts:lists:write"),
            ),
        ),
        Resource(
            "/contact_lists/{list_id}",
            (
                Operation("GET", get_list, _SCOPE, "contacts:lists:read"),
                Operation("PUT", put_list, _SCOPE, "contacts:lists:write"),
                Operation("DELETE", delete_list, _SCOPE, "contacts:lists:write"),
            ),
        ),
    ]


def _parse_body(body: object) -> tuple[str, str | None, bool]:
    """A ``ListInput``: ``name`` (required, at most 255), ``favorite``, ``description``."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name is required: a non-empty string.")
    elif len(name) > MAX_NAME:
        problems.append(f"name must be at most {MAX_NAME} characters long.")
    favorite = body.get("favorite", False)
    if favorite is None:
        favorite = False
    if not isinstance(favorite, bool):
        problems.append("favorite must be true or false.")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append("description must be a string.")
    elif description is not None and len(description) > MAX_DESCRIPTION:
        problems.append(f"description must be at most {MAX_DESCRIPTION} characters long.")
    for key in body:
        if key not in ("name", "favorite", "description") and key not in _READ_ONLY:
            problems.append(f"{key} is not a list property; send name, favorite, description.")
    if problems:
        raise errors.validation(AREA, *problems)
    assert isinstance(name, str)
    return name.strip(), description, bool(favorite)


def _parse_list_params(request: Request) -> tuple[ListQuery, bool, str | None]:
    query_params = request.query_params
    problems: list[str] = []
    include_count = params.boolean(query_params, "include_count", problems)
    membership = params.choice(
        query_params, "include_membership_count", MEMBERSHIP_COUNTS, problems
    )
    status = params.choice(query_params, "status", STATUSES, problems) or "active"
    # Every emulated list is an email list: channel_type=email filters nothing, and the
    # SMS options are refused rather than silently ignored.
    params.choice(query_params, "channel_type", ("email",), problems)
    if params.boolean(query_params, "include_sms_membership_count", problems):
        problems.append("The emulator does not support include_sms_membership_count.")
    if problems:
        raise errors.validation(AREA, *problems)
    name = query_params.get("name")
    return ListQuery(status=status, name=name or None), include_count, membership


def _from_cursor_state(state: dict[str, Any]) -> tuple[ListQuery, bool, str | None]:
    try:
        query = ListQuery.from_json(state["q"])
        membership = state["m"]
        if membership not in (None, *MEMBERSHIP_COUNTS) or query.status not in STATUSES:
            raise ValueError("unexpected cursor content")
        return query, bool(state["c"]), membership
    except (KeyError, TypeError, ValueError):
        raise params.cursor_invalid(AREA) from None
