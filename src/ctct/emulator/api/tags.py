"""Tags: ``/v3/contact_tags`` (GET paginated, POST) and ``/v3/contact_tags/{tag_id}``
(GET, PUT, DELETE). Scope ``contact_data``; privileges ``contacts:read``/``contacts:write``.

``include_count=true`` adds each tag's ``contacts_count``. DELETE answers 202 with an
activity (``ActivityGeneric``) that un-tags the contacts and then deletes the tag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, params
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.tag_store import AREA, tag_not_found

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT: Final = 500
MAX_NAME: Final = 255
_SCOPE: Final = ("contact_data",)
_READ_ONLY: Final = frozenset({"tag_id", "contacts_count", "created_at", "updated_at"})


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.tags

    async def list_tags(request: Request, caller: Caller) -> Response:
        query = request.query_params
        limit = pagination.parse_limit(query.get("limit"), AREA, MAX_LIMIT)
        if query.get("cursor"):
            state, after = pagination.decode_cursor(query["cursor"], AREA)
            include_count = bool(state.get("c"))
        else:
            problems: list[str] = []
            include_count = params.boolean(query, "include_count", problems)
            if problems:
                raise errors.validation(AREA, *problems)
            after = 0
        rows, more = store.page(caller.account_id, after, limit)
        counts = store.contact_counts(caller.account_id) if include_count else {}
        body: dict[str, Any] = {
            "tags": [
                store.resource(r, counts.get(r["tag_id"], 0) if include_count else None)
                for r in rows
            ]
        }
        if more:
            token = pagination.encode_cursor({"c": include_count}, rows[-1]["seq"])
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def create_tag(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        name = _name(body, allowed={"name", "tag_source"})
        source = body.get("tag_source")
        if source is not None and not isinstance(source, str):
            raise errors.validation(AREA, "tag_source must be a string.")
        row = store.create(caller.account_id, name, source)
        return errors.json_response(store.resource(row), status_code=201)

    async def get_tag(request: Request, caller: Caller) -> Response:
        tag_id = params.path_uuid(request, "tag_id", AREA)
        problems: list[str] = []
        include_count = params.boolean(request.query_params, "include_count", problems)
        if problems:
            raise errors.validation(AREA, *problems)
        row = store.get(caller.account_id, tag_id)
        if row is None:
            raise tag_not_found(tag_id)
        count = store.contact_counts(caller.account_id).get(tag_id, 0) if include_count else None
        return errors.json_response(store.resource(row, count))

    async def put_tag(request: Request, caller: Caller) -> Response:
        tag_id = params.path_uuid(request, "tag_id", AREA)
        name = _name(await read_json(request, AREA), allowed={"name", "tag_source"})
        row = store.rename(caller.account_id, tag_id, name)
        return errors.json_response(store.resource(row))

    async def delete_tag(request: Request, caller: Caller) -> Response:
        tag_id = params.path_uuid(request, "tag_id", AREA)
        if store.get(caller.account_id, tag_id) is None:
            raise tag_not_found(tag_id)
        activity = emu.accounts.activities.create(
            caller.account_id, "contacts_tags_delete", {"tag_ids": [tag_id]}, {}
        )
        emu.accounts.runner.wake()
        body = activity.render(status_keys=("items_total_count", "items_completed_count"))
        body.pop("started_at", None)  # ActivityGeneric has no started/completed times
        body.pop("completed_at", None)
        return errors.json_response(body, 202)

    return [
        Resource(
            "/contact_tags",
            (
                Operation("GET", list_tags, _SCOPE, "contacts:read"),
                Operation("POST", create_tag, _SCOPE, "contacts:write"),
            ),
        ),
        Resource(
            "/contact_tags/{tag_id}",
            (
                Operation("GET", get_tag, _SCOPE, "contacts:read"),
                Operation("PUT", put_tag, _SCOPE, "contacts:write"),
                Operation("DELETE", delete_tag, _SCOPE, "contacts:write"),
            ),
        ),
    ]


def _name(body: object, allowed: set[str]) -> str:
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems = [
        f"{key} is not a tag property; send name."
        for key in body
        if key not in allowed and key not in _READ_ONLY
    ]
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems.append(f"name is required: a string of 1 to {MAX_NAME} characters.")
    if problems:
        raise errors.validation(AREA, *problems)
    assert isinstance(name, str)
    return name.strip()
