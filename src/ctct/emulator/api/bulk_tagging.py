"""More bulk activities: ``POST /v3/activities/contacts_taggings_add`` and
``/contacts_taggings_remove`` (tag or un-tag the contacts a ``source`` selects),
``/contacts_tags_delete`` (up to 500 tags), ``/list_delete`` (up to 100 lists) and
``/custom_fields_delete`` (up to 100 fields). Each answers 201 with an activity that runs
afterwards (``activity_runner``). Scope ``contact_data``; privilege ``contacts:write``.

Ids that are not the account's: a 404 where the contract declares one (tags to add or
remove, custom fields), else a 400 (lists and tags to delete). The contract's
``CustomFieldId100`` says ``maxItems: 0``, a slip for the 100 its summary states.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors
from ctct.emulator.api.activity_store import AREA
from ctct.emulator.api.bulk_activities import (
    MAX_CONTACT_IDS,
    MAX_LIST_IDS,
    MAX_TAG_IDS,
    NEW_SUBSCRIBER_SECONDS,
)
from ctct.emulator.api.custom_field_store import CustomFieldStore
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.selection import IdProblems, Selection
from ctct.emulator.api.tag_store import TagStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_DELETE_TAGS: Final = 500
MAX_DELETE_LISTS: Final = 100
MAX_DELETE_FIELDS: Final = 100
TAGGING_STATUS: Final = ("items_total_count", "items_completed_count")
_SCOPE: Final = ("contact_data",)
_SOURCES: Final = ("contact_ids", "list_ids", "tag_ids", "all_active_contacts", "new_subscriber")


def resources(emu: Emulator) -> list[Resource]:
    def queue(
        caller: Caller, kind: str, payload: dict[str, Any], keys: tuple[str, ...] | None
    ) -> Response:
        status = dict.fromkeys(keys or (), 0)
        if "list_count" in status:
            status["list_count"] = len(payload["list_ids"])
        activity = emu.accounts.activities.create(caller.account_id, kind, payload, status)
        emu.accounts.runner.wake()
        if keys is None:  # ActivityDeleteCustomFields: no status, no start/end times
            return errors.json_response(activity.render(status_keys=(), times=True), 201)
        return errors.json_response(activity.render(status_keys=keys), 201)

    def tagging(kind: str) -> Any:
        async def handler(request: Request, caller: Caller) -> Response:
            selection, tag_ids = _tagging_body(await read_json(request, AREA), emu.clock.now())
            with emu.db.transaction() as conn:
                missing_lists = emu.accounts.lists.missing_ids(
                    conn, caller.account_id, list(selection.list_ids)
                )
                missing_tags = TagStore.missing_ids(
                    conn, caller.account_id, [*selection.tag_ids, *tag_ids]
                )
            problems = [f"list {m} was not found." for m in missing_lists]
            problems += [f"tag {t} was not found." for t in dict.fromkeys(missing_tags)]
            if problems:
                raise errors.ApiError(404, [(f"{AREA}.api.not_found", p) for p in problems])
            payload = {"selection": selection.to_json(), "tag_ids": list(tag_ids)}
            return queue(caller, kind, payload, TAGGING_STATUS)

        return handler

    async def tags_delete(request: Request, caller: Caller) -> Response:
        tag_ids = _ids(await read_json(request, AREA), "tag_ids", MAX_DELETE_TAGS, "tag")
        with emu.db.transaction() as conn:
            missing = TagStore.missing_ids(conn, caller.account_id, list(tag_ids))
        if missing:
            raise errors.validation(AREA, *(f"tag {t} does not exist." for t in missing))
        return queue(caller, "contacts_tags_delete", {"tag_ids": list(tag_ids)}, TAGGING_STATUS)

    async def list_delete(request: Request, caller: Caller) -> Response:
        list_ids = _ids(await read_json(request, AREA), "list_ids", MAX_DELETE_LISTS, "list")
        with emu.db.transaction() as conn:
            missing = emu.accounts.lists.missing_ids(conn, caller.account_id, list(list_ids))
        if missing:
            raise errors.validation(AREA, *(f"list {m} does not exist." for m in missing))
        return queue(caller, "list_delete", {"list_ids": list(list_ids)}, ("list_count",))

    async def custom_fields_delete(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        ids = _ids(body, "custom_field_ids", MAX_DELETE_FIELDS, "custom field")
        with emu.db.transaction() as conn:
            missing = CustomFieldStore.missing_ids(conn, caller.account_id, list(ids))
        if missing:
            raise errors.ApiError(
                404,
                [(f"{AREA}.api.not_found", f"custom field {m} was not found.") for m in missing],
            )
        return queue(caller, "custom_fields_delete", {"custom_field_ids": list(ids)}, None)

    def post(path: str, handler: Any) -> Resource:
        return Resource(path, (Operation("POST", handler, _SCOPE, "contacts:write"),))

    return [
        post("/activities/contacts_taggings_add", tagging("contacts_taggings_add")),
        post("/activities/contacts_taggings_remove", tagging("contacts_taggings_remove")),
        post("/activities/contacts_tags_delete", tags_delete),
        post("/activities/list_delete", list_delete),
        post("/activities/custom_fields_delete", custom_fields_delete),
    ]


def _ids(body: object, key: str, maximum: int, what: str) -> tuple[str, ...]:
    problems = IdProblems()
    if not isinstance(body, dict):
        problems.messages.append(f"The request body must be a JSON object with {key}.")
        problems.raise_any()
    assert isinstance(body, dict)
    for other in body:
        if other != key:
            problems.messages.append(f"{other} is not a property here; send {key}.")
    if body.get(key) is None:
        problems.messages.append(f"{key} is required: 1 to {maximum} {what} ids.")
    ids = problems.ids(body.get(key), key, maximum, what)
    problems.raise_any()
    return ids


def _tagging_body(body: object, now: float) -> tuple[Selection, tuple[str, ...]]:
    """``TagAddRemoveContacts``: one ``source``, optional ``exclude`` (only with
    ``all_active_contacts`` or ``list_ids``), and the ``tag_ids`` to add or remove."""
    problems = IdProblems()
    if not isinstance(body, dict):
        problems.messages.append("The request body must be a JSON object.")
        problems.raise_any()
    assert isinstance(body, dict)
    for key in body:
        if key not in ("source", "exclude", "tag_ids"):
            problems.messages.append(f"{key} is not a property here.")
    source = body.get("source")
    if not isinstance(source, dict):
        problems.messages.append(
            f"source is required: an object with one of {', '.join(_SOURCES)}."
        )
        source = {}
    for key in source:
        if key not in _SOURCES:
            problems.messages.append(
                f"source.{key} is not a source; use one of {', '.join(_SOURCES)}."
            )
    for flag in ("all_active_contacts", "new_subscriber"):
        if source.get(flag) not in (None, True, False):
            problems.messages.append(f"source.{flag} must be true or false.")
    selection = Selection(
        contact_ids=problems.ids(
            source.get("contact_ids"), "source.contact_ids", MAX_CONTACT_IDS, "contact"
        ),
        list_ids=problems.ids(source.get("list_ids"), "source.list_ids", MAX_LIST_IDS, "list"),
        tag_ids=problems.ids(source.get("tag_ids"), "source.tag_ids", MAX_TAG_IDS, "tag"),
        all_active=source.get("all_active_contacts") is True,
        created_after=now - NEW_SUBSCRIBER_SECONDS
        if source.get("new_subscriber") is True
        else None,
    )
    chosen = [
        bool(selection.contact_ids),
        bool(selection.list_ids),
        bool(selection.tag_ids),
        selection.all_active,
        selection.created_after is not None,
    ]
    if sum(chosen) != 1 and not problems.messages:
        problems.messages.append(f"source needs exactly one of {', '.join(_SOURCES)}.")
    exclude: tuple[str, ...] = ()
    raw_exclude = body.get("exclude")
    if raw_exclude is not None:
        if not isinstance(raw_exclude, dict) or set(raw_exclude) - {"contact_ids"}:
            problems.messages.append("exclude must be an object with contact_ids.")
        else:
            exclude = problems.ids(
                raw_exclude.get("contact_ids"), "exclude.contact_ids", MAX_CONTACT_IDS, "contact"
            )
        if not (selection.all_active or selection.list_ids):
            problems.messages.append(
                "exclude applies only with source all_active_contacts or list_ids."
            )
    if body.get("tag_ids") is None:
        problems.messages.append(f"tag_ids is required: 1 to {MAX_TAG_IDS} tag ids.")
    tag_ids = problems.ids(body.get("tag_ids"), "tag_ids", MAX_TAG_IDS, "tag")
    problems.raise_any()
    return replace(selection, exclude=exclude), tag_ids
