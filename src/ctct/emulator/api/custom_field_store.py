"""Contact custom fields per CC account, in the emulator's database.

``label`` is what people see (at most 50 characters, unique per account,
case-insensitively); ``name`` is derived from it by replacing blanks with underscores, as
CC does, and is what imports refer to (``cf:<name>``). Contacts hold values as
``custom_fields: [{custom_field_id, value}]`` in their document; deleting a field removes
those values (a bulk job at CC; immediate here, since ``DELETE`` answers 204).
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS custom_fields (
        seq INTEGER PRIMARY KEY,
        custom_field_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        label TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS custom_fields_label
        ON custom_fields(account_id, label COLLATE NOCASE);
    CREATE UNIQUE INDEX IF NOT EXISTS custom_fields_name
        ON custom_fields(account_id, name COLLATE NOCASE);
    """
)

TABLES = ["custom_fields"]
AREA: Final = "custom_fields"
MAX_PER_ACCOUNT: Final = 100


def name_for(label: str) -> str:
    """CC's ``name``: the label with blanks replaced by underscores."""
    return re.sub(r"\s+", "_", label.strip())


class CustomFieldStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, account_id: str, field_id: str) -> sqlite3.Row | None:
        return self.db.query_one(
            "SELECT * FROM custom_fields WHERE account_id = ? AND custom_field_id = ?",
            (account_id, field_id),
        )

    def create(self, account_id: str, label: str, kind: str, data: dict[str, Any]) -> sqlite3.Row:
        """A new field (409 on a duplicate label, 400 past 100 fields)."""
        now = self.clock.now()
        field_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            count = conn.execute(
                "SELECT COUNT(*) AS n FROM custom_fields WHERE account_id = ?", (account_id,)
            ).fetchone()["n"]
            if count >= MAX_PER_ACCOUNT:
                raise errors.validation(
                    AREA,
                    f"An account can have at most {MAX_PER_ACCOUNT} custom fields; "
                    "delete one before creating another.",
                )
            self._check_label(conn, account_id, label, None)
            conn.execute(
                "INSERT INTO custom_fields(custom_field_id, account_id, label, name, type, "
                "data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (field_id, account_id, label, name_for(label), kind, json.dumps(data), now, now),
            )
        created = self.get(account_id, field_id)
        assert created is not None  # inserted above
        return created

    def replace(
        self, account_id: str, field_id: str, label: str, data: dict[str, Any]
    ) -> sqlite3.Row:
        """PUT: a new label and choices (type stays); the version goes up."""
        now = self.clock.now()
        with self.db.transaction() as conn:
            if self._row(conn, account_id, field_id) is None:
                raise custom_field_not_found(field_id)
            self._check_label(conn, account_id, label, field_id)
            conn.execute(
                "UPDATE custom_fields SET label = ?, name = ?, data = ?, version = version + 1, "
                "updated_at = ? WHERE custom_field_id = ?",
                (label, name_for(label), json.dumps(data), now, field_id),
            )
        updated = self.get(account_id, field_id)
        assert updated is not None  # exists, checked above
        return updated

    def delete(self, account_id: str, field_id: str) -> None:
        """Delete the field and every contact's value for it."""
        with self.db.transaction() as conn:
            if self._row(conn, account_id, field_id) is None:
                raise custom_field_not_found(field_id)
            conn.execute("DELETE FROM custom_fields WHERE custom_field_id = ?", (field_id,))
            rows = conn.execute(
                "SELECT contact_id, data FROM contacts WHERE account_id = ? AND instr(data, ?)",
                (account_id, field_id),
            ).fetchall()
            updates = []
            for row in rows:
                data = json.loads(row["data"])
                kept = [
                    f for f in data.get("custom_fields", []) if f["custom_field_id"] != field_id
                ]
                if len(kept) != len(data.get("custom_fields", [])):
                    data["custom_fields"] = kept
                    updates.append((json.dumps(data, separators=(",", ":")), row["contact_id"]))
            conn.executemany("UPDATE contacts SET data = ? WHERE contact_id = ?", updates)

    def page(self, account_id: str, after: int, limit: int) -> tuple[list[sqlite3.Row], bool]:
        rows = self.db.query(
            "SELECT * FROM custom_fields WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (account_id, after, limit + 1),
        )
        return rows[:limit], len(rows) > limit

    @staticmethod
    def names(conn: sqlite3.Connection, account_id: str) -> dict[str, str]:
        """Every field of the account, oldest first: ``name`` -> ``custom_field_id``."""
        rows = conn.execute(
            "SELECT name, custom_field_id FROM custom_fields WHERE account_id = ? ORDER BY seq",
            (account_id,),
        )
        return {r["name"]: r["custom_field_id"] for r in rows}

    @staticmethod
    def ids_by_name(conn: sqlite3.Connection, account_id: str) -> dict[str, str]:
        """Every field of the account: lower-cased ``name`` -> ``custom_field_id``."""
        rows = conn.execute(
            "SELECT name, custom_field_id FROM custom_fields WHERE account_id = ?", (account_id,)
        )
        return {r["name"].lower(): r["custom_field_id"] for r in rows}

    @staticmethod
    def missing_ids(conn: sqlite3.Connection, account_id: str, ids: list[str]) -> list[str]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {
            r["custom_field_id"]
            for r in conn.execute(
                f"SELECT custom_field_id FROM custom_fields WHERE account_id = ? "  # noqa: S608
                f"AND custom_field_id IN ({marks})",
                (account_id, *ids),
            )
        }
        return [i for i in ids if i not in found]

    @staticmethod
    def resource(row: sqlite3.Row) -> dict[str, Any]:
        """A ``CustomField`` body."""
        data: dict[str, Any] = json.loads(row["data"])
        body: dict[str, Any] = {
            "custom_field_id": row["custom_field_id"],
            "label": row["label"],
            "name": row["name"],
            "type": row["type"],
        }
        if data.get("metadata"):
            body["metadata"] = data["metadata"]
        body["version"] = row["version"]
        if data.get("choices"):
            body["choices"] = [
                {"custom_field_id": row["custom_field_id"], **choice} for choice in data["choices"]
            ]
        body["created_at"] = format_datetime(row["created_at"])
        body["updated_at"] = format_datetime(row["updated_at"])
        return body

    @staticmethod
    def _row(conn: sqlite3.Connection, account_id: str, field_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM custom_fields WHERE account_id = ? AND custom_field_id = ?",
            (account_id, field_id),
        ).fetchone()
        return row

    @staticmethod
    def _check_label(
        conn: sqlite3.Connection, account_id: str, label: str, field_id: str | None
    ) -> None:
        other = conn.execute(
            "SELECT custom_field_id FROM custom_fields WHERE account_id = ? AND "
            "(label = ? COLLATE NOCASE OR name = ? COLLATE NOCASE)",
            (account_id, label, name_for(label)),
        ).fetchone()
        if other is not None and other["custom_field_id"] != field_id:
            raise errors.conflict(
                AREA,
                f"A custom field labelled {label!r} already exists "
                f"(custom field {other['custom_field_id']}).",
            )


def custom_field_not_found(field_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Custom field {field_id} was not found.")
