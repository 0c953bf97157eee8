"""Contacts operations beside create/read/update/delete: ``GET /v3/contacts/counts``,
``PUT /v3/contacts/resubscribe/{contact_id}`` and
``GET /v3/contacts/sms_engagement_history/{contact_id}``. Scope ``contact_data``;
privileges ``contacts:read`` / ``contacts:write``. Registered before
``/contacts/{contact_id}``, which would otherwise take ``counts`` for a malformed id.

Counts: ``total`` is every contact not deleted; ``explicit``, ``implicit``, ``pending``
(pending_confirmation) and ``unsubscribed`` count email permissions;
``include=new_subscriber`` adds opted-in contacts created in the last 30 days.

Resubscribe follows CC: it sends the unsubscribed contact a confirmation email, once
(a second request is 409), and the contact stays unsubscribed until they confirm. The
emulator has no inbox, so ``POST /__emulator/contacts/{contact_id}/confirm_resubscribe``
plays the contact clicking the link: permission becomes ``explicit`` (source
``Contact``) and the contact joins the requested lists that still exist.

SMS engagement history: one record per SMS consent of the contact's ``sms_channel``
(none without one); the record codes (``state`` ``I``/``O``/``P``/``N`` for opted in,
out, pending, not set; ``source`` ``A``/``C`` for account or contact) are the
emulator's: CC does not publish them.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct.emulator.api import contact_model, errors, params
from ctct.emulator.api.contact_input import AREA, is_uuid
from ctct.emulator.api.contact_store import contact_not_found, encode_document
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.list_store import ListStore
from ctct.emulator.db import register_schema

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

register_schema(
    """
    CREATE TABLE IF NOT EXISTS contact_resubscribes (
        contact_id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        list_ids TEXT NOT NULL,
        requested_at REAL NOT NULL,
        confirmed_at REAL
    );
    """
)

TABLES: Final = ["contact_resubscribes"]
NEW_SUBSCRIBER_SECONDS: Final = 30 * 86_400
MAX_RESUBSCRIBE_LISTS: Final = 50  # not in the contract; as many as a contact may join
_SCOPE: Final = ("contact_data",)
_SMS_STATES: Final = {
    "explicit": ("I", "opt_in"),
    "unsubscribed": ("O", "opt_out"),
    "pending_confirmation": ("P", "pending"),
    "not_set": ("N", "not_set"),
}


def resources(emu: Emulator) -> list[Resource]:
    async def counts(request: Request, caller: Caller) -> Response:
        include = request.query_params.get("include")
        if include not in (None, "", "new_subscriber"):
            raise errors.validation(AREA, f"include must be new_subscriber; got {include!r}.")
        rows = emu.db.query(
            "SELECT json_extract(data, '$.email_address.permission_to_send') AS p, "
            "COUNT(*) AS n FROM contacts WHERE account_id = ? AND status != 'deleted' "
            "GROUP BY p",
            (caller.account_id,),
        )
        by_permission = {r["p"]: int(r["n"]) for r in rows}
        body: dict[str, Any] = {
            "total": sum(by_permission.values()),
            "explicit": by_permission.get("explicit", 0),
            "implicit": by_permission.get("implicit", 0),
            "pending": by_permission.get("pending_confirmation", 0),
            "unsubscribed": by_permission.get("unsubscribed", 0),
        }
        if include == "new_subscriber":
            row = emu.db.query_one(
                "SELECT COUNT(*) AS n FROM contacts WHERE account_id = ? AND status = 'active' "
                "AND created_at > ?",
                (caller.account_id, emu.clock.now() - NEW_SUBSCRIBER_SECONDS),
            )
            body["new_subscriber"] = int(row["n"]) if row else 0
        return errors.json_response(body)

    async def resubscribe(request: Request, caller: Caller) -> Response:
        contact_id = params.path_uuid(request, "contact_id", AREA)
        list_ids = _resubscribe_lists(await read_json(request, AREA))
        now = emu.clock.now()
        with emu.db.transaction() as conn:
            row = conn.execute(
                "SELECT data, status FROM contacts WHERE account_id = ? AND contact_id = ?",
                (caller.account_id, contact_id),
            ).fetchone()
            if row is None:
                raise contact_not_found(contact_id)
            if row["status"] != "unsubscribed":
                raise errors.validation(
                    AREA,
                    f"Only unsubscribed contacts can be resubscribed; this one is {row['status']}.",
                )
            missing = emu.accounts.lists.missing_ids(conn, caller.account_id, list_ids)
            if missing:
                raise errors.validation(AREA, *(f"list {m} does not exist." for m in missing))
            earlier = conn.execute(
                "SELECT 1 FROM contact_resubscribes WHERE contact_id = ?", (contact_id,)
            ).fetchone()
            if earlier is not None:
                raise errors.conflict(
                    AREA,
                    "A resubscribe email was already sent to this contact; CC sends it once.",
                )
            conn.execute(
                "INSERT INTO contact_resubscribes(contact_id, account_id, list_ids, requested_at) "
                "VALUES (?, ?, ?, ?)",
                (contact_id, caller.account_id, json.dumps(list_ids), now),
            )
        return Response(status_code=200)

    async def sms_history(request: Request, caller: Caller) -> Response:
        contact_id = params.path_uuid(request, "contact_id", AREA)
        contact = emu.accounts.contacts.get(caller.account_id, contact_id)
        if contact is None:
            raise contact_not_found(contact_id)
        return errors.json_response(sms_engagement_history(contact_id, contact.data))

    return [
        Resource("/contacts/counts", (Operation("GET", counts, _SCOPE, "contacts:read"),)),
        Resource(
            "/contacts/resubscribe/{contact_id}",
            (Operation("PUT", resubscribe, _SCOPE, "contacts:write"),),
        ),
        Resource(
            "/contacts/sms_engagement_history/{contact_id}",
            (Operation("GET", sms_history, _SCOPE, "contacts:read"),),
        ),
    ]


def control_routes(emu: Emulator) -> list[BaseRoute]:
    async def confirm(request: Request) -> Response:
        contact_id = str(request.path_params["contact_id"]).lower()
        now = emu.clock.now()
        with emu.db.transaction() as conn:
            pending = conn.execute(
                "SELECT * FROM contact_resubscribes WHERE contact_id = ? AND confirmed_at IS NULL",
                (contact_id,),
            ).fetchone()
            if pending is None:
                return JSONResponse(
                    {
                        "error": "not_found",
                        "error_description": f"No resubscribe email is waiting for contact "
                        f"{contact_id}: send PUT /v3/contacts/resubscribe/{{id}} first.",
                    },
                    status_code=404,
                )
            row = conn.execute(
                "SELECT data FROM contacts WHERE contact_id = ?", (contact_id,)
            ).fetchone()
            data = json.loads(row["data"])
            if data.get("email_address"):
                data["email_address"] = contact_model.with_permission(
                    data["email_address"], "explicit", "Contact", now
                )
            conn.execute(
                "UPDATE contacts SET data = ?, status = ?, updated_at = ? WHERE contact_id = ?",
                (
                    encode_document(data),
                    contact_model.status_of(data, deleted=False),
                    now,
                    contact_id,
                ),
            )
            lists = [
                i
                for i in json.loads(pending["list_ids"])
                if ListStore.live(conn, pending["account_id"], i)
            ]
            ListStore.add_members(conn, lists, [contact_id])
            conn.execute(
                "UPDATE contact_resubscribes SET confirmed_at = ? WHERE contact_id = ?",
                (now, contact_id),
            )
        return JSONResponse({"contact_id": contact_id, "permission_to_send": "explicit"})

    return [
        Route("/__emulator/contacts/{contact_id}/confirm_resubscribe", confirm, methods=["POST"])
    ]


def _resubscribe_lists(body: object) -> list[str]:
    """A ``ContactResubscribeRequest``: ``list_ids``, 1 to 50 list ids."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object with list_ids.")
    raw = body.get("list_ids")
    if (
        not isinstance(raw, list)
        or not 1 <= len(raw) <= MAX_RESUBSCRIBE_LISTS
        or not all(is_uuid(i) for i in raw)
    ):
        raise errors.validation(
            AREA, f"list_ids is required: 1 to {MAX_RESUBSCRIBE_LISTS} list ids (UUIDs)."
        )
    unknown = [k for k in body if k != "list_ids"]
    if unknown:
        raise errors.validation(AREA, f"{unknown[0]} is not a property here; send list_ids.")
    return list(dict.fromkeys(str(i).lower() for i in raw))


def sms_engagement_history(contact_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``SmsEngagementHistory`` of a stored contact."""
    channel = data.get("sms_channel")
    if not channel:
        return []
    source = "A" if channel.get("update_source") == "Account" else "C"
    records = []
    for index, consent in enumerate(channel.get("sms_channel_consents", [])):
        permission = consent.get("sms_consent_permission", "not_set")
        state, action = _SMS_STATES.get(permission, ("N", "not_set"))
        stamp = consent.get("updated_at") or consent.get("created_at")
        details: dict[str, Any] = {
            "state": state,
            "source": source,
            "consent_type": consent.get("consent_type", "promotional_sms"),
            "consent_action_type": action,
            "consent_medium_type": "API",
            "source_sms_number": channel.get("sms_address", ""),
        }
        if stamp:
            details["consent_action_time"] = stamp
            details["source_consent_timestamp"] = stamp
        record: dict[str, Any] = {
            "contact_id": contact_id,
            "sms_channel_id": channel["sms_channel_id"],
            # Stable per channel and consent, so repeated reads agree.
            "sms_channel_history_id": str(
                uuid.uuid5(uuid.UUID(channel["sms_channel_id"]), str(index))
            ),
            "history_details": details,
        }
        if stamp:
            record["insert_time"] = stamp
        records.append(record)
    return records
