"""Events: ``/v3/events`` (GET), ``/v3/events/default`` (POST), ``/v3/events/{event_id}``
(GET, PATCH), ``/copy``, ``/check_in/tickets`` and ``/undo_check_in/tickets`` (POST), and
registrations at ``/v3/events/{event_id}/tracks/{track_id}/registrations`` (GET, PUT
status), ``/registrations/payment_status`` (PUT) and ``/registrations/{registration_id}``
(GET). Scope ``campaign_data``; privileges ``campaign:read`` / ``campaign:write``.

Storage and bodies are in ``event_store``. Lists page with ``next``/``prev`` cursors, as
CC's contract describes (``next_cursor``, ``prev_cursor`` and path-relative
``_links``). Where CC is silent the emulator chooses (docs/emulator.md): a PATCH may
move ``status`` along DRAFT -> ACTIVE -> COMPLETE/CANCELLED (or to DELETED); unknown
ticket keys at check-in are a 400; a copy whose ``source_campaign_activities`` are not
the event's answers 207 listing them in ``failed_campaign_activities``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, pagination, params
from ctct.emulator.api.contact_input import is_uuid
from ctct.emulator.api.event_store import (
    AREA,
    PAYMENT_STATUSES,
    REGISTRATION_STATUSES,
    STATUSES,
    TRANSITIONS,
    StoredEvent,
    event_body,
    listing_body,
    new_event_data,
    new_track_id,
    registrant_lite,
    registration_detail,
)
from ctct.emulator.api.gateway import NO_BODY, Caller, Operation, Resource, read_json
from ctct.emulator.api.isotime import format_datetime, parse_datetime

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_EVENTS_PAGE: Final = 100
DEFAULT_REGISTRATIONS_PAGE: Final = 50
MAX_REGISTRATIONS_PAGE: Final = 500
_SCOPE: Final = ("campaign_data",)
_SORTS: Final = {
    "name": "name",
    "start_time": "start_time",
    "end_time": "end_time",
    "created_time": "created_at",
    "updated_time": "updated_at",
}
_REGISTRATION_SORTS: Final = (
    "first_name",
    "last_name",
    "email_address",
    "registration_status",
    "payment_status",
    "tickets",
    "total",
)
_TEXT: Final = (
    "description",
    "title",
    "name",
    "event_type",
    "location_type",
    "time_zone",
    "currency_type",
    "event_code",
)
_FLAGS: Final = (
    "display_contact_flag",
    "display_end_time_flag",
    "display_on_calendar_flag",
    "display_time_zone_flag",
    "notify_owner_on_reg",
)
# Nested objects a PATCH may set: their properties, and the required ones.
_OBJECTS: Final[dict[str, tuple[dict[str, type], tuple[str, ...]]]] = {
    "address": (
        {
            "address_type": str,
            "line1": str,
            "line2": str,
            "city": str,
            "country": str,
            "country_code": str,
            "latitude": float,
            "longitude": float,
            "location_name": str,
            "postal_code": str,
            "state": str,
            "state_code": str,
        },
        ("address_type",),
    ),
    "contact": (
        {
            "email_address": str,
            "from_email_address": str,
            "name": str,
            "organization_name": str,
            "phone_number": str,
        },
        ("name", "organization_name"),
    ),
    "online_meeting": (
        {"enabled_flag": bool, "instructions": str, "label": str, "provider_type": str, "url": str},
        (),
    ),
}
# EventDto properties a client sends back from a GET but cannot change: ignored.
_IGNORED: Final = frozenset(
    {
        "event_id",
        "campaign_id",
        "create_time",
        "active_time",
        "cancelled_time",
        "deleted_time",
        "last_update_time",
        "registration_url",
        "event_calendar_url",
        "event_widget_url",
        "default_track",
        "event_metadata",
        "event_settings",
        "event_promotions",
        "failed_campaign_activities",
        "eso",
        "time_zone_abbreviation",
    }
)
_STATUS_TIMES: Final = {
    "ACTIVE": "active_time",
    "CANCELLED": "cancelled_time",
    "DELETED": "deleted_time",
}


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.events

    def event_of(request: Request, caller: Caller) -> StoredEvent:
        event_id = params.path_uuid(request, "event_id", AREA)
        return store.require(caller.account_id, event_id)

    def tracked(request: Request, caller: Caller) -> StoredEvent:
        event = event_of(request, caller)
        track_id = str(request.path_params["track_id"])
        if track_id != event.track_id:
            raise errors.not_found(
                AREA, f"Track {track_id} is not a track of event {event.event_id}."
            )
        return event

    async def list_events(request: Request, caller: Caller) -> Response:
        query = request.query_params
        state, offset = _cursor_state(query, _EVENT_CURSOR)
        if state is None:
            state = _event_filters(query)
        limit = pagination.parse_limit(query.get("limit"), AREA, MAX_EVENTS_PAGE, MAX_EVENTS_PAGE)
        column = _SORTS[state["sort_by"]] if state["sort_by"] else "seq"
        events, total = store.listing(
            caller.account_id,
            state["status"],
            state["search"],
            (column, state["order"]),
            offset,
            limit,
        )
        registrations = {e.event_id: store.registrations(e.event_id) for e in events}
        body: dict[str, Any] = {
            "records": [listing_body(e, registrations[e.event_id]) for e in events],
            "total_records": total,
        }
        body.update(_page_links(request, state, offset, limit, total, len(events)))
        return errors.json_response(body)

    async def create_default(request: Request, caller: Caller) -> Response:
        query = request.query_params
        now = emu.clock.now()
        problems: list[str] = []
        start = _time_param(query, "start_time", problems)
        end = _time_param(query, "end_time", problems)
        campaign_id = query.get("placeholder_campaign_id") or None
        if campaign_id is not None and not is_uuid(campaign_id):
            problems.append("placeholder_campaign_id must be a campaign id (UUID).")
        if start is None:
            start = (now // 3_600 + 7 * 24 + 1) * 3_600  # a week ahead, on the hour
        if end is None:
            end = start + 3_600
        if end <= start:
            problems.append("end_time must be after start_time.")
        if problems:
            raise errors.validation(AREA, *problems)
        name = query.get("name") or f"New Event {store.count(caller.account_id) + 1}"
        if len(name) > 100:
            raise errors.validation(AREA, "name must be at most 100 characters.")
        owner = emu.accounts.summary(caller.account_id) or {}
        data, track_id = new_event_data(name, start, end, now, owner, campaign_id)
        event = store.create(caller.account_id, data, track_id, now)
        return errors.json_response(event_body(event), 201)

    async def get_event(request: Request, caller: Caller) -> Response:
        problems: list[str] = []
        include = request.query_params.get("include", "true").lower()
        if include not in ("true", "false"):
            problems.append("include must be true or false.")
        event = event_of(request, caller)
        if problems:
            raise errors.validation(AREA, *problems)
        return errors.json_response(event_body(event, include_settings=include == "true"))

    async def patch_event(request: Request, caller: Caller) -> Response:
        event = event_of(request, caller)
        changes = await read_json(request, AREA)
        if event.status not in TRANSITIONS:
            raise errors.validation(
                AREA, f"The event is {event.status}: only DRAFT or ACTIVE events can be updated."
            )
        now = emu.clock.now()
        _apply_patch(event, changes, now)
        store.save(event, now)
        return Response(status_code=204)

    async def copy_event(request: Request, caller: Caller) -> Response:
        event = event_of(request, caller)
        body = await read_json(request, AREA)
        name, sources = _copy_request(body)
        if event.status == "DELETED":
            raise errors.validation(AREA, "A DELETED event cannot be copied.")
        now = emu.clock.now()
        data = copy.deepcopy(event.data)
        own = {data["default_track"]["campaign_activity_id"]}
        own |= {p.get("campaign_activity_id") for p in data.get("event_promotions", [])}
        failed = [s for s in sources if s not in own]
        track_id = new_track_id()
        stamp = format_datetime(now)
        data.update(name=name, campaign_id=str(uuid.uuid4()), failed_campaign_activities=failed)
        data["default_track"].update(
            campaign_activity_id=str(uuid.uuid4()),
            track_id=track_id,
            create_time=stamp,
            last_update_time=stamp,
        )
        for key in _STATUS_TIMES.values():
            data.pop(key, None)
        copied = store.create(caller.account_id, data, track_id, now)
        return errors.json_response(event_body(copied), 207 if failed else 200)

    def check_in(undo: bool) -> Callable[[Request, Caller], Any]:
        async def handler(request: Request, caller: Caller) -> Response:
            event = event_of(request, caller)
            keys = _ticket_keys(await read_json(request, AREA))
            if event.status not in ("ACTIVE", "COMPLETE"):
                raise errors.validation(
                    AREA,
                    f"The event is {event.status}: check-in needs an ACTIVE or COMPLETE event.",
                )
            registrations = store.registrations(event.event_id)
            tickets = {t["order_ticket_key"]: t for r in registrations for t in r["tickets"]}
            unknown = [k for k in keys if k not in tickets]
            problems = [f"order ticket key {k!r} is not a ticket of this event." for k in unknown]
            if not undo:
                problems += [
                    f"ticket {k} is CANCELLED and cannot be checked in."
                    for k in keys
                    if k in tickets and tickets[k].get("status") == "CANCELLED"
                ]
            if problems:
                raise errors.validation(AREA, *problems)
            stamp = format_datetime(emu.clock.now())
            for key in keys:
                if undo:
                    tickets[key].pop("checked_in_time", None)
                else:
                    tickets[key].setdefault("checked_in_time", stamp)
            store.save_registrations(registrations)
            return Response(status_code=204)

        return handler

    async def list_registrations(request: Request, caller: Caller) -> Response:
        event = tracked(request, caller)
        query = request.query_params
        state, offset = _cursor_state(query, _REGISTRATION_CURSOR)
        if state is None:
            state = _registration_filters(query)
        limit = _registration_limit(query)
        records = [
            registrant_lite(r, event.track_id)
            for r in store.registrations(event.event_id)
            if _registration_matches(r, state)
        ]
        if state["sort_by"]:
            records.sort(key=_sort_key(state["sort_by"]), reverse=state["order"] == "DESC")
        page = records[offset : offset + limit]
        body: dict[str, Any] = {"records": page, "total_records": len(records)}
        body.update(_page_links(request, state, offset, limit, len(records), len(page)))
        return errors.json_response(body)

    async def get_registration(request: Request, caller: Caller) -> Response:
        event = tracked(request, caller)
        registration_id = str(request.path_params["registration_id"]).lower()
        for registration in store.registrations(event.event_id):
            if registration["registration_id"] == registration_id:
                return errors.json_response(registration_detail(registration, event))
        raise errors.not_found(AREA, f"Registration {registration_id} was not found.")

    def update_registrations(kind: str) -> Callable[[Request, Caller], Any]:
        async def handler(request: Request, caller: Caller) -> Response:
            event = tracked(request, caller)
            problems: list[str] = []
            for flag in ("increase_count", "increase_item_count", "return_items_to_inventory"):
                params.boolean(request.query_params, flag, problems)
            ids, value = _status_update(await read_json(request, AREA), kind, problems)
            registrations = store.registrations(event.event_id)
            by_id = {r["registration_id"]: r for r in registrations}
            failed = [i for i in ids if i.lower() not in by_id]
            for registration_id in ids:
                registration = by_id.get(registration_id.lower())
                if registration is None:
                    continue
                if kind == "registration_status":
                    registration["registration_status"] = value
                    ticket_status = "CANCELLED" if value == "CANCELED" else "ACTIVE"
                    for ticket in registration["tickets"]:
                        ticket["status"] = ticket_status
                elif registration.get("payment_method"):
                    # CC: registrations without a payment method are silently excluded.
                    registration["payment_status"] = value
            store.save_registrations(registrations)
            if failed:
                return errors.json_response({"failed_registration_ids": failed}, 207)
            return Response(status_code=200)

        return handler

    read = ("campaign:read",)
    write = ("campaign:write",)

    def op(method: str, handler: Any, privilege: tuple[str, ...]) -> Operation:
        return Operation(method, handler, _SCOPE, privilege[0])

    base = "/events/{event_id}/tracks/{track_id}/registrations"
    return [
        Resource("/events", (op("GET", list_events, read),)),
        Resource(
            "/events/default",
            (Operation("POST", create_default, _SCOPE, write[0], content_type=NO_BODY),),
        ),
        Resource(
            "/events/{event_id}", (op("GET", get_event, read), op("PATCH", patch_event, write))
        ),
        Resource("/events/{event_id}/copy", (op("POST", copy_event, write),)),
        Resource("/events/{event_id}/check_in/tickets", (op("POST", check_in(False), write),)),
        Resource("/events/{event_id}/undo_check_in/tickets", (op("POST", check_in(True), write),)),
        Resource(
            f"{base}/payment_status",
            (op("PUT", update_registrations("payment_status"), write),),
        ),
        Resource(f"{base}/{{registration_id}}", (op("GET", get_registration, read),)),
        Resource(
            base,
            (
                op("GET", list_registrations, read),
                op("PUT", update_registrations("registration_status"), write),
            ),
        ),
    ]


# -- parsing ---------------------------------------------------------------------------


def _time_param(query: Any, name: str, problems: list[str]) -> float | None:
    raw = query.get(name)
    if not raw:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        problems.append(f"{name} must be an ISO-8601 date-time such as 2024-01-15T10:00:00Z.")
    return moment


def _order(query: Any, problems: list[str]) -> str:
    order = (query.get("sort_order") or "ASC").upper()
    if order not in ("ASC", "DESC"):
        problems.append("sort_order must be ASC or DESC.")
    return order


def _event_filters(query: Any) -> dict[str, Any]:
    problems: list[str] = []
    status = query.get("event_status") or None
    if status is not None:
        status = status.upper()
        if status not in STATUSES:
            problems.append(f"event_status must be one of {', '.join(STATUSES)}.")
    sort_by = query.get("sort_by") or None
    if sort_by is not None and sort_by not in _SORTS:
        problems.append(f"sort_by must be one of {', '.join(_SORTS)}.")
    order = _order(query, problems)
    if problems:
        raise errors.validation(AREA, *problems)
    return {
        "status": status,
        "search": query.get("search_text") or None,
        "sort_by": sort_by,
        "order": order,
    }


def _registration_filters(query: Any) -> dict[str, Any]:
    problems: list[str] = []
    registration = params.choice(query, "registration_status", REGISTRATION_STATUSES, problems)
    payment = params.choice(query, "payment_status", PAYMENT_STATUSES, problems)
    sort_by = params.choice(query, "sort_by", _REGISTRATION_SORTS, problems)
    order = _order(query, problems)
    if problems:
        raise errors.validation(AREA, *problems)
    return {
        "registration_status": registration,
        "payment_status": payment,
        "search": (query.get("search_text") or "").lower() or None,
        "sort_by": sort_by,
        "order": order,
    }


def _registration_limit(query: Any) -> int:
    limit, page_size = query.get("limit"), query.get("page_size")
    if limit and page_size and limit != page_size:
        raise errors.validation(
            AREA, "limit and page_size must be the same value if both are sent."
        )
    return pagination.parse_limit(
        limit or page_size, AREA, MAX_REGISTRATIONS_PAGE, DEFAULT_REGISTRATIONS_PAGE
    )


def _registration_matches(registration: dict[str, Any], state: dict[str, Any]) -> bool:
    if (
        state["registration_status"]
        and registration["registration_status"] != state["registration_status"]
    ):
        return False
    if state["payment_status"] and registration.get("payment_status") != state["payment_status"]:
        return False
    search = state["search"]
    if search:
        fields = (
            registration["first_name"],
            registration["last_name"],
            registration["email_address"],
        )
        return any(search in str(f).lower() for f in fields)
    return True


def _sort_key(key: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    numeric = key in ("tickets", "total")

    def sort_key(record: dict[str, Any]) -> tuple[int, Any]:
        value = record.get(key)
        if value is None:
            return (1, 0 if numeric else "")
        return (0, value if numeric else str(value).lower())

    return sort_key


# What each list's cursor carries: its filters and the values each may take (None: any
# string). A cursor is opaque to clients, but one crafted by hand must get a 400.
_EVENT_CURSOR: Final = {
    "status": STATUSES,
    "search": None,
    "sort_by": tuple(_SORTS),
    "order": ("ASC", "DESC"),
}
_REGISTRATION_CURSOR: Final = {
    "registration_status": REGISTRATION_STATUSES,
    "payment_status": PAYMENT_STATUSES,
    "search": None,
    "sort_by": _REGISTRATION_SORTS,
    "order": ("ASC", "DESC"),
}


def _cursor_state(
    query: Any, shape: Mapping[str, tuple[str, ...] | None]
) -> tuple[dict[str, Any] | None, int]:
    """The filters and offset a ``next``/``prev`` cursor carries (None, 0 without one)."""
    forward, backward = query.get("next"), query.get("prev")
    if forward and backward:
        raise errors.validation(AREA, "next and prev are mutually exclusive: send one.")
    cursor = forward or backward
    if not cursor:
        return None, 0
    state, offset = pagination.decode_cursor(cursor, AREA)
    valid = set(state) == set(shape) and 0 <= offset < 2**31
    for key, allowed in shape.items():
        value = state.get(key)
        if value is None:
            valid = valid and key != "order"
        elif not isinstance(value, str) or (allowed is not None and value not in allowed):
            valid = False
    if not valid:
        raise params.cursor_invalid(AREA)
    return state, offset


def _page_links(
    request: Request, state: dict[str, Any], offset: int, limit: int, total: int, shown: int
) -> dict[str, Any]:
    path = request.url.path
    query = f"?{request.url.query}" if request.url.query else ""
    links: dict[str, Any] = {"self": {"href": path + query}}
    body: dict[str, Any] = {}
    if offset + shown < total:
        token = pagination.encode_cursor(state, offset + limit)
        body["next_cursor"] = token
        links["next"] = {"href": f"{path}?{urlencode({'next': token, 'limit': limit})}"}
    if offset > 0:
        token = pagination.encode_cursor(state, max(0, offset - limit))
        body["prev_cursor"] = token
        links["prev"] = {"href": f"{path}?{urlencode({'prev': token, 'limit': limit})}"}
    body["_links"] = links
    return body


def _apply_patch(event: StoredEvent, changes: object, now: float) -> None:
    """Validate a partial ``EventDto`` and apply it to ``event`` (400 naming every problem)."""
    if not isinstance(changes, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    data = event.data
    updated: dict[str, Any] = {}
    status = event.status
    for key, value in changes.items():
        if key in _IGNORED:
            continue
        if key == "status":
            if value != event.status and value not in TRANSITIONS.get(event.status, ()):
                allowed = ", ".join(TRANSITIONS.get(event.status, ())) or "nothing"
                problems.append(f"status cannot go from {event.status} to {value!r}; {allowed}.")
            else:
                status = str(value)
        elif key in ("event_start", "event_end"):
            if not isinstance(value, str) or parse_datetime(value) is None:
                problems.append(f"{key} must be an ISO-8601 date-time.")
            else:
                updated[key] = value
        elif key in _TEXT:
            if not isinstance(value, str) or (key in ("name", "title") and not value.strip()):
                problems.append(
                    f"{key} must be a {'non-empty ' if key in ('name', 'title') else ''}string."
                )
            else:
                updated[key] = value
        elif key in _FLAGS:
            if not isinstance(value, bool):
                problems.append(f"{key} must be true or false.")
            else:
                updated[key] = value
        elif key in _OBJECTS:
            updated[key] = _nested(key, value, problems)
        else:
            problems.append(f"{key} is not an event property that can be updated.")
    merged = {**data, **updated}
    start, end = parse_datetime(merged["event_start"]), parse_datetime(merged["event_end"])
    if start is not None and end is not None and end <= start:
        problems.append("event_end must be after event_start.")
    if problems:
        raise errors.validation(AREA, *problems)
    if status != event.status and status in _STATUS_TIMES:
        merged[_STATUS_TIMES[status]] = format_datetime(now)
    event.data = merged
    event.status = status


def _nested(key: str, value: object, problems: list[str]) -> dict[str, Any]:
    properties, required = _OBJECTS[key]
    if not isinstance(value, dict):
        problems.append(f"{key} must be an object.")
        return {}
    result: dict[str, Any] = {}
    for name, item in value.items():
        kind = properties.get(name)
        if name in ("create_time", "last_update_time"):
            continue
        if kind is None:
            problems.append(f"{key}.{name} is not a property of {key}.")
        elif kind is float and (isinstance(item, bool) or not isinstance(item, int | float)):
            problems.append(f"{key}.{name} must be a number.")
        elif kind is not float and not isinstance(item, kind):
            problems.append(f"{key}.{name} must be a {'boolean' if kind is bool else 'string'}.")
        else:
            result[name] = item
    for name in required:
        if name not in result:
            problems.append(f"{key}.{name} is required.")
    return result


def _copy_request(body: object) -> tuple[str, list[str]]:
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems = []
    name = body.get("target_event_name")
    if not isinstance(name, str) or not name.strip():
        problems.append("target_event_name is required: the copy's name.")
    sources = body.get("source_campaign_activities", [])
    if not isinstance(sources, list) or not all(is_uuid(s) for s in sources):
        problems.append("source_campaign_activities must be an array of campaign activity ids.")
        sources = []
    for key in body:
        if key not in ("target_event_name", "source_campaign_activities"):
            problems.append(f"{key} is not a property of a copy request.")
    if problems:
        raise errors.validation(AREA, *problems)
    assert isinstance(name, str)
    return name.strip(), [str(s).lower() for s in sources]


def _ticket_keys(body: object) -> list[str]:
    keys = body.get("order_ticket_keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise errors.validation(AREA, "order_ticket_keys is required: a non-empty array of keys.")
    return list(dict.fromkeys(keys))


def _status_update(body: object, kind: str, problems: list[str]) -> tuple[list[str], str]:
    """``RegistrationStatusUpdateRequestDto`` / ``PaymentStatusUpdateRequestDto``."""
    allowed = REGISTRATION_STATUSES if kind == "registration_status" else PAYMENT_STATUSES
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    ids = body.get("registration_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        problems.append("registration_ids is required: a non-empty array of registration ids.")
        ids = []
    value = body.get(kind)
    if not isinstance(value, str) or value.upper() not in allowed:
        problems.append(f"{kind} must be one of {', '.join(allowed)}.")
        value = ""
    for key in body:
        if key not in ("registration_ids", kind):
            problems.append(f"{key} is not a property here; send registration_ids and {kind}.")
    if problems:
        raise errors.validation(AREA, *problems)
    return list(dict.fromkeys(ids)), value.upper()
