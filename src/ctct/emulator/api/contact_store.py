"""Contacts per CC account in the emulator's database: create, replace, soft delete,
filtered cursor pages and bulk seeding.

Rows are ordered by ``seq`` (insertion order), which never changes, so a cursor that
remembers the last ``seq`` seen walks every contact exactly once even while others are
updated. Email addresses are unique per account, case-insensitively, deleted contacts
included (a deleted contact is revived with PUT, not re-created).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ctct.emulator.api import contact_model, errors
from ctct.emulator.api.contact_input import AREA, ContactInput
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.list_store import ListStore
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS contacts (
        seq INTEGER PRIMARY KEY,
        contact_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        email_key TEXT,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL,
        data TEXT NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS contacts_email ON contacts(account_id, email_key);
    CREATE INDEX IF NOT EXISTS contacts_account ON contacts(account_id, seq);
    """
)

TABLES = ["contacts"]

# A contact's SMS status: its (promotional) SMS consent, or not_set without an SMS channel.
SMS_STATUS_SQL = (
    "COALESCE(json_extract(data, '$.sms_channel.sms_channel_consents[0].sms_consent_permission'),"
    " 'not_set')"
)

# One encoder for every stored document: ``json.dumps`` with options builds a new encoder
# per call, which shows when an import stores 40,000 contacts.
encode_document = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class StoredContact:
    seq: int
    contact_id: str
    data: dict[str, Any]
    created_at: float
    updated_at: float
    deleted_at: float | None

    @property
    def times(self) -> tuple[float, float, float | None]:
        return (self.created_at, self.updated_at, self.deleted_at)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredContact:
        return cls(
            row["seq"],
            row["contact_id"],
            json.loads(row["data"]),
            row["created_at"],
            row["updated_at"],
            row["deleted_at"],
        )


@dataclass(frozen=True)
class ContactQuery:
    """Filters of ``GET /contacts``; kept in the cursor, so JSON-friendly."""

    statuses: tuple[str, ...] = ()  # empty: every status but deleted; ("all",): all
    email: str | None = None
    lists: tuple[str, ...] = ()
    updated_after: float | None = None
    updated_before: float | None = None
    created_after: float | None = None
    created_before: float | None = None
    tags: tuple[str, ...] = ()
    optout_after: float | None = None
    optout_before: float | None = None
    sms_statuses: tuple[str, ...] = ()  # empty or ("all",): any SMS status
    # Contacts meeting a segment's criteria, evaluated when each page is read (segments
    # are dynamic); the caller passes the compiled criteria as ``extra`` to page/count.
    segment_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, ())}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ContactQuery:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**values)

    def where(
        self, account_id: str, extra: tuple[str, list[Any]] | None = None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = ["account_id = ?"]
        params: list[Any] = [account_id]
        if extra is not None:
            clauses.append(f"({extra[0]})")
            params.extend(extra[1])
        if not self.statuses:
            clauses.append("status != 'deleted'")
        elif "all" not in self.statuses:
            clauses.append(f"status IN ({','.join('?' * len(self.statuses))})")
            params.extend(self.statuses)
        if self.email is not None:
            clauses.append("email_key = ?")
            params.append(self.email.lower())
        if self.lists:
            marks = ",".join("?" * len(self.lists))
            subquery = f"SELECT contact_id FROM list_memberships WHERE list_id IN ({marks})"  # noqa: S608
            clauses.append(f"contact_id IN ({subquery})")
            params.extend(self.lists)
        if self.tags:
            marks = ",".join("?" * len(self.tags))
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each(data, '$.taggings') j WHERE j.value IN ({marks}))"  # noqa: S608
            )
            params.extend(self.tags)
        for column, op, value in (
            ("updated_at", ">", self.updated_after),
            ("updated_at", "<", self.updated_before),
            ("created_at", ">", self.created_after),
            ("created_at", "<", self.created_before),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        # Stored opt-out dates are CC-formatted UTC strings, which sort as they read.
        for op, value in (("> ", self.optout_after), ("< ", self.optout_before)):
            if value is not None:
                clauses.append(f"json_extract(data, '$.email_address.opt_out_date') {op}?")
                params.append(format_datetime(value))
        if self.sms_statuses and "all" not in self.sms_statuses:
            marks = ",".join("?" * len(self.sms_statuses))
            clauses.append(f"{SMS_STATUS_SQL} IN ({marks})")
            params.extend(self.sms_statuses)
        return " AND ".join(clauses), params


class ContactStore:
    def __init__(self, db: Database, clock: Clock, lists: ListStore) -> None:
        self.db = db
        self.clock = clock
        self.lists = lists

    def get(self, account_id: str, contact_id: str) -> StoredContact | None:
        row = self.db.query_one(
            "SELECT * FROM contacts WHERE contact_id = ? AND account_id = ?",
            (contact_id, account_id),
        )
        return None if row is None else StoredContact.from_row(row)

    def create(self, account_id: str, given: ContactInput) -> StoredContact:
        now = self.clock.now()
        data = contact_model.new_contact(given, now)
        contact_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            self._check_unique(conn, account_id, data, None)
            list_ids = self._check_lists(conn, account_id, given)
            conn.execute(
                "INSERT INTO contacts(contact_id, account_id, email_key, status, created_at, "
                "updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                _row_values(contact_id, account_id, data, now),
            )
            if list_ids is not None:
                ListStore.set_memberships(conn, contact_id, list_ids)
        stored = self.get(account_id, contact_id)
        assert stored is not None  # inserted above
        return stored

    def replace(self, account_id: str, contact_id: str, given: ContactInput) -> StoredContact:
        """PUT: replace the contact (reviving it if deleted); 404 if it does not exist."""
        now = self.clock.now()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM contacts WHERE contact_id = ? AND account_id = ?",
                (contact_id, account_id),
            ).fetchone()
            if row is None:
                raise contact_not_found(contact_id)
            old = StoredContact.from_row(row)
            if old.deleted_at is not None and given.source != "Account":
                raise errors.validation(
                    AREA, "To revive a deleted contact, set update_source to Account."
                )
            data = contact_model.replaced_contact(old.data, given, now)
            self._check_unique(conn, account_id, data, contact_id)
            list_ids = self._check_lists(conn, account_id, given)
            conn.execute(
                "UPDATE contacts SET email_key = ?, status = ?, updated_at = ?, "
                "deleted_at = NULL, data = ? WHERE contact_id = ?",
                (
                    contact_model.email_key(data),
                    contact_model.status_of(data, deleted=False),
                    now,
                    encode_document(data),
                    contact_id,
                ),
            )
            if list_ids is not None:
                ListStore.set_memberships(conn, contact_id, list_ids)
        stored = self.get(account_id, contact_id)
        assert stored is not None  # updated above
        return stored

    def delete(self, account_id: str, contact_id: str) -> None:
        """Soft delete: the contact keeps its data and can be revived with PUT."""
        now = self.clock.now()
        with self.db.transaction() as conn:
            found = conn.execute(
                "SELECT deleted_at FROM contacts WHERE contact_id = ? AND account_id = ?",
                (contact_id, account_id),
            ).fetchone()
            if found is None:
                raise contact_not_found(contact_id)
            if found["deleted_at"] is None:
                conn.execute(
                    "UPDATE contacts SET status = 'deleted', deleted_at = ?, updated_at = ? "
                    "WHERE contact_id = ?",
                    (now, now, contact_id),
                )

    def page(
        self,
        account_id: str,
        query: ContactQuery,
        after: int,
        limit: int,
        extra: tuple[str, list[Any]] | None = None,
    ) -> tuple[list[StoredContact], bool]:
        """Up to ``limit`` contacts after position ``after``, and whether more follow
        (``extra``: one more SQL condition over ``contacts`` and its parameters)."""
        where, params = query.where(account_id, extra)
        rows = self.db.query(
            f"SELECT * FROM contacts WHERE {where} AND seq > ? "  # noqa: S608
            "ORDER BY seq LIMIT ?",
            [*params, after, limit + 1],
        )
        contacts = [StoredContact.from_row(r) for r in rows[:limit]]
        return contacts, len(rows) > limit

    def count(
        self, account_id: str, query: ContactQuery, extra: tuple[str, list[Any]] | None = None
    ) -> int:
        where, params = query.where(account_id, extra)
        row = self.db.query_one(f"SELECT COUNT(*) AS n FROM contacts WHERE {where}", params)  # noqa: S608
        return int(row["n"]) if row else 0

    @staticmethod
    def insert_many(
        conn: sqlite3.Connection, account_id: str, items: Iterable[dict[str, Any]], now: float
    ) -> list[str]:
        """Insert stored documents in bulk (seeding); returns their new contact ids."""
        ids: list[str] = []
        rows = []
        for data in items:
            contact_id = str(uuid.uuid4())
            ids.append(contact_id)
            rows.append(_row_values(contact_id, account_id, data, now))
        try:
            conn.executemany(
                "INSERT INTO contacts(contact_id, account_id, email_key, status, created_at, "
                "updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except sqlite3.IntegrityError:
            raise errors.conflict(
                AREA, "An email address in the seed is already used by a contact."
            ) from None
        return ids

    @staticmethod
    def update_documents(
        conn: sqlite3.Connection, documents: Iterable[tuple[str, dict[str, Any]]], now: float
    ) -> None:
        """Store new documents for existing contacts (``(contact_id, data)``), reviving
        deleted ones; status and email columns follow the documents."""
        conn.executemany(
            "UPDATE contacts SET email_key = ?, status = ?, updated_at = ?, deleted_at = NULL, "
            "data = ? WHERE contact_id = ?",
            [
                (
                    contact_model.email_key(data),
                    contact_model.status_of(data, deleted=False),
                    now,
                    encode_document(data),
                    contact_id,
                )
                for contact_id, data in documents
            ],
        )

    @staticmethod
    def _check_unique(
        conn: sqlite3.Connection, account_id: str, data: dict[str, Any], contact_id: str | None
    ) -> None:
        key = contact_model.email_key(data)
        if key is None:
            return
        other = conn.execute(
            "SELECT contact_id FROM contacts WHERE account_id = ? AND email_key = ?",
            (account_id, key),
        ).fetchone()
        if other is not None and other["contact_id"] != contact_id:
            raise errors.conflict(
                AREA, f"Validation failed: Email already exists for contact {other['contact_id']}"
            )

    def _check_lists(
        self, conn: sqlite3.Connection, account_id: str, given: ContactInput
    ) -> list[str] | None:
        if "list_memberships" not in given.subresources:
            return None
        list_ids: list[str] = given.subresources["list_memberships"]
        missing = self.lists.missing_ids(conn, account_id, list_ids)
        if missing:
            raise errors.validation(
                AREA, *(f"list_memberships: list {m} does not exist." for m in missing)
            )
        return list_ids


def contact_not_found(contact_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Contact {contact_id} was not found.")


def _row_values(
    contact_id: str, account_id: str, data: dict[str, Any], now: float
) -> tuple[Any, ...]:
    return (
        contact_id,
        account_id,
        contact_model.email_key(data),
        contact_model.status_of(data, deleted=False),
        now,
        now,
        encode_document(data),
    )
