"""Segments per CC account: a name and criteria (``segment_criteria``), evaluated on
the contacts whenever the segment is used (``GET /contacts?segment_id=``).

Segment ids are integers (CC's contract: int32), unique across the emulator. Names are
unique per account among live segments, case-insensitively. A deleted segment keeps
its row: ``GET /segments/{id}`` still shows it (CC keeps it "for external reference
purposes"), ``GET /segments`` does not, and its name may be used again.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.segment_criteria import AREA, Criteria
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS segments (
        segment_id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        criteria TEXT NOT NULL,
        created_at REAL NOT NULL,
        edited_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS segments_name
        ON segments(account_id, name COLLATE NOCASE) WHERE deleted_at IS NULL;
    """
)

TABLES: Final = ["segments"]
MAX_NAME: Final = 255  # not in the contract; bounded like list names


class SegmentStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, account_id: str, segment_id: int) -> sqlite3.Row | None:
        """A segment of the account, deleted or not."""
        return self.db.query_one(
            "SELECT * FROM segments WHERE account_id = ? AND segment_id = ?",
            (account_id, segment_id),
        )

    def live(self, account_id: str, segment_id: int) -> sqlite3.Row | None:
        row = self.get(account_id, segment_id)
        return row if row is not None and row["deleted_at"] is None else None

    def create(self, account_id: str, name: str, criteria: Criteria) -> sqlite3.Row:
        now = self.clock.now()
        with self.db.transaction() as conn:
            _check_name(conn, account_id, name, None)
            cursor = conn.execute(
                "INSERT INTO segments(account_id, name, criteria, created_at, edited_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (account_id, name, criteria.text, now, now),
            )
            segment_id = cursor.lastrowid
        assert segment_id is not None
        created = self.get(account_id, segment_id)
        assert created is not None  # inserted above
        return created

    def update(
        self, account_id: str, segment_id: int, name: str, criteria: Criteria | None
    ) -> sqlite3.Row:
        """Rename (``criteria`` None) or replace name and criteria of a live segment."""
        now = self.clock.now()
        with self.db.transaction() as conn:
            found = conn.execute(
                "SELECT 1 FROM segments WHERE account_id = ? AND segment_id = ? "
                "AND deleted_at IS NULL",
                (account_id, segment_id),
            ).fetchone()
            if found is None:
                raise segment_not_found(segment_id)
            _check_name(conn, account_id, name, segment_id)
            if criteria is None:
                conn.execute(
                    "UPDATE segments SET name = ?, edited_at = ? WHERE segment_id = ?",
                    (name, now, segment_id),
                )
            else:
                conn.execute(
                    "UPDATE segments SET name = ?, criteria = ?, edited_at = ? "
                    "WHERE segment_id = ?",
                    (name, criteria.text, now, segment_id),
                )
        updated = self.get(account_id, segment_id)
        assert updated is not None  # exists, checked above
        return updated

    def delete(self, account_id: str, segment_id: int) -> None:
        with self.db.transaction() as conn:
            deleted = conn.execute(
                "UPDATE segments SET deleted_at = ? WHERE account_id = ? AND segment_id = ? "
                "AND deleted_at IS NULL",
                (self.clock.now(), account_id, segment_id),
            ).rowcount
        if not deleted:
            raise segment_not_found(segment_id)

    def page(
        self, account_id: str, sort_by: str, after: list[Any] | None, limit: int
    ) -> tuple[list[sqlite3.Row], bool]:
        """Live segments by name (ascending) or by last edit (newest first), keyset-paged
        after ``after`` (the previous page's last ``sort_key``)."""
        if sort_by == "name":
            order, compare, key = "lower(name), segment_id", ">", "(lower(name), segment_id)"
        else:
            order, compare, key = "edited_at DESC, segment_id DESC", "<", "(edited_at, segment_id)"
        clauses, params = ["account_id = ?", "deleted_at IS NULL"], [account_id]
        if after is not None:
            clauses.append(f"{key} {compare} (?, ?)")
            params.extend(after)
        rows = self.db.query(
            f"SELECT * FROM segments WHERE {' AND '.join(clauses)} "  # noqa: S608
            f"ORDER BY {order} LIMIT ?",
            [*params, limit + 1],
        )
        return rows[:limit], len(rows) > limit

    @staticmethod
    def sort_key(row: sqlite3.Row, sort_by: str) -> list[Any]:
        if sort_by == "name":
            return [str(row["name"]).lower(), row["segment_id"]]
        return [row["edited_at"], row["segment_id"]]

    @staticmethod
    def master(row: sqlite3.Row) -> dict[str, Any]:
        """A ``SegmentMaster`` (list item)."""
        return {
            "name": row["name"],
            "segment_id": row["segment_id"],
            "created_at": format_datetime(row["created_at"]),
            "edited_at": format_datetime(row["edited_at"]),
        }

    @staticmethod
    def detail(row: sqlite3.Row) -> dict[str, Any]:
        """A ``SegmentDetail``."""
        return {
            "name": row["name"],
            "segment_criteria": row["criteria"],
            "segment_id": row["segment_id"],
            "created_at": format_datetime(row["created_at"]),
            "edited_at": format_datetime(row["edited_at"]),
        }


def _check_name(
    conn: sqlite3.Connection, account_id: str, name: str, segment_id: int | None
) -> None:
    other = conn.execute(
        "SELECT segment_id FROM segments WHERE account_id = ? AND deleted_at IS NULL "
        "AND name = ? COLLATE NOCASE",
        (account_id, name),
    ).fetchone()
    if other is not None and other["segment_id"] != segment_id:
        raise errors.conflict(
            AREA, f"A segment named {name!r} already exists (segment {other['segment_id']})."
        )


def segment_not_found(segment_id: object) -> errors.ApiError:
    return errors.not_found(AREA, f"Segment {segment_id} was not found.")
