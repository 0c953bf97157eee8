"""Contact lists and list memberships, per CC account, in the emulator's database.

Lists are ordered by ``seq`` (creation order), which a cursor remembers. Names are unique
per account among live lists, case-insensitively; a deleted list keeps its row (with
``deleted_at``) and loses its memberships, and its name may be used again.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.db import Database, register_schema

AREA = "lists"

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


@dataclass(frozen=True)
class ListQuery:
    """Filters of ``GET /contact_lists``; kept in the cursor, so JSON-friendly."""

    status: str = "active"  # all | active | deleted
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ListQuery:
        return cls(**raw)

    def where(self, account_id: str) -> tuple[str, list[Any]]:
        clauses, params = ["account_id = ?"], [account_id]
        if self.status == "active":
            clauses.append("deleted_at IS NULL")
        elif self.status == "deleted":
            clauses.append("deleted_at IS NOT NULL")
        if self.name is not None:
            clauses.append("name = ? COLLATE NOCASE")
            params.append(self.name)
        return " AND ".join(clauses), params


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

    # -- the /contact_lists endpoints ----------------------------------------------------

    def get(self, account_id: str, list_id: str) -> sqlite3.Row | None:
        """A list of the account by id, deleted or not."""
        return self.db.query_one(
            "SELECT * FROM contact_lists WHERE account_id = ? AND list_id = ?",
            (account_id, list_id),
        )

    def create(
        self, account_id: str, name: str, description: str | None, favorite: bool, now: float
    ) -> sqlite3.Row:
        with self.db.transaction() as conn:
            self._check_name(conn, account_id, name, None)
            list_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO contact_lists(list_id, account_id, name, description, favorite, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (list_id, account_id, name, description, int(favorite), now, now),
            )
        created = self.get(account_id, list_id)
        assert created is not None  # inserted above
        return created

    def replace(
        self,
        account_id: str,
        list_id: str,
        name: str,
        description: str | None,
        favorite: bool,
        now: float,
    ) -> sqlite3.Row:
        """PUT: set name, description and favorite of a live list (404 if none)."""
        with self.db.transaction() as conn:
            if not self.live(conn, account_id, list_id):
                raise list_not_found(list_id)
            self._check_name(conn, account_id, name, list_id)
            conn.execute(
                "UPDATE contact_lists SET name = ?, description = ?, favorite = ?, "
                "updated_at = ? WHERE list_id = ?",
                (name, description, int(favorite), now, list_id),
            )
        updated = self.get(account_id, list_id)
        assert updated is not None  # exists, checked above
        return updated

    @staticmethod
    def live(conn: sqlite3.Connection, account_id: str, list_id: str) -> bool:
        row = conn.execute(
            "SELECT 1 FROM contact_lists WHERE account_id = ? AND list_id = ? "
            "AND deleted_at IS NULL",
            (account_id, list_id),
        ).fetchone()
        return row is not None

    @staticmethod
    def mark_deleted(conn: sqlite3.Connection, account_id: str, list_id: str, now: float) -> bool:
        """Delete a live list and its memberships; False if it was not live."""
        deleted = conn.execute(
            "UPDATE contact_lists SET deleted_at = ?, updated_at = ? "
            "WHERE account_id = ? AND list_id = ? AND deleted_at IS NULL",
            (now, now, account_id, list_id),
        ).rowcount
        if deleted:
            conn.execute("DELETE FROM list_memberships WHERE list_id = ?", (list_id,))
        return bool(deleted)

    @staticmethod
    def add_members(
        conn: sqlite3.Connection, list_ids: list[str], contact_ids: Iterable[str]
    ) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO list_memberships(list_id, contact_id) VALUES (?, ?)",
            [(lid, cid) for cid in contact_ids for lid in list_ids],
        )

    @staticmethod
    def remove_members(
        conn: sqlite3.Connection, list_ids: list[str], contact_ids: Iterable[str]
    ) -> None:
        conn.executemany(
            "DELETE FROM list_memberships WHERE list_id = ? AND contact_id = ?",
            [(lid, cid) for cid in contact_ids for lid in list_ids],
        )

    def page(
        self, account_id: str, query: ListQuery, after: int, limit: int
    ) -> tuple[list[sqlite3.Row], bool]:
        """Up to ``limit`` lists after position ``after``, and whether more follow."""
        where, params = query.where(account_id)
        rows = self.db.query(
            f"SELECT * FROM contact_lists WHERE {where} AND seq > ? "  # noqa: S608
            "ORDER BY seq LIMIT ?",
            [*params, after, limit + 1],
        )
        return rows[:limit], len(rows) > limit

    def count(self, account_id: str, query: ListQuery) -> int:
        where, params = query.where(account_id)
        row = self.db.query_one(f"SELECT COUNT(*) AS n FROM contact_lists WHERE {where}", params)  # noqa: S608
        return int(row["n"]) if row else 0

    def membership_counts(self, list_ids: list[str], active_only: bool) -> dict[str, int]:
        """Members per list: contacts not deleted, or (``active_only``) active ones."""
        counts = dict.fromkeys(list_ids, 0)
        if not list_ids:
            return counts
        marks = ",".join("?" * len(list_ids))
        status = "c.status = 'active'" if active_only else "c.status != 'deleted'"
        rows = self.db.query(
            "SELECT m.list_id AS list_id, COUNT(*) AS n FROM list_memberships m "  # noqa: S608
            f"JOIN contacts c ON c.contact_id = m.contact_id "
            f"WHERE m.list_id IN ({marks}) AND {status} GROUP BY m.list_id",
            list_ids,
        )
        counts.update({r["list_id"]: int(r["n"]) for r in rows})
        return counts

    def _check_name(
        self, conn: sqlite3.Connection, account_id: str, name: str, list_id: str | None
    ) -> None:
        other = conn.execute(
            "SELECT list_id FROM contact_lists WHERE account_id = ? AND deleted_at IS NULL "
            "AND name = ? COLLATE NOCASE",
            (account_id, name),
        ).fetchone()
        if other is not None and other["list_id"] != list_id:
            raise errors.conflict(
                AREA, f"A list named {name!r} already exists (list {other['list_id']})."
            )

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


def list_not_found(list_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"List {list_id} was not found.")
