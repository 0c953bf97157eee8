"""Contacts endpoints: ``/v3/contacts`` (GET list, POST) and ``/v3/contacts/{contact_id}``
(GET, PUT, DELETE). Scope ``contact_data``; privileges ``contacts:read``/``contacts:write``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import contact_model, errors, pagination
from ctct.emulator.api.contact_input import (
    AREA,
    PERMISSIONS,
    SUBRESOURCES,
    is_uuid,
    parse_contact,
)
from ctct.emulator.api.contact_store import ContactQuery, StoredContact, contact_not_found
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.isotime import parse_datetime
from ctct.emulator.api.segments import parse_segment_id, segment_condition

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_LIMIT = 500
MAX_LIST_FILTER = 25
STATUSES = (
    "all",
    "active",
    "deleted",
    *(p for p in PERMISSIONS if p not in ("explicit", "implicit")),
)
MAX_TAG_FILTER = 50
SMS_STATUSES = ("all", "explicit", "unsubscribed", "pending_confirmation", "not_set")
_DATE_FILTERS = (
    "updated_after",
    "updated_before",
    "created_after",
    "created_before",
    "optout_after",
    "optout_before",
)
# CC: segment_id "can only be combined with the limit query parameter".
_WITH_SEGMENT = frozenset({"segment_id", "limit"})
_SCOPE = ("contact_data",)


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.contacts

    def render(contact: StoredContact, include: frozenset[str], lists: list[str]) -> Any:
        return contact_model.render(contact.contact_id, contact.data, contact.times, include, lists)

    def memberships(contact: StoredContact, include: frozenset[str]) -> list[str]:
        if "list_memberships" not in include:
            return []
        return emu.accounts.lists.memberships([contact.contact_id])[contact.contact_id]

    async def list_contacts(request: Request, caller: Caller) -> Response:
        params = request.query_params
        limit = pagination.parse_limit(params.get("limit"), AREA, MAX_LIMIT)
        cursor = params.get("cursor")
        if cursor:
            state, after = pagination.decode_cursor(cursor, AREA)
            query, include, include_count = _from_cursor_state(state)
        else:
            query, include, include_count = _parse_list_params(params)
            after = 0
        extra = None
        if query.segment_id is not None:
            extra = segment_condition(emu, caller.account_id, query.segment_id, "contacts")
        page, more = store.page(caller.account_id, query, after, limit, extra)
        lists = (
            emu.accounts.lists.memberships([c.contact_id for c in page])
            if "list_memberships" in include
            else {}
        )
        body: dict[str, Any] = {
            "contacts": [render(c, include, lists.get(c.contact_id, [])) for c in page]
        }
        if include_count:
            body["contacts_count"] = store.count(caller.account_id, query, extra)
        if more:
            state = {"q": query.to_json(), "i": sorted(include), "c": include_count}
            token = pagination.encode_cursor(state, page[-1].seq)
            body["_links"] = pagination.next_link(request.url.path, token, limit)
        return errors.json_response(body)

    async def create_contact(request: Request, caller: Caller) -> Response:
        given = parse_contact(await read_json(request, AREA), put=False)
        contact = store.create(caller.account_id, given)
        include = frozenset(given.subresources)
        return errors.json_response(
            render(contact, include, memberships(contact, include)), status_code=201
        )

    async def get_contact(request: Request, caller: Caller) -> Response:
        contact_id = _contact_id(request)
        include = _include(request.query_params.get("include"))
        contact = store.get(caller.account_id, contact_id)
        if contact is None:
            raise contact_not_found(contact_id)
        return errors.json_response(render(contact, include, memberships(contact, include)))

    async def put_contact(request: Request, caller: Caller) -> Response:
        contact_id = _contact_id(request)
        given = parse_contact(await read_json(request, AREA), put=True)
        contact = store.replace(caller.account_id, contact_id, given)
        include = frozenset(given.subresources)
        return errors.json_response(render(contact, include, memberships(contact, include)))

    async def delete_contact(request: Request, caller: Caller) -> Response:
        store.delete(caller.account_id, _contact_id(request))
        return Response(status_code=204)

    return [
        Resource(
            "/contacts",
            (
                Operation("GET", list_contacts, _SCOPE, "contacts:read"),
                Operation("POST", create_contact, _SCOPE, "contacts:write"),
            ),
        ),
        Resource(
            "/contacts/{contact_id}",
            (
                Operation("GET", get_contact, _SCOPE, "contacts:read"),
                Operation("PUT", put_contact, _SCOPE, "contacts:write"),
                Operation("DELETE", delete_contact, _SCOPE, "contacts:write"),
            ),
        ),
    ]


def _contact_id(request: Request) -> str:
    contact_id = str(request.path_params["contact_id"])
    if not is_uuid(contact_id):
        raise errors.not_found(AREA, "contact_id is in an invalid format.")
    return contact_id.lower()


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _include(raw: str | None) -> frozenset[str]:
    values = _csv(raw)
    unknown = [v for v in values if v not in SUBRESOURCES]
    if unknown:
        raise errors.validation(
            AREA,
            f"include: {', '.join(unknown)} not valid; use any of {', '.join(SUBRESOURCES)}.",
        )
    return frozenset(values)


def _parse_list_params(params: QueryParams) -> tuple[ContactQuery, frozenset[str], bool]:
    problems: list[str] = []
    if "segment_id" in params:
        return _segment_query(params)
    statuses = _csv(params.get("status"))
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        problems.append(f"status: {', '.join(bad)} not valid; use any of {', '.join(STATUSES)}.")
    lists = _csv(params.get("lists"))
    if len(lists) > MAX_LIST_FILTER or not all(is_uuid(i) for i in lists):
        problems.append(f"lists must be up to {MAX_LIST_FILTER} comma-separated list ids.")
    dates: dict[str, float] = {}
    for name in _DATE_FILTERS:
        if params.get(name):
            moment = parse_datetime(params[name])
            if moment is None:
                problems.append(f"{name} must be an ISO-8601 date-time; got {params[name]!r}.")
            else:
                dates[name] = moment
    tags = _csv(params.get("tags"))
    if len(tags) > MAX_TAG_FILTER or not all(is_uuid(i) for i in tags):
        problems.append(f"tags must be up to {MAX_TAG_FILTER} comma-separated tag ids.")
    sms_statuses = _csv(params.get("sms_status"))
    bad = [s for s in sms_statuses if s not in SMS_STATUSES]
    if bad:
        problems.append(
            f"sms_status: {', '.join(bad)} not valid; use any of {', '.join(SMS_STATUSES)}."
        )
    include_count = params.get("include_count", "false").lower()
    if include_count not in ("true", "false"):
        problems.append("include_count must be true or false.")
    if problems:
        raise errors.validation(AREA, *problems)
    email = params.get("email")
    query = ContactQuery(
        statuses=tuple(statuses),
        email=email if email else None,
        lists=tuple(i.lower() for i in lists),
        tags=tuple(i.lower() for i in tags),
        sms_statuses=tuple(sms_statuses),
        updated_after=dates.get("updated_after"),
        updated_before=dates.get("updated_before"),
        created_after=dates.get("created_after"),
        created_before=dates.get("created_before"),
        optout_after=dates.get("optout_after"),
        optout_before=dates.get("optout_before"),
    )
    return query, _include(params.get("include")), include_count == "true"


def _segment_query(params: QueryParams) -> tuple[ContactQuery, frozenset[str], bool]:
    others = sorted(set(params) - _WITH_SEGMENT)
    if others:
        raise errors.validation(
            AREA,
            f"segment_id can only be combined with limit; remove {', '.join(others)}.",
        )
    segment_id = parse_segment_id(params["segment_id"])
    if segment_id is None:
        raise errors.validation(AREA, "segment_id must be a segment's id (a positive integer).")
    return ContactQuery(segment_id=segment_id), frozenset(), False


def _from_cursor_state(state: dict[str, Any]) -> tuple[ContactQuery, frozenset[str], bool]:
    try:
        query = ContactQuery.from_json(state["q"])
        include = frozenset(str(i) for i in state["i"]) & frozenset(SUBRESOURCES)
        return query, include, bool(state["c"])
    except (KeyError, TypeError, AttributeError):
        raise errors.validation(
            AREA, "cursor is not valid: use the cursor from the previous page's _links.next.href."
        ) from None
