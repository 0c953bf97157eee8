"""The email addresses of each CC account (``/v3/account/emails``): the addresses that
may send campaigns once ``CONFIRMED``.

An account starts with its contact email (roles ``CONTACT``, ``BILLING``, ``REPLY_TO``)
and its users' logins (role ``OTHER``), all confirmed; the rows are created the first
time the account's addresses are read. An address added with ``POST`` is ``UNCONFIRMED``
until its owner clicks the link CC emails; the emulator's control route
``POST /__emulator/account_emails/confirm`` plays that click. Addresses are unique per
account, case-insensitively; ``email_id`` is a positive integer (CC: int64).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS account_emails (
        email_id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        email_address TEXT NOT NULL,
        confirm_status TEXT NOT NULL,
        confirm_time REAL,
        confirm_source_type TEXT,
        roles TEXT NOT NULL DEFAULT '[]',
        pending_roles TEXT NOT NULL DEFAULT '[]'
    );
    CREATE UNIQUE INDEX IF NOT EXISTS account_emails_address
        ON account_emails(account_id, email_address COLLATE NOCASE);
    CREATE TABLE IF NOT EXISTS account_emails_ready (
        account_id TEXT PRIMARY KEY
    );
    """
)

TABLES: Final = ["account_emails", "account_emails_ready"]
AREA: Final = "account"
ROLES: Final = ("CONTACT", "BILLING", "JOURNALING", "REPLY_TO", "OTHER")
OWNER_ROLES: Final = ("CONTACT", "BILLING", "REPLY_TO")


class AccountEmailStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def ensure(
        self,
        conn: sqlite3.Connection,
        account_id: str,
        contact_email: str | None,
        logins: list[str],
    ) -> None:
        """Create an account's initial addresses, once."""
        first = conn.execute(
            "INSERT OR IGNORE INTO account_emails_ready(account_id) VALUES (?)", (account_id,)
        ).rowcount
        if not first:
            return
        now = self.clock.now()
        entries: list[tuple[str, tuple[str, ...]]] = []
        if contact_email:
            entries.append((contact_email, OWNER_ROLES))
        entries += [(login, ("OTHER",)) for login in logins]
        for address, roles in entries:
            conn.execute(
                "INSERT OR IGNORE INTO account_emails(account_id, email_address, confirm_status, "
                "confirm_time, confirm_source_type, roles) "
                "VALUES (?, ?, 'CONFIRMED', ?, 'SITE_OWNER', ?)",
                (account_id, address, now, json.dumps(list(roles))),
            )

    def rows(self, account_id: str) -> list[sqlite3.Row]:
        return self.db.query(
            "SELECT * FROM account_emails WHERE account_id = ? ORDER BY email_id", (account_id,)
        )

    def confirmed(self, account_id: str) -> frozenset[str]:
        """The account's confirmed addresses, lower-cased (campaign senders)."""
        rows = self.db.query(
            "SELECT email_address FROM account_emails WHERE account_id = ? "
            "AND confirm_status = 'CONFIRMED'",
            (account_id,),
        )
        return frozenset(str(r["email_address"]).lower() for r in rows)

    def add(self, account_id: str, address: str) -> sqlite3.Row:
        with self.db.transaction() as conn:
            other = conn.execute(
                "SELECT email_id FROM account_emails WHERE account_id = ? "
                "AND email_address = ? COLLATE NOCASE",
                (account_id, address),
            ).fetchone()
            if other is not None:
                raise errors.conflict(
                    AREA, f"{address} is already an email address of this account."
                )
            email_id = conn.execute(
                "INSERT INTO account_emails(account_id, email_address, confirm_status, "
                "pending_roles) VALUES (?, ?, 'UNCONFIRMED', ?)",
                (account_id, address, json.dumps(["OTHER"])),
            ).lastrowid
        row = self.db.query_one("SELECT * FROM account_emails WHERE email_id = ?", (email_id,))
        assert row is not None  # inserted above
        return row

    def confirm(self, account_id: str, address: str) -> sqlite3.Row | None:
        """Mark an address confirmed by its owner (the emulated link click)."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM account_emails WHERE account_id = ? "
                "AND email_address = ? COLLATE NOCASE",
                (account_id, address),
            ).fetchone()
            if row is None:
                return None
            if row["confirm_status"] != "CONFIRMED":
                roles = json.loads(row["pending_roles"]) or ["OTHER"]
                conn.execute(
                    "UPDATE account_emails SET confirm_status = 'CONFIRMED', confirm_time = ?, "
                    "confirm_source_type = 'SITE_OWNER', roles = ?, pending_roles = '[]' "
                    "WHERE email_id = ?",
                    (self.clock.now(), json.dumps(roles), row["email_id"]),
                )
        return self.db.query_one(
            "SELECT * FROM account_emails WHERE email_id = ?", (row["email_id"],)
        )

    @staticmethod
    def resource(row: sqlite3.Row) -> dict[str, Any]:
        """An item of ``AccountEmails``."""
        body: dict[str, Any] = {
            "email_address": row["email_address"],
            "email_id": row["email_id"],
            "confirm_status": row["confirm_status"],
        }
        if row["confirm_time"] is not None:
            body["confirm_time"] = format_datetime(row["confirm_time"])
        if row["confirm_source_type"] is not None:
            body["confirm_source_type"] = row["confirm_source_type"]
        body["roles"] = json.loads(row["roles"])
        body["pending_roles"] = json.loads(row["pending_roles"])
        return body
