"""Resends to non-openers in the emulator's database, and validating
``ResendToNonOpenersInput``.

One resend per campaign, as at CC. Creating one adds a ``resend`` activity to the
campaign (same content as the primary email, its own subject). The resend goes out
``delay_minutes`` after the primary email's first send, to the recipients who by then
have neither opened nor bounced and are still subscribed; it then has its own tracking
and send history. Its state follows the primary email's: ``DRAFT`` while the primary is
a draft (``resend_request_id`` reads ``DRAFT``), ``SCHEDULED`` once the primary is
scheduled or sent, ``DONE`` once resent.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.email_input import AREA
from ctct.emulator.api.email_store import EmailStore
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS email_resends (
        resend_request_id INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        primary_activity_id TEXT NOT NULL,
        resend_activity_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        delay_minutes INTEGER NOT NULL,
        created_at REAL NOT NULL,
        sent_at REAL
    );
    """
)

TABLES: Final = ["email_resends"]
MIN_MINUTES: Final = 720
MAX_MINUTES: Final = 14_400
MAX_SUBJECT: Final = 1_000
# The primary email's states that allow creating a resend (CC: Draft, Scheduled, Done).
CREATABLE: Final = ("DRAFT", "SCHEDULED", "DONE")


def parse(body: object) -> tuple[str, int]:
    """``(resend_subject, delay in minutes)``; CC ignores ``delay_minutes`` when
    ``delay_days`` is given too."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    for key in body:
        if key not in ("resend_subject", "delay_days", "delay_minutes"):
            problems.append(f"{key} is not a property of ResendToNonOpenersInput.")
    subject = body.get("resend_subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT:
        problems.append(f"resend_subject is required: 1 to {MAX_SUBJECT:,} characters.")
    days, minutes = body.get("delay_days"), body.get("delay_minutes")
    delay = 0
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 10:
            problems.append("delay_days must be a whole number of days from 1 to 10.")
        else:
            delay = days * 1440
    elif minutes is not None:
        valid = isinstance(minutes, int) and not isinstance(minutes, bool)
        if not valid or not MIN_MINUTES <= minutes <= MAX_MINUTES:
            problems.append(
                f"delay_minutes must be a whole number from {MIN_MINUTES} (12 hours) "
                f"to {MAX_MINUTES:,} (10 days)."
            )
        else:
            delay = minutes
    else:
        problems.append("Give delay_days (1 to 10) or delay_minutes (720 to 14,400).")
    if problems:
        raise errors.validation(AREA, *problems)
    assert isinstance(subject, str)  # checked above
    return subject, delay


def public_id(row: sqlite3.Row, primary_status: str) -> str:
    return "DRAFT" if primary_status == "DRAFT" else str(row["resend_request_id"])


def resource(row: sqlite3.Row, primary_status: str, listing: bool) -> dict[str, Any]:
    """A ``ResendToNonOpeners`` item (``listing``) or a ``ResendToNonOpenersObject``."""
    body: dict[str, Any] = {"resend_subject": row["subject"]}
    minutes: int = row["delay_minutes"]
    if minutes % 1440 == 0:
        body["delay_days"] = minutes // 1440
    body["delay_minutes"] = minutes
    if row["sent_at"] is not None:
        body["resend_date"] = format_datetime(row["sent_at"])
    body["resend_request_id"] = public_id(row, primary_status)
    if listing and primary_status != "DRAFT":
        body["resend_status"] = "DONE" if row["sent_at"] is not None else "SCHEDULED"
    return body


class ResendStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def for_campaign(self, campaign_id: str) -> sqlite3.Row | None:
        return self.db.query_one(
            "SELECT * FROM email_resends WHERE campaign_id = ?", (campaign_id,)
        )

    def create(
        self,
        primary: sqlite3.Row,
        subject: str,
        delay: int,
        now: float,
        first_sent: float | None,
    ) -> sqlite3.Row:
        if first_sent is not None and first_sent + delay * 60 <= now:
            raise errors.validation(
                AREA,
                f"The email was sent at {format_datetime(first_sent)}: a resend "
                f"{delay} minutes after that is in the past. Choose a longer delay.",
            )
        with self.db.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM email_resends WHERE campaign_id = ?", (primary["campaign_id"],)
            ).fetchone():
                raise errors.conflict(
                    AREA, "This campaign already has a resend to non-openers (one per campaign)."
                )
            data: dict[str, Any] = {**json.loads(primary["data"]), "subject": subject}
            status = "DRAFT" if primary["status"] == "DRAFT" else "SCHEDULED"
            resend_id = EmailStore.add_activity(conn, primary, "resend", status, data)
            cursor = conn.execute(
                "INSERT INTO email_resends(campaign_id, account_id, primary_activity_id, "
                "resend_activity_id, subject, delay_minutes, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    primary["campaign_id"],
                    primary["account_id"],
                    primary["campaign_activity_id"],
                    resend_id,
                    subject,
                    delay,
                    now,
                ),
            )
            conn.execute(
                "UPDATE email_campaigns SET updated_at = ? WHERE campaign_id = ?",
                (now, primary["campaign_id"]),
            )
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM email_resends WHERE resend_request_id = ?", (cursor.lastrowid,)
            ).fetchone()
        assert row is not None  # inserted above
        return row

    def delete(self, row: sqlite3.Row, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM email_resends WHERE resend_request_id = ?",
                (row["resend_request_id"],),
            )
            EmailStore.delete_activity(conn, row["resend_activity_id"])
            conn.execute(
                "UPDATE email_campaigns SET updated_at = ? WHERE campaign_id = ?",
                (now, row["campaign_id"]),
            )
