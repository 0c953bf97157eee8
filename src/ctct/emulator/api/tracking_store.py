"""Simulated tracking activity in the emulator's database: the planned events of every
send (``tracking_events``) and the send history of email activities
(``tracking_sends``).

Events are written once, when a send happens, with their own times; readers only see
events whose time has come (``at <= now``), so reports follow the emulator's clock. An
event with an effect on its contact (an opt-out, a landing-page sign-up...) stays
``pending`` until its time, when ``apply_due`` applies it (``tracking_effects``); the
emulator applies due effects before it answers any API request, so contacts and reports
always agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ctct.emulator.api import email_tracking, tracking_effects
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.tracking_plan import Event, Link
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS tracking_events (
        seq INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        activity_id TEXT NOT NULL,
        contact_id TEXT,
        email TEXT NOT NULL,
        kind TEXT NOT NULL,
        at REAL NOT NULL,
        device TEXT,
        url_id TEXT,
        link_url TEXT,
        code TEXT,
        reason TEXT,
        pending INTEGER NOT NULL DEFAULT 0,
        mirrored INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX IF NOT EXISTS tracking_events_unmirrored ON tracking_events(mirrored, at);
    CREATE INDEX IF NOT EXISTS tracking_events_activity
        ON tracking_events(activity_id, kind, at);
    CREATE INDEX IF NOT EXISTS tracking_events_person
        ON tracking_events(activity_id, contact_id, kind, at);
    CREATE INDEX IF NOT EXISTS tracking_events_contact ON tracking_events(contact_id, at);
    CREATE INDEX IF NOT EXISTS tracking_events_pending ON tracking_events(pending, at);
    CREATE TABLE IF NOT EXISTS tracking_sends (
        seq INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        activity_id TEXT NOT NULL,
        send_id INTEGER NOT NULL,
        trigger_at REAL NOT NULL,
        run_date REAL NOT NULL,
        count INTEGER NOT NULL,
        contact_list_ids TEXT NOT NULL,
        links TEXT NOT NULL,
        segment_ids TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX IF NOT EXISTS tracking_sends_activity
        ON tracking_sends(activity_id, trigger_at);
    """
)

TABLES: Final = ["tracking_events", "tracking_sends"]
# Our event kinds that segments' criteria know, under their names (``email_tracking``).
MIRRORED: Final = {
    "em_sends": "send",
    "em_opens": "open",
    "em_clicks": "click",
    "em_bounces": "bounce",
    "em_optouts": "optout",
    "em_forwards": "forward",
}
assert set(MIRRORED.values()) == set(email_tracking.KINDS)


@dataclass(frozen=True)
class Campaign:
    """What an event belongs to."""

    account_id: str
    campaign_id: str
    activity_id: str


def insert_events(conn: sqlite3.Connection, owner: Campaign, events: Iterable[Event]) -> int:
    rows = [
        (
            owner.account_id,
            owner.campaign_id,
            owner.activity_id,
            e.recipient.contact_id,
            e.recipient.email,
            e.kind,
            e.at,
            e.device,
            e.link.url_id if e.link else None,
            e.link.url if e.link else None,
            e.code,
            e.reason,
            int(e.effect),
            int(e.kind not in MIRRORED or e.recipient.contact_id is None),
        )
        for e in events
    ]
    conn.executemany(
        "INSERT INTO tracking_events(account_id, campaign_id, activity_id, contact_id, email, "
        "kind, at, device, url_id, link_url, code, reason, pending, mirrored) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def record_send(
    conn: sqlite3.Connection,
    owner: Campaign,
    trigger_at: float,
    run_date: float,
    count: int,
    list_ids: Sequence[str],
    links: Sequence[Link],
    segment_ids: Sequence[int] = (),
) -> int:
    """Add one send to the activity's history; its ``send_id`` (1, 2, ...)."""
    row = conn.execute(
        "SELECT COALESCE(MAX(send_id), 0) + 1 FROM tracking_sends WHERE activity_id = ?",
        (owner.activity_id,),
    ).fetchone()
    send_id = int(row[0])
    conn.execute(
        "INSERT INTO tracking_sends(account_id, campaign_id, activity_id, send_id, trigger_at, "
        "run_date, count, contact_list_ids, links, segment_ids) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            owner.account_id,
            owner.campaign_id,
            owner.activity_id,
            send_id,
            trigger_at,
            run_date,
            count,
            json.dumps(list(list_ids)),
            json.dumps([[link.url_id, link.url] for link in links]),
            json.dumps(list(segment_ids)),
        ),
    )
    return send_id


def was_sent(conn: sqlite3.Connection, activity_id: str, trigger_at: float) -> bool:
    row = conn.execute(
        "SELECT 1 FROM tracking_sends WHERE activity_id = ? AND trigger_at = ?",
        (activity_id, trigger_at),
    ).fetchone()
    return row is not None


def sent_contacts(conn: sqlite3.Connection, activity_id: str) -> set[str]:
    """Contacts an activity has been sent to (planned sends included)."""
    rows = conn.execute(
        "SELECT DISTINCT contact_id FROM tracking_events WHERE activity_id = ? "
        "AND kind = 'em_sends' AND contact_id IS NOT NULL",
        (activity_id,),
    ).fetchall()
    return {r[0] for r in rows}


NEXT_DUE: Final = (
    "SELECT MIN(at) FROM (SELECT MIN(at) AS at FROM tracking_events WHERE pending = 1 "
    "UNION ALL SELECT MIN(at) FROM tracking_events WHERE mirrored = 0)"
)


def next_due(conn: sqlite3.Connection) -> float | None:
    """When the next effect or mirroring is due (None: nothing is)."""
    row = conn.execute(NEXT_DUE).fetchone()
    return None if row[0] is None else float(row[0])


def mirror_due(conn: sqlite3.Connection, until: float) -> None:
    """Copy the email events whose time has come into ``email_tracking``, the table
    segments' tracking criteria read, so segments agree with the reports."""
    kinds = " ".join(f"WHEN '{ours}' THEN '{theirs}'" for ours, theirs in MIRRORED.items())
    conn.execute(
        "INSERT INTO email_tracking(account_id, campaign_activity_id, contact_id, kind, "  # noqa: S608
        f"occurred_at) SELECT account_id, activity_id, contact_id, CASE kind {kinds} END, at "
        "FROM tracking_events WHERE mirrored = 0 AND at <= ? ORDER BY at, seq",
        (until,),
    )
    conn.execute("UPDATE tracking_events SET mirrored = 1 WHERE mirrored = 0 AND at <= ?", (until,))


def apply_due(conn: sqlite3.Connection, until: float) -> int:
    """Apply the pending effects whose time is ``until`` or earlier, in time order."""
    rows = conn.execute(
        "SELECT * FROM tracking_events WHERE pending = 1 AND at <= ? ORDER BY at, seq", (until,)
    ).fetchall()
    for row in rows:
        contact_id = tracking_effects.apply(conn, row)
        conn.execute(
            "UPDATE tracking_events SET pending = 0, contact_id = ? WHERE seq = ?",
            (contact_id, row["seq"]),
        )
    return len(rows)


class TrackingStore:
    """Reads of the send history (the reports are in ``report_store``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def history(self, activity_id: str, now: float) -> list[sqlite3.Row]:
        return self.db.query(
            "SELECT * FROM tracking_sends WHERE activity_id = ? AND run_date <= ? ORDER BY send_id",
            (activity_id, now),
        )

    def first_send(self, activity_id: str) -> float | None:
        row = self.db.query_one(
            "SELECT MIN(trigger_at) FROM tracking_sends WHERE activity_id = ?", (activity_id,)
        )
        return None if row is None or row[0] is None else float(row[0])

    def links(self, activity_id: str) -> list[Link]:
        """The links of every send of the activity, first seen first."""
        found: dict[str, Link] = {}
        for row in self.db.query(
            "SELECT links FROM tracking_sends WHERE activity_id = ? ORDER BY send_id",
            (activity_id,),
        ):
            for link_id, url in json.loads(row["links"]):
                found.setdefault(link_id, Link(link_id, url))
        return list(found.values())


def history_item(row: sqlite3.Row) -> dict[str, Any]:
    """One ``EmailSendHistory`` item."""
    return {
        "send_id": row["send_id"],
        "contact_list_ids": json.loads(row["contact_list_ids"]),
        "segment_ids": json.loads(row["segment_ids"]),
        "count": row["count"],
        "run_date": format_datetime(row["run_date"]),
        "send_status": "COMPLETED",
        # 12: "no eligible contacts", which CC reports as COMPLETED with a count of 0.
        "reason_code": 0 if row["count"] else 12,
    }
