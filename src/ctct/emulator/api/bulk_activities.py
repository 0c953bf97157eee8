"""Bulk activities over contacts: ``POST /v3/activities/add_list_memberships``,
``/remove_list_memberships``, ``/contact_delete``, ``/contact_exports`` (all 201 with an
activity that runs afterwards) and ``GET /v3/contact_exports/{file_export_id}`` (the CSV
of a completed export; its id is the export activity's). Scope ``contact_data``;
privilege ``contacts:write``.

A ``segment_id`` source selects the segment's contacts as its criteria stand when the
activity is requested. ``engagement_level``, which the emulator cannot evaluate, is
refused with a 400 rather than ignored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.activity_store import AREA, Activity
from ctct.emulator.api.contact_jobs import export_file
from ctct.emulator.api.contacts import STATUSES
from ctct.emulator.api.custom_field_store import CustomFieldStore
from ctct.emulator.api.export_rows import CF_PREFIX, EMAIL_DEPENDENT, FIELDS
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.segments import parse_segment_id, segment_condition
from ctct.emulator.api.selection import IdProblems, Selection
from ctct.emulator.api.tag_store import TagStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_CONTACT_IDS: Final = 500
MAX_LIST_IDS: Final = 50
MAX_TAG_IDS: Final = 50
NEW_SUBSCRIBER_SECONDS: Final = 30 * 86_400
_SCOPE: Final = ("contact_data",)
_UNSUPPORTED: Final = ("engagement_level",)
# The status counters each response definition declares.
MEMBERSHIP_STATUS: Final = ("items_total_count", "items_completed_count", "list_count")
EXPORT_STATUS: Final = ("items_total_count", "items_completed_count")


def resources(emu: Emulator) -> list[Resource]:
    def queue(
        caller: Caller, kind: str, payload: dict[str, Any], keys: tuple[str, ...]
    ) -> Response:
        status = dict.fromkeys(keys, 0)
        if "list_count" in keys:
            status["list_count"] = len(payload.get("list_ids") or ())
        activity = emu.accounts.activities.create(caller.account_id, kind, payload, status)
        emu.accounts.runner.wake()
        return errors.json_response(activity.render(status_keys=keys), 201)

    def check_exist(caller: Caller, lists: tuple[str, ...], tags: tuple[str, ...] = ()) -> None:
        with emu.db.transaction() as conn:
            missing = emu.accounts.lists.missing_ids(conn, caller.account_id, list(lists))
            missing_tags = TagStore.missing_ids(conn, caller.account_id, list(tags))
        problems = [f"list {m} does not exist." for m in missing]
        problems += [f"tag {t} does not exist." for t in missing_tags]
        if problems:
            raise errors.validation(AREA, *problems)

    def membership(kind: str) -> Any:
        async def handler(request: Request, caller: Caller) -> Response:
            selection, list_ids, segment_id = _membership_body(await read_json(request, AREA))
            check_exist(caller, (*selection.list_ids, *list_ids), selection.tag_ids)
            if segment_id is not None:
                if emu.accounts.segments.live(caller.account_id, segment_id) is None:
                    raise errors.validation(AREA, f"segment {segment_id} does not exist.")
                sql, args = segment_condition(emu, caller.account_id, segment_id, "c")
                selection = replace(selection, segment_sql=sql, segment_params=tuple(args))
            payload = {"selection": selection.to_json(), "list_ids": list(list_ids)}
            return queue(caller, kind, payload, MEMBERSHIP_STATUS)

        return handler

    async def contact_delete(request: Request, caller: Caller) -> Response:
        selection = _delete_body(await read_json(request, AREA))
        check_exist(caller, selection.list_ids)
        payload = {"selection": selection.to_json()}
        return queue(caller, "contact_delete", payload, MEMBERSHIP_STATUS)

    async def contact_exports(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        selection = _export_selection(body, emu.clock.now())
        check_exist(caller, selection.list_ids, selection.tag_ids)
        with emu.db.transaction() as conn:
            names = CustomFieldStore.names(conn, caller.account_id)
        fields, custom = _export_fields(body.get("fields"), names)
        payload = {"selection": selection.to_json(), "fields": fields, "custom_fields": custom}
        return queue(caller, "contact_exports", payload, EXPORT_STATUS)

    async def get_export(request: Request, caller: Caller) -> Response:
        file_id = str(request.path_params["file_export_id"]).lower()
        activity: Activity | None = emu.accounts.activities.get(caller.account_id, file_id)
        if activity is None or activity.kind != "contact_exports":
            raise errors.not_found(AREA, f"Export file {file_id} was not found.")
        if activity.state != "completed":
            raise errors.not_found(
                AREA, f"Export {file_id} is {activity.state}: get it once its activity completes."
            )
        with emu.db.transaction() as conn:
            text = export_file(conn, file_id)
        return Response(text, media_type="text/csv")

    def post(path: str, handler: Any) -> Resource:
        return Resource(path, (Operation("POST", handler, _SCOPE, "contacts:write"),))

    return [
        post("/activities/add_list_memberships", membership("add_list_memberships")),
        post("/activities/remove_list_memberships", membership("remove_list_memberships")),
        post("/activities/contact_delete", contact_delete),
        post("/activities/contact_exports", contact_exports),
        Resource(
            "/contact_exports/{file_export_id}",
            (Operation("GET", get_export, _SCOPE, "contacts:write", produces=("text/csv",)),),
        ),
    ]


def _object(
    body: object, allowed: tuple[str, ...], where: str, problems: IdProblems
) -> dict[str, Any]:
    if not isinstance(body, dict):
        problems.messages.append(f"{where} must be a JSON object.")
        problems.raise_any()
    assert isinstance(body, dict)
    for key in body:
        if key in _UNSUPPORTED:
            problems.messages.append(f"{where}.{key}: the emulator does not support {key}.")
        elif key not in allowed:
            problems.messages.append(f"{where}.{key} is not a property here.")
    return body


def _exclude(raw: object, problems: IdProblems) -> tuple[str, ...]:
    if raw is None:
        return ()
    exclude = _object(raw, ("contact_ids",), "exclude", problems)
    return problems.ids(exclude.get("contact_ids"), "exclude.contact_ids", 500, "contact")


def _membership_body(body: object) -> tuple[Selection, tuple[str, ...], int | None]:
    """``ListActivityAddContacts``/``ListActivityRemoveContacts``: the selection, the
    target lists and the source segment (its criteria are compiled by the caller)."""
    problems = IdProblems()
    data = _object(body, ("source", "list_ids", "exclude"), "body", problems)
    raw_source = data.get("source")
    source = _object(
        raw_source if raw_source is not None else {},
        ("contact_ids", "list_ids", "all_active_contacts", "tag_ids", "segment_id"),
        "source",
        problems,
    )
    segment = source.get("segment_id")
    segment_id = parse_segment_id(str(segment)) if segment is not None else None
    if segment is not None and segment_id is None:
        problems.messages.append("source.segment_id must be a segment's id.")
    selection = Selection(
        contact_ids=problems.ids(
            source.get("contact_ids"), "source.contact_ids", MAX_CONTACT_IDS, "contact"
        ),
        list_ids=problems.ids(source.get("list_ids"), "source.list_ids", MAX_LIST_IDS, "list"),
        tag_ids=problems.ids(source.get("tag_ids"), "source.tag_ids", MAX_TAG_IDS, "tag"),
        all_active=source.get("all_active_contacts") is True,
        exclude=_exclude(data.get("exclude"), problems),
    )
    if source.get("all_active_contacts") not in (None, True, False):
        problems.messages.append("source.all_active_contacts must be true or false.")
    chosen = [
        bool(selection.contact_ids),
        bool(selection.list_ids),
        bool(selection.tag_ids),
        selection.all_active,
        segment_id is not None,
    ]
    if sum(chosen) != 1 and not problems.messages:
        problems.messages.append(
            "source needs exactly one of contact_ids, list_ids, tag_ids, segment_id or "
            "all_active_contacts: true."
        )
    if data.get("list_ids") is None:
        problems.messages.append(f"list_ids is required: 1 to {MAX_LIST_IDS} target list ids.")
    list_ids = problems.ids(data.get("list_ids"), "list_ids", MAX_LIST_IDS, "list")
    problems.raise_any()
    return selection, list_ids, segment_id


def _delete_body(body: object) -> Selection:
    """``ContactDelete``: ``contact_ids`` (up to 500) or ``list_ids`` (up to 50)."""
    problems = IdProblems()
    data = _object(body, ("contact_ids", "list_ids"), "body", problems)
    contact_ids = problems.ids(data.get("contact_ids"), "contact_ids", MAX_CONTACT_IDS, "contact")
    list_ids = problems.ids(data.get("list_ids"), "list_ids", MAX_LIST_IDS, "list")
    if bool(contact_ids) == bool(list_ids) and not problems.messages:
        problems.messages.append("Give exactly one of contact_ids or list_ids.")
    problems.raise_any()
    return Selection(contact_ids=contact_ids, list_ids=list_ids)


def _export_selection(body: object, now: float) -> Selection:
    """The filters of ``ContactsExport`` (none: every contact that is not deleted)."""
    problems = IdProblems()
    allowed = (
        "contact_ids",
        "list_ids",
        "tag_ids",
        "new_subscriber",
        "fields",
        "status",
        "exclude",
    )
    data = _object(body, allowed, "body", problems)
    contact_ids = problems.ids(data.get("contact_ids"), "contact_ids", MAX_CONTACT_IDS, "contact")
    list_ids = problems.ids(data.get("list_ids"), "list_ids", MAX_LIST_IDS, "list")
    tag_ids = problems.ids(data.get("tag_ids"), "tag_ids", MAX_TAG_IDS, "tag")
    exclude = _exclude(data.get("exclude"), problems)
    status = data.get("status")
    if status is not None and status not in STATUSES:
        problems.messages.append(f"status must be one of {', '.join(STATUSES)}.")
    new_subscriber = data.get("new_subscriber", False)
    if not isinstance(new_subscriber, bool):
        problems.messages.append("new_subscriber must be true or false.")
    # CC's mutual exclusions, as its contract describes them.
    if sum(map(bool, (contact_ids, list_ids, tag_ids))) > 1:
        problems.messages.append("Give at most one of contact_ids, list_ids and tag_ids.")
    if tag_ids and (status or new_subscriber or exclude):
        problems.messages.append("tag_ids cannot be combined with other filters.")
    if contact_ids and (new_subscriber or exclude):
        problems.messages.append("contact_ids combines with status only.")
    if status and new_subscriber:
        problems.messages.append("status cannot be combined with new_subscriber.")
    problems.raise_any()
    return Selection(
        contact_ids=contact_ids,
        list_ids=list_ids,
        tag_ids=tag_ids,
        statuses=(status,) if isinstance(status, str) else (),
        exclude=exclude,
        created_after=now - NEW_SUBSCRIBER_SECONDS if new_subscriber else None,
    )


def _export_fields(raw: object, custom: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The export's columns and, for its ``cf:`` columns, the custom field ids
    (``custom``: the account's field names to ids; ``cf:`` names match in any case)."""
    by_name = {name.lower(): field_id for name, field_id in custom.items()}
    if raw is None:
        fields = [*FIELDS, *(CF_PREFIX + name for name in custom)]
    elif not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise errors.validation(AREA, "fields must be a non-empty array of field names.")
    else:
        fields = list(dict.fromkeys(raw))
    problems = []
    for name in fields:
        known = name in FIELDS or (
            name.startswith(CF_PREFIX) and name[len(CF_PREFIX) :].lower() in by_name
        )
        if not known:
            problems.append(
                f"fields: {name!r} is not an export field; use {', '.join(FIELDS)} or "
                "cf:<custom field name>."
            )
    if "email_address" not in fields and EMAIL_DEPENDENT & set(fields):
        problems.append("fields: the email_opt* and permission fields need email_address too.")
    if problems:
        raise errors.validation(AREA, *problems)
    columns = {f: by_name[f[len(CF_PREFIX) :].lower()] for f in fields if f.startswith(CF_PREFIX)}
    return fields, columns
