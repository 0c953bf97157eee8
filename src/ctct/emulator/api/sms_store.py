"""SMS campaigns of CC accounts, as far as the SMS summary report needs them. The V3 API
cannot create or send SMS campaigns, so the emulator's control API sends them
(``POST /__emulator/sms_campaigns``) to the account's SMS-subscribed contacts.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS sms_campaigns (
        seq INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL UNIQUE,
        campaign_activity_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        sent_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sms_campaigns_sent ON sms_campaigns(account_id, sent_at);
    """
)

TABLES: Final = ["sms_campaigns"]


class SmsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self, account_id: str, start: float, end: float, after: int, limit: int
    ) -> tuple[list[sqlite3.Row], bool]:
        """Campaigns sent from ``start`` to ``end``, last sent first (sending order is
        creation order: the clock only moves forward, so ``seq`` is the cursor);
        ``after`` is the last ``seq`` seen (0 to start)."""
        clauses = ["account_id = ?", "sent_at >= ?", "sent_at <= ?"]
        params: list[object] = [account_id, start, end]
        if after:
            clauses.append("seq < ?")
            params.append(after)
        rows = self.db.query(
            f"SELECT * FROM sms_campaigns WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY sent_at DESC, seq DESC LIMIT ?",
            [*params, limit + 1],
        )
        return rows[:limit], len(rows) > limit

    @staticmethod
    def insert(conn: sqlite3.Connection, ids: tuple[str, str, str], name: str, at: float) -> int:
        account_id, campaign_id, activity_id = ids
        cursor = conn.execute(
            "INSERT INTO sms_campaigns(campaign_id, campaign_activity_id, account_id, name, "
            "sent_at) VALUES (?, ?, ?, ?, ?)",
            (campaign_id, activity_id, account_id, name, at),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid
