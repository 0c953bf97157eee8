"""Test sends of email campaign activities (``POST .../tests``), kept to enforce CC's
daily allowance: 50 recipients per account per day (UTC, on the emulator's clock).
The emulator delivers nothing; each test send is also an event of the control API
(``GET /__emulator/events?kind=email_test``), so a test can see what was sent.
"""

from __future__ import annotations

import json
from typing import Final

from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS email_test_sends (
        seq INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        campaign_activity_id TEXT NOT NULL,
        sent_at REAL NOT NULL,
        recipients INTEGER NOT NULL,
        addresses TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS email_test_sends_day ON email_test_sends(account_id, sent_at);
    """
)

TABLES: Final = ["email_test_sends"]
DAILY_RECIPIENTS: Final = 50


class EmailTestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, account_id: str, activity_id: str, addresses: list[str], now: float
    ) -> int | None:
        """Count a test send; None when it would pass today's allowance, else how many
        recipients are left today."""
        day_start = now - now % 86_400
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(recipients), 0) FROM email_test_sends "
                "WHERE account_id = ? AND sent_at >= ?",
                (account_id, day_start),
            ).fetchone()
            used = int(row[0])
            if used + len(addresses) > DAILY_RECIPIENTS:
                return None
            conn.execute(
                "INSERT INTO email_test_sends(account_id, campaign_activity_id, sent_at, "
                "recipients, addresses) VALUES (?, ?, ?, ?, ?)",
                (account_id, activity_id, now, len(addresses), json.dumps(addresses)),
            )
        return DAILY_RECIPIENTS - used - len(addresses)

    def used_today(self, account_id: str, now: float) -> int:
        row = self.db.query_one(
            "SELECT COALESCE(SUM(recipients), 0) FROM email_test_sends "
            "WHERE account_id = ? AND sent_at >= ?",
            (account_id, now - now % 86_400),
        )
        return int(row[0]) if row else 0
