"""Contact tags per CC account, and the job that deletes one (``DELETE /contact_tags/{id}``
answers 202 with an activity that un-tags every contact, then deletes the tag).

Names are unique per account, case-insensitively. Contacts hold their tags as
``taggings: [tag_id]`` in their document, so a tag's ``contacts_count`` is counted there.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.activity_runner import JobContext
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.tagging_jobs import DocumentEditJob
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS contact_tags (
        seq INTEGER PRIMARY KEY,
        tag_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        tag_source TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS contact_tags_name
        ON contact_tags(account_id, name COLLATE NOCASE);
    """
)

TABLES = ["contact_tags"]
AREA: Final = "tags"


class TagStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, account_id: str, tag_id: str) -> sqlite3.Row | None:
        return self.db.query_one(
            "SELECT * FROM contact_tags WHERE account_id = ? AND tag_id = ?", (account_id, tag_id)
        )

    def create(self, account_id: str, name: str, tag_source: str | None) -> sqlite3.Row:
        now = self.clock.now()
        tag_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            _check_name(conn, account_id, name, None)
            conn.execute(
                "INSERT INTO contact_tags(tag_id, account_id, name, tag_source, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (tag_id, account_id, name, tag_source, now, now),
            )
        created = self.get(account_id, tag_id)
        assert created is not None  # inserted above
        return created

    def rename(self, account_id: str, tag_id: str, name: str) -> sqlite3.Row:
        now = self.clock.now()
        with self.db.transaction() as conn:
            found = conn.execute(
                "SELECT 1 FROM contact_tags WHERE account_id = ? AND tag_id = ?",
                (account_id, tag_id),
            ).fetchone()
            if found is None:
                raise tag_not_found(tag_id)
            _check_name(conn, account_id, name, tag_id)
            conn.execute(
                "UPDATE contact_tags SET name = ?, updated_at = ? WHERE tag_id = ?",
                (name, now, tag_id),
            )
        updated = self.get(account_id, tag_id)
        assert updated is not None  # exists, checked above
        return updated

    def page(self, account_id: str, after: int, limit: int) -> tuple[list[sqlite3.Row], bool]:
        rows = self.db.query(
            "SELECT * FROM contact_tags WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (account_id, after, limit + 1),
        )
        return rows[:limit], len(rows) > limit

    def contact_counts(self, account_id: str) -> dict[str, int]:
        """Contacts (not deleted) per tag id."""
        rows = self.db.query(
            "SELECT j.value AS tag_id, COUNT(*) AS n FROM contacts c, "
            "json_each(c.data, '$.taggings') j WHERE c.account_id = ? "
            "AND c.status != 'deleted' GROUP BY j.value",
            (account_id,),
        )
        return {r["tag_id"]: int(r["n"]) for r in rows}

    @staticmethod
    def missing_ids(conn: sqlite3.Connection, account_id: str, ids: list[str]) -> list[str]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {
            r["tag_id"]
            for r in conn.execute(
                f"SELECT tag_id FROM contact_tags WHERE account_id = ? "  # noqa: S608
                f"AND tag_id IN ({marks})",
                (account_id, *ids),
            )
        }
        return [i for i in ids if i not in found]

    @staticmethod
    def resource(row: sqlite3.Row, contacts_count: int | None = None) -> dict[str, Any]:
        """A ``Tag`` body (``contacts_count`` only when asked for)."""
        body: dict[str, Any] = {"tag_id": row["tag_id"], "name": row["name"]}
        if contacts_count is not None:
            body["contacts_count"] = contacts_count
        body["created_at"] = format_datetime(row["created_at"])
        body["updated_at"] = format_datetime(row["updated_at"])
        if row["tag_source"] is not None:
            body["tag_source"] = row["tag_source"]
        return body


def _check_name(conn: sqlite3.Connection, account_id: str, name: str, tag_id: str | None) -> None:
    other = conn.execute(
        "SELECT tag_id FROM contact_tags WHERE account_id = ? AND name = ? COLLATE NOCASE",
        (account_id, name),
    ).fetchone()
    if other is not None and other["tag_id"] != tag_id:
        raise errors.conflict(AREA, f"A tag named {name!r} already exists (tag {other['tag_id']}).")


def tag_not_found(tag_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Tag {tag_id} was not found.")


class TagDeleteJob(DocumentEditJob):
    """Payload ``{"tag_ids": [...]}``: un-tag the account's contacts a chunk at a time,
    then delete the tags."""

    def condition(self, ctx: JobContext) -> tuple[str, list[Any]]:
        tag_ids: list[str] = ctx.payload["tag_ids"]
        marks = ",".join("?" * len(tag_ids))
        sql = (
            "EXISTS (SELECT 1 FROM json_each(c.data, '$.taggings') j "  # noqa: S608
            f"WHERE j.value IN ({marks}))"
        )
        return sql, list(tag_ids)

    def edit(self, ctx: JobContext, data: dict[str, Any]) -> None:
        tag_ids = ctx.payload["tag_ids"]
        data["taggings"] = [t for t in data.get("taggings", []) if t not in tag_ids]

    def finish(self, ctx: JobContext) -> None:
        ctx.conn.executemany(
            "DELETE FROM contact_tags WHERE account_id = ? AND tag_id = ?",
            [(ctx.activity.account_id, t) for t in ctx.payload["tag_ids"]],
        )
