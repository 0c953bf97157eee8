"""What simulated tracking does to contacts when an event's time comes, so the contacts
agree with the reports:

- ``em_optouts``: the contact's ``permission_to_send`` becomes ``unsubscribed``
  (``opt_out_source`` ``Contact``, the event's date and reason);
- ``sms_optouts``: its SMS consents become ``unsubscribed``;
- ``p_contact_update``: the contact was updated from a landing page (``update_source``
  ``Contact``, ``updated_at``);
- ``p_contact_add``: a landing-page visitor signed up: a new contact (``create_source``
  ``Contact``, implicit permission) on the page's list.

A contact deleted, or no longer subscribed, by then is left alone (the event still
counts in the reports: it happened). Bounces change nothing: CC keeps bounced contacts.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ctct.emulator.api import contact_model, errors
from ctct.emulator.api.contact_store import ContactStore
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.list_store import ListStore


def apply(conn: sqlite3.Connection, event: sqlite3.Row) -> str | None:
    """Apply one due event; the id of the contact it concerns (None: nobody)."""
    kind: str = event["kind"]
    if kind == "p_contact_add":
        return _sign_up(conn, event)
    contact_id: str | None = event["contact_id"]
    row = conn.execute(
        "SELECT data, deleted_at FROM contacts WHERE contact_id = ?", (contact_id,)
    ).fetchone()
    if contact_id is None or row is None or row["deleted_at"] is not None:
        return contact_id
    data: dict[str, Any] = json.loads(row["data"])
    at: float = event["at"]
    changed = _changed(kind, data, event, at)
    if changed is not None:
        ContactStore.update_documents(conn, [(contact_id, changed)], at)
    return contact_id


def _changed(
    kind: str, data: dict[str, Any], event: sqlite3.Row, at: float
) -> dict[str, Any] | None:
    if kind == "em_optouts":
        email = data.get("email_address")
        if not email or email.get("permission_to_send") not in contact_model.OPTED_IN:
            return None
        unsubscribed = contact_model.with_permission(email, "unsubscribed", "Contact", at)
        if event["reason"]:
            unsubscribed["opt_out_reason"] = event["reason"]
        return {**data, "email_address": unsubscribed, "update_source": "Contact"}
    if kind == "sms_optouts":
        channel = data.get("sms_channel")
        if not channel:
            return None
        stamp = format_datetime(at)
        consents = [
            {
                **c,
                "sms_consent_permission": "unsubscribed",
                "opt_out_date": stamp,
                "updated_at": stamp,
            }
            for c in channel.get("sms_channel_consents", [])
        ]
        return {**data, "sms_channel": {**channel, "sms_channel_consents": consents}}
    if kind == "p_contact_update":
        return {**data, "update_source": "Contact"}
    return None


def _sign_up(conn: sqlite3.Connection, event: sqlite3.Row) -> str | None:
    at: float = event["at"]
    document = {
        "email_address": contact_model.new_email(event["email"], "implicit", "Contact", at),
        "create_source": "Contact",
        "update_source": "Contact",
    }
    try:
        (contact_id,) = ContactStore.insert_many(conn, event["account_id"], [document], at)
    except errors.ApiError:  # the address became a contact meanwhile: nothing to add
        return None
    page = conn.execute(
        "SELECT list_id FROM landing_pages WHERE campaign_activity_id = ?",
        (event["activity_id"],),
    ).fetchone()
    list_id = page["list_id"] if page is not None else None
    if list_id and ListStore.live(conn, event["account_id"], list_id):
        ListStore.add_members(conn, [list_id], [contact_id])
    return contact_id
