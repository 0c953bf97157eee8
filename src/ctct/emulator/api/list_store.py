"""Contact lists and list memberships, per CC account, in the emulator's database.

The list endpoints are not served yet; lists exist now because contacts reference them
(``list_memberships``) and the control API seeds them.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS contact_lists (
        seq INTEGER PRIMARY KEY,
        list_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        favorite INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS contact_lists_name
        ON contact_lists(account_id, name COLLATE NOCASE) WHERE deleted_at IS NULL;
    CREATE TABLE IF NOT EXISTS list_memberships (
        list_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        PRIMARY KEY (list_id, contact_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS list_memberships_contact ON list_memberships(contact_id);
    """
)

TABLES = ["list_memberships", "contact_lists"]


class ListStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(
        self, conn: sqlite3.Connection, account_id: str, name_or_id: str
    ) -> sqlite3.Row | None:
        """A live list of the account, by id or (case-insensitive) name."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM contact_lists WHERE account_id = ? AND deleted_at IS NULL "
            "AND (list_id = ? OR name = ? COLLATE NOCASE) ORDER BY list_id = ? DESC LIMIT 1",
            (account_id, name_or_id, name_or_id, name_or_id),
        ).fetchone()
        return row

    def ensure(
        self,
        conn: sqlite3.Connection,
        account_id: str,
        name: str,
        now: float,
        description: str | None = None,
        favorite: bool = False,
    ) -> sqlite3.Row:
        """The account's live list called ``name``, created if missing."""
        row = self.find(conn, account_id, name)
        if row is not None:
            return row
        conn.execute(
            "INSERT INTO contact_lists(list_id, account_id, name, description, favorite, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), account_id, name, description, int(favorite), now, now),
        )
        created = self.find(conn, account_id, name)
        assert created is not None  # inserted in this transaction
        return created

    def missing_ids(self, conn: sqlite3.Connection, account_id: str, ids: list[str]) -> list[str]:
        """Those of ``ids`` that are not live lists of the account."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {
            r["list_id"]
            for r in conn.execute(
                f"SELECT list_id FROM contact_lists WHERE account_id = ? "  # noqa: S608
                f"AND deleted_at IS NULL AND list_id IN ({marks})",
                (account_id, *ids),
            )
        }
        return [i for i in ids if i not in found]

    @staticmethod
    def set_memberships(conn: sqlite3.Connection, contact_id: str, list_ids: list[str]) -> None:
        conn.execute("DELETE FROM list_memberships WHERE contact_id = ?", (contact_id,))
        conn.executemany(
            "INSERT INTO list_memberships(list_id, contact_id) VALUES (?, ?)",
            [(list_id, contact_id) for list_id in list_ids],
        )

    def memberships(self, contact_ids: list[str]) -> dict[str, list[str]]:
        """List ids per contact, in a stable order."""
        result: dict[str, list[str]] = {cid: [] for cid in contact_ids}
        if not contact_ids:
            return result
        marks = ",".join("?" * len(contact_ids))
        rows = self.db.query(
            f"SELECT contact_id, list_id FROM list_memberships "  # noqa: S608
            f"WHERE contact_id IN ({marks}) ORDER BY list_id",
            contact_ids,
        )
        for row in rows:
            result[row["contact_id"]].append(row["list_id"])
        return result

    @staticmethod
    def resource(row: sqlite3.Row) -> dict[str, Any]:
        """A ``ContactList`` body."""
        body: dict[str, Any] = {"list_id": row["list_id"], "name": row["name"]}
        if row["description"] is not None:
            body["description"] = row["description"]
        body["favorite"] = bool(row["favorite"])
        body["created_at"] = format_datetime(row["created_at"])
        body["updated_at"] = format_datetime(row["updated_at"])
        if row["deleted_at"] is not None:
            body["deleted_at"] = format_datetime(row["deleted_at"])
        return body
