"""Landing pages of CC accounts, as far as reports need them. The V3 API cannot create
landing pages (CC's users build them in its web app), so the emulator's control API
publishes them (``POST /__emulator/landing_pages``): a name, an audience (the contacts
who visit it), an optional list that sign-ups join, and the page's links.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Final

from ctct.emulator.api.tracking_plan import Link
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS landing_pages (
        seq INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL UNIQUE,
        campaign_activity_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        list_id TEXT,
        published_at REAL NOT NULL,
        links TEXT NOT NULL
    );
    """
)

TABLES: Final = ["landing_pages"]


class LandingPageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, account_id: str, activity_id: str) -> sqlite3.Row | None:
        return self.db.query_one(
            "SELECT * FROM landing_pages WHERE account_id = ? AND campaign_activity_id = ?",
            (account_id, activity_id),
        )

    @staticmethod
    def insert(
        conn: sqlite3.Connection,
        ids: tuple[str, str, str],
        name: str,
        list_id: str | None,
        published_at: float,
        links: list[Link],
    ) -> int:
        """Add a page (``ids``: account, campaign, activity); its number (1, 2, ...)."""
        account_id, campaign_id, activity_id = ids
        cursor = conn.execute(
            "INSERT INTO landing_pages(campaign_id, campaign_activity_id, account_id, name, "
            "list_id, published_at, links) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                campaign_id,
                activity_id,
                account_id,
                name,
                list_id,
                published_at,
                json.dumps([[link.url_id, link.url] for link in links]),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid
