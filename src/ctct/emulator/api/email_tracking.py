"""Email tracking events (sends, opens, clicks, bounces, opt-outs, forwards) per contact
and campaign activity: what segments' ``tracking`` criteria evaluate.

One row per event. The control API's seed (``"tracking"``) writes them; so may anything
that simulates sending campaigns. Segment criteria read the table directly in SQL (see
``segment_criteria``): ``kind`` is one of ``KINDS`` and ``occurred_at`` epoch seconds on
the emulator's clock.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from ctct.emulator.api.contact_input import is_email, is_uuid
from ctct.emulator.api.isotime import parse_datetime
from ctct.emulator.db import register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS email_tracking (
        seq INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        campaign_activity_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        occurred_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS email_tracking_contact
        ON email_tracking(contact_id, kind, campaign_activity_id);
    CREATE INDEX IF NOT EXISTS email_tracking_account
        ON email_tracking(account_id, kind, campaign_activity_id);
    """
)

TABLES: Final = ["email_tracking"]
KINDS: Final = ("send", "open", "click", "bounce", "optout", "forward")
_IMPLIES: Final = {
    "open": ("send",),
    "click": ("send", "open"),
    "forward": ("send", "open"),
    "bounce": ("send",),
    "optout": ("send",),
}


class TrackingSeedError(ValueError):
    """A ``tracking`` seed entry the emulator cannot store; the message says why."""


def seed(conn: sqlite3.Connection, account_id: str, entries: object, now: float) -> int:
    """Store seeded events: ``[{"campaign_activity_id", "contact": email or contact id,
    "kind", "at"?: ISO-8601 (default: now)}]``. Events imply those they need, added once
    if missing at the same time: every kind the send, a click or forward the open."""
    if not isinstance(entries, list):
        raise TrackingSeedError("tracking must be an array of objects.")
    rows: list[tuple[Any, ...]] = []
    for index, entry in enumerate(entries):
        where = f"tracking[{index}]"
        if not isinstance(entry, dict):
            raise TrackingSeedError(f"{where} must be an object.")
        activity_id, kind = entry.get("campaign_activity_id"), entry.get("kind")
        if not is_uuid(activity_id):
            raise TrackingSeedError(f"{where}.campaign_activity_id must be a UUID.")
        if kind not in KINDS:
            raise TrackingSeedError(f"{where}.kind must be one of {', '.join(KINDS)}.")
        at = now
        if entry.get("at") is not None:
            parsed = parse_datetime(str(entry["at"]))
            if parsed is None:
                raise TrackingSeedError(f"{where}.at must be an ISO-8601 date-time.")
            at = parsed
        contact_id = _contact_id(conn, account_id, entry.get("contact"), where)
        rows.append((account_id, str(activity_id).lower(), contact_id, kind, at))
    added = 0
    for account, activity_id, contact_id, kind, at in rows:
        for implied in _IMPLIES.get(kind, ()):
            if not _has(conn, activity_id, contact_id, implied):
                _insert(conn, account, activity_id, contact_id, implied, at)
                added += 1
        _insert(conn, account, activity_id, contact_id, kind, at)
        added += 1
    return added


def _insert(
    conn: sqlite3.Connection,
    account_id: str,
    activity_id: str,
    contact_id: str,
    kind: str,
    at: float,
) -> None:
    conn.execute(
        "INSERT INTO email_tracking(account_id, campaign_activity_id, contact_id, kind, "
        "occurred_at) VALUES (?, ?, ?, ?, ?)",
        (account_id, activity_id, contact_id, kind, at),
    )


def _has(conn: sqlite3.Connection, activity_id: str, contact_id: str, kind: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM email_tracking WHERE campaign_activity_id = ? AND contact_id = ? "
        "AND kind = ? LIMIT 1",
        (activity_id, contact_id, kind),
    ).fetchone()
    return row is not None


def _contact_id(conn: sqlite3.Connection, account_id: str, ref: object, where: str) -> str:
    if is_uuid(ref):
        row = conn.execute(
            "SELECT contact_id FROM contacts WHERE account_id = ? AND contact_id = ?",
            (account_id, str(ref).lower()),
        ).fetchone()
    elif is_email(ref):
        row = conn.execute(
            "SELECT contact_id FROM contacts WHERE account_id = ? AND email_key = ?",
            (account_id, str(ref).lower()),
        ).fetchone()
    else:
        raise TrackingSeedError(f"{where}.contact must be a contact's email address or id.")
    if row is None:
        raise TrackingSeedError(f"{where}.contact: no contact {ref!r} in this account.")
    return str(row["contact_id"])
