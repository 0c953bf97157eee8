"""Activity status: ``GET /v3/activities`` (past ten days, newest first, paginated) and
``GET /v3/activities/{activity_id}``. Scope ``contact_data``; privilege ``contacts:write``
(as CC's contract says, even for reading).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, params
from ctct.emulator.api.activity_store import AREA, STATES, activity_not_found
from ctct.emulator.api.gateway import Caller, Operation, Resource

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT = 500
# The contract's enum for ?state= (no "initialized": CC lists those as processing work).
STATE_FILTERS = tuple(s for s in STATES if s != "initialized")
_SCOPE = ("contact_data",)


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.activities

    async def list_activities(request: Request, caller: Caller) -> Response:
        query = request.query_params
        limit = pagination.parse_limit(query.get("limit"), AREA, MAX_LIMIT)
        cursor = query.get("cursor")
        before: int | None = None
        if cursor:
            state_filter, before = pagination.decode_cursor(cursor, AREA)
            state = state_filter.get("state")
            if state is not None and state not in STATE_FILTERS:
                raise params.cursor_invalid(AREA)
        else:
            problems: list[str] = []
            state = params.choice(query, "state", STATE_FILTERS, problems)
            if problems:
                raise errors.validation(AREA, *problems)
        page, more = store.page(caller.account_id, state, before, limit)
        body: dict[str, Any] = {"activities": [a.render() for a in page]}
        if more:
            token = pagination.encode_cursor({"state": state}, page[-1].seq)
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def get_activity(request: Request, caller: Caller) -> Response:
        activity_id = str(request.path_params["activity_id"]).lower()
        activity = store.get(caller.account_id, activity_id)
        if activity is None:
            raise activity_not_found(activity_id)
        return errors.json_response(activity.render())

    return [
        Resource("/activities", (Operation("GET", list_activities, _SCOPE, "contacts:write"),)),
        Resource(
            "/activities/{activity_id}",
            (Operation("GET", get_activity, _SCOPE, "contacts:write"),),
        ),
    ]
