"""A/B tests of email campaigns (subject line only, as at CC), in the emulator's database,
and validating ``ABTestData``.

A campaign with an A/B test is of type A/B Test (code 57) until the test is deleted.
When it is sent, ``test_size`` percent of the recipients get subject A and as many get
subject B at the send time; the rest get the winner ``winner_wait_duration`` hours later
(the emulator does not model which subject wins: reports count one activity).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.email_input import AREA
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS email_abtests (
        campaign_activity_id TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        alternative_subject TEXT NOT NULL,
        test_size INTEGER NOT NULL,
        winner_wait_duration INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS email_abtests_campaign ON email_abtests(campaign_id);
    """
)

TABLES: Final = ["email_abtests"]
TEST_SIZES: Final = range(5, 51)
WAIT_HOURS: Final = (6, 12, 24, 48)
MAX_SUBJECT: Final = 1_000  # as email_input bounds a subject
AB_TEST_TYPE: Final = ("AB_TEST", 57)


def parse(body: object) -> dict[str, Any]:
    """The fields of an ``ABTestData`` body, or CC's 400 naming every problem."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    for key in body:
        if key not in ("alternative_subject", "test_size", "winner_wait_duration"):
            problems.append(f"{key} is not a property of ABTestData.")
    subject = body.get("alternative_subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT:
        problems.append(f"alternative_subject is required: 1 to {MAX_SUBJECT:,} characters.")
    size = body.get("test_size")
    if isinstance(size, bool) or not isinstance(size, int) or size not in TEST_SIZES:
        problems.append("test_size is required: a whole percentage from 5 to 50.")
    wait = body.get("winner_wait_duration")
    if isinstance(wait, bool) or wait not in WAIT_HOURS:
        problems.append("winner_wait_duration is required: 6, 12, 24 or 48 (hours).")
    if problems:
        raise errors.validation(AREA, *problems)
    return {"alternative_subject": subject, "test_size": size, "winner_wait_duration": wait}


def resource(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "alternative_subject": row["alternative_subject"],
        "test_size": row["test_size"],
        "winner_wait_duration": row["winner_wait_duration"],
    }


def has_test(db: Database, campaign_id: str) -> bool:
    row = db.query_one("SELECT 1 FROM email_abtests WHERE campaign_id = ?", (campaign_id,))
    return row is not None


def for_activity(conn: sqlite3.Connection, activity_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM email_abtests WHERE campaign_activity_id = ?", (activity_id,)
    ).fetchone()
    return row


class AbTestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, activity_id: str) -> sqlite3.Row | None:
        return self.db.query_one(
            "SELECT * FROM email_abtests WHERE campaign_activity_id = ?", (activity_id,)
        )

    def create(self, activity: sqlite3.Row, fields: dict[str, Any], now: float) -> None:
        with self.db.transaction() as conn:
            if for_activity(conn, activity["campaign_activity_id"]) is not None:
                raise errors.conflict(
                    AREA,
                    "This activity already has an A/B test: DELETE it first to change it.",
                )
            conn.execute(
                "INSERT INTO email_abtests(campaign_activity_id, campaign_id, account_id, "
                "alternative_subject, test_size, winner_wait_duration, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    activity["campaign_activity_id"],
                    activity["campaign_id"],
                    activity["account_id"],
                    fields["alternative_subject"],
                    fields["test_size"],
                    fields["winner_wait_duration"],
                    now,
                ),
            )
            conn.execute(
                "UPDATE email_campaigns SET updated_at = ? WHERE campaign_id = ?",
                (now, activity["campaign_id"]),
            )

    def delete(self, activity: sqlite3.Row, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM email_abtests WHERE campaign_activity_id = ?",
                (activity["campaign_activity_id"],),
            )
            conn.execute(
                "UPDATE email_campaigns SET updated_at = ? WHERE campaign_id = ?",
                (now, activity["campaign_id"]),
            )
