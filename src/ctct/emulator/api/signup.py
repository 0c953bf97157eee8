"""``POST /v3/contacts/sign_up_form``: create or update a contact that signed up itself.

CC's rules (its contract's description): the contact is found by email address (else by
SMS number); a new one answers 201, an existing one 200, both ``{contact_id, action}``
with ``action`` ``created``/``updated``. Updates are partial: only the properties sent
change, and ``list_memberships``/``custom_fields`` are appended to (a custom field sent
again takes the new value). New contacts get ``permission_to_send: explicit`` and
``opt_in_source: Contact`` (the emulated accounts have Confirmed Opt-In disabled); updated
ones are set to ``explicit``. Updating a deleted contact restores it.

CC answers 409 only when simultaneous requests modify the same contact; the emulator
applies requests one at a time, so it never needs to.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import contact_model, errors
from ctct.emulator.api.contact_input import AREA
from ctct.emulator.api.contact_store import ContactStore
from ctct.emulator.api.custom_field_store import CustomFieldStore
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.list_store import ListStore
from ctct.emulator.api.signup_input import SignUp, parse_signup

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

SOURCE: Final = "Contact"
MAX_STORED_CUSTOM_FIELDS: Final = 25  # what a contact holds (ContactResource)
MAX_ITEMS: Final = 3


def resources(emu: Emulator) -> list[Resource]:
    async def sign_up(request: Request, caller: Caller) -> Response:
        given = parse_signup(await read_json(request, AREA))
        contact_id, created = sign_up_contact(emu, caller.account_id, given)
        body = {"contact_id": contact_id, "action": "created" if created else "updated"}
        return errors.json_response(body, 201 if created else 200)

    return [
        Resource(
            "/contacts/sign_up_form",
            (Operation("POST", sign_up, ("contact_data",), "contacts:write"),),
        )
    ]


def sign_up_contact(emu: Emulator, account_id: str, given: SignUp) -> tuple[str, bool]:
    """Create or update the contact; ``(contact_id, created)``."""
    now = emu.clock.now()
    with emu.db.transaction() as conn:
        missing = emu.accounts.lists.missing_ids(conn, account_id, given.list_ids)
        if missing:
            raise errors.not_found(
                AREA, "; ".join(f"list_memberships: list {m} does not exist." for m in missing)
            )
        unknown = CustomFieldStore.missing_ids(conn, account_id, list(given.custom_fields))
        if unknown:
            raise errors.validation(
                AREA, *(f"custom_fields: custom field {u} does not exist." for u in unknown)
            )
        found = _find(conn, account_id, given)
        old = json.loads(found["data"]) if found is not None else None
        data = _merged(old, given, now)
        if len(data.get("custom_fields", [])) > MAX_STORED_CUSTOM_FIELDS:
            raise errors.validation(
                AREA, f"A contact holds at most {MAX_STORED_CUSTOM_FIELDS} custom fields."
            )
        if found is None:
            (contact_id,) = ContactStore.insert_many(conn, account_id, [data], now)
        else:
            contact_id = found["contact_id"]
            ContactStore.update_documents(conn, [(contact_id, data)], now)
        ListStore.add_members(conn, given.list_ids, [contact_id])
    return contact_id, found is None


def _find(conn: sqlite3.Connection, account_id: str, given: SignUp) -> sqlite3.Row | None:
    row: sqlite3.Row | None = None
    if given.email is not None:
        row = conn.execute(
            "SELECT contact_id, data FROM contacts WHERE account_id = ? AND email_key = ?",
            (account_id, given.email.lower()),
        ).fetchone()
    if row is None and given.sms is not None:
        number = given.sms["full_sms_address"]
        row = conn.execute(
            "SELECT contact_id, data FROM contacts WHERE account_id = ? AND "
            "json_extract(data, '$.sms_channel.dial_code') || "
            "json_extract(data, '$.sms_channel.sms_address') = ?",
            (account_id, number),
        ).fetchone()
    return row


def _merged(old: dict[str, Any] | None, given: SignUp, now: float) -> dict[str, Any]:
    data: dict[str, Any] = dict(old) if old else {"create_source": SOURCE}
    data["update_source"] = SOURCE
    data.update(given.scalars)
    stamp = format_datetime(now)
    if given.email is not None:
        email = data.get("email_address")
        if email is None:
            data["email_address"] = contact_model.new_email(given.email, "explicit", SOURCE, now)
        else:
            data["email_address"] = contact_model.with_permission(email, "explicit", SOURCE, now)
    if given.sms is not None:
        data["sms_channel"] = contact_model.sms_channel(
            given.sms, data.get("sms_channel"), SOURCE, now
        )
    if given.phone is not None:
        phones = list(data.get("phone_numbers", []))
        if all(p.get("phone_number") != given.phone for p in phones):
            phones.append(
                {
                    "phone_number_id": str(uuid.uuid4()),
                    "phone_number": given.phone,
                    "kind": "other",
                    "create_source": SOURCE,
                    "update_source": SOURCE,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        data["phone_numbers"] = phones[-MAX_ITEMS:]
    if given.address is not None:
        data["street_addresses"] = _with_address(
            data.get("street_addresses", []), given.address, stamp
        )
    if given.custom_fields:
        kept = [
            f
            for f in data.get("custom_fields", [])
            if f["custom_field_id"] not in given.custom_fields
        ]
        added = [{"custom_field_id": k, "value": v} for k, v in given.custom_fields.items()]
        data["custom_fields"] = kept + added
    return data


def _with_address(
    addresses: list[dict[str, Any]], given: dict[str, str], stamp: str
) -> list[dict[str, Any]]:
    result = [dict(a) for a in addresses]
    for address in result:
        if address.get("kind") == given["kind"]:
            address.update(given, updated_at=stamp)
            return result
    entry = {"street_address_id": str(uuid.uuid4()), **given, "created_at": stamp}
    entry["updated_at"] = stamp
    return [*result, entry][-MAX_ITEMS:]
