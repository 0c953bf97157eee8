"""Email campaigns and their activities per CC account, in the emulator's database.

A campaign has two activities, as at CC: ``primary_email`` (the content, the lists it is
sent to, the schedule) and ``permalink``. Activity statuses are CC's upper-case ones
(``DRAFT``, ``SCHEDULED``, ``EXECUTING``, ``DONE``, ``REMOVED``); the campaign shows its
primary activity's status in title case (``Draft``...).

Sending is simulated on the emulator's clock: at its scheduled time an activity is
``EXECUTING`` for ``SENDING_SECONDS``, then ``DONE`` ("0", send now, starts at once).
``settle`` applies the transitions that are due before anything is read, so advancing
the clock moves campaigns along, and a restart loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any, Final

from ctct.emulator.api import abtest_store, errors
from ctct.emulator.api.email_input import AREA
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS email_campaigns (
        seq INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        format_type INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS email_campaigns_account ON email_campaigns(account_id, seq);
    CREATE TABLE IF NOT EXISTS email_activities (
        campaign_activity_id TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        role TEXT NOT NULL,
        status TEXT NOT NULL,
        scheduled_at REAL,
        data TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS email_activities_campaign ON email_activities(campaign_id);
    """
)

TABLES: Final = ["email_activities", "email_campaigns"]
SENDING_SECONDS: Final = 1.0
ROLES: Final = ("primary_email", "permalink")
# The V2 API's numeric campaign ids (e.g. 1100567546598): the emulator's campaigns have
# ``V2_ID_BASE + seq``, so the first campaign an emulator creates is 1100000000001.
V2_ID_BASE: Final = 1_100_000_000_000
_TYPES: Final = {4: ("NEWSLETTER", 10), 5: ("CUSTOM_CODE_EMAIL", 26)}


class EmailStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # -- campaigns -------------------------------------------------------------------------

    def create(self, account_id: str, name: str, fields: dict[str, Any]) -> str:
        """A Draft campaign with its primary_email and permalink activities; its id."""
        now = self.clock.now()
        campaign_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            _check_name(conn, account_id, name, None)
            conn.execute(
                "INSERT INTO email_campaigns(campaign_id, account_id, name, format_type, status, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 'DRAFT', ?, ?)",
                (campaign_id, account_id, name, fields["format_type"], now, now),
            )
            data = {k: v for k, v in fields.items() if k != "format_type"}
            data["contact_list_ids"] = []
            conn.executemany(
                "INSERT INTO email_activities(campaign_activity_id, campaign_id, account_id, "
                "role, status, data) VALUES (?, ?, ?, ?, 'DRAFT', ?)",
                [(str(uuid.uuid4()), campaign_id, account_id, r, json.dumps(data)) for r in ROLES],
            )
        return campaign_id

    def campaign(self, account_id: str, campaign_id: str) -> sqlite3.Row | None:
        self.settle()
        return self.db.query_one(
            "SELECT * FROM email_campaigns WHERE account_id = ? AND campaign_id = ?",
            (account_id, campaign_id),
        )

    def by_v2_ids(self, account_id: str, v2_ids: list[int]) -> list[dict[str, str]]:
        """``CrossReference`` items for the V2 ids that name a campaign of the account
        (unknown ids are left out). A campaign's V2 id is ``V2_ID_BASE`` plus its ``seq``."""
        seqs = [i - V2_ID_BASE for i in v2_ids if i > V2_ID_BASE]
        if not seqs:
            return []
        rows = self.db.query(
            "SELECT c.seq, c.campaign_id, a.campaign_activity_id FROM email_campaigns c "  # noqa: S608
            "JOIN email_activities a ON a.campaign_id = c.campaign_id "
            "AND a.role = 'primary_email' "
            f"WHERE c.account_id = ? AND c.seq IN ({','.join('?' * len(seqs))}) ORDER BY c.seq",
            (account_id, *seqs),
        )
        return [
            {
                "v2_email_campaign_id": str(V2_ID_BASE + r["seq"]),
                "campaign_id": r["campaign_id"],
                "campaign_activity_id": r["campaign_activity_id"],
            }
            for r in rows
        ]

    def activities_of(self, campaign_id: str) -> list[sqlite3.Row]:
        return self.db.query(
            "SELECT * FROM email_activities WHERE campaign_id = ? ORDER BY role != "
            "'primary_email', role",
            (campaign_id,),
        )

    def rename(self, account_id: str, campaign_id: str, name: str) -> None:
        with self.db.transaction() as conn:
            self._live_campaign(conn, account_id, campaign_id)
            _check_name(conn, account_id, name, campaign_id)
            conn.execute(
                "UPDATE email_campaigns SET name = ?, updated_at = ? WHERE campaign_id = ?",
                (name, self.clock.now(), campaign_id),
            )

    def remove(self, account_id: str, campaign_id: str) -> None:
        """DELETE: the campaign and its activities become Removed (still listed)."""
        self.settle()
        with self.db.transaction() as conn:
            row = self._live_campaign(conn, account_id, campaign_id)
            if row["status"] == "EXECUTING":
                raise errors.validation(AREA, "The campaign is being sent; delete it once Done.")
            now = self.clock.now()
            conn.execute(
                "UPDATE email_campaigns SET status = 'REMOVED', updated_at = ? "
                "WHERE campaign_id = ?",
                (now, campaign_id),
            )
            conn.execute(
                "UPDATE email_activities SET status = 'REMOVED', scheduled_at = NULL "
                "WHERE campaign_id = ?",
                (campaign_id,),
            )

    def page(
        self,
        account_id: str,
        after: int,
        limit: int,
        updated_before: float | None,
        updated_after: float | None,
    ) -> tuple[list[sqlite3.Row], bool]:
        """Newest first (``after``: the last ``seq`` seen, 0 to start)."""
        self.settle()
        clauses: list[str] = ["account_id = ?"]
        params: list[Any] = [account_id]
        if after:
            clauses.append("seq < ?")
            params.append(after)
        if updated_before is not None:
            clauses.append("updated_at < ?")
            params.append(updated_before)
        if updated_after is not None:
            clauses.append("updated_at > ?")
            params.append(updated_after)
        rows = self.db.query(
            f"SELECT * FROM email_campaigns WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, limit + 1],
        )
        return rows[:limit], len(rows) > limit

    # -- activities ------------------------------------------------------------------------

    def activity(self, account_id: str, activity_id: str) -> sqlite3.Row | None:
        self.settle()
        return self.db.query_one(
            "SELECT a.*, c.format_type AS format_type FROM email_activities a "
            "JOIN email_campaigns c ON c.campaign_id = a.campaign_id "
            "WHERE a.account_id = ? AND a.campaign_activity_id = ?",
            (account_id, activity_id),
        )

    def update_activity(self, row: sqlite3.Row, data: dict[str, Any]) -> None:
        now = self.clock.now()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE email_activities SET data = ? WHERE campaign_activity_id = ?",
                (json.dumps(data), row["campaign_activity_id"]),
            )
            if row["role"] == "primary_email":  # the permalink shows the same content
                conn.execute(
                    "UPDATE email_activities SET data = ? WHERE campaign_id = ? "
                    "AND role = 'permalink'",
                    (json.dumps(data), row["campaign_id"]),
                )
                # An unsent resend to non-openers carries the same content, its own subject.
                conn.execute(
                    "UPDATE email_activities SET data = json_set(?, '$.subject', "
                    "json_extract(data, '$.subject')) WHERE campaign_id = ? "
                    "AND role = 'resend' AND status != 'DONE'",
                    (json.dumps(data), row["campaign_id"]),
                )
            conn.execute(
                "UPDATE email_campaigns SET updated_at = ? WHERE campaign_id = ?",
                (now, row["campaign_id"]),
            )

    @staticmethod
    def add_activity(
        conn: sqlite3.Connection,
        campaign: sqlite3.Row,
        role: str,
        status: str,
        data: dict[str, Any],
    ) -> str:
        """Add an activity (a ``resend``) to a campaign; its id."""
        activity_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO email_activities(campaign_activity_id, campaign_id, account_id, "
            "role, status, data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                activity_id,
                campaign["campaign_id"],
                campaign["account_id"],
                role,
                status,
                json.dumps(data),
            ),
        )
        return activity_id

    @staticmethod
    def delete_activity(conn: sqlite3.Connection, activity_id: str) -> None:
        conn.execute("DELETE FROM email_activities WHERE campaign_activity_id = ?", (activity_id,))

    def schedule(self, row: sqlite3.Row, when: float | None) -> None:
        """Schedule the primary activity (``None``: send now)."""
        now = self.clock.now()
        at = now if when is None else when
        status = "EXECUTING" if when is None else "SCHEDULED"
        self._set_status(row["campaign_id"], status, at, now)

    def unschedule(self, row: sqlite3.Row) -> None:
        self._set_status(row["campaign_id"], "DRAFT", None, self.clock.now())

    def _set_status(self, campaign_id: str, status: str, at: float | None, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE email_activities SET status = ?, scheduled_at = ? "
                "WHERE campaign_id = ? AND role = 'primary_email'",
                (status, at, campaign_id),
            )
            conn.execute(
                "UPDATE email_campaigns SET status = ?, updated_at = ? WHERE campaign_id = ?",
                (status, now, campaign_id),
            )

    def settle(self) -> None:
        """Apply the send transitions that are due on the emulator's clock."""
        now = self.clock.now()
        # A read first: this runs around every request, and usually nothing is due.
        pending = self.db.query_one(
            "SELECT 1 FROM email_activities WHERE role = 'primary_email' AND status IN "
            "('SCHEDULED', 'EXECUTING') AND scheduled_at <= ? LIMIT 1",
            (now,),
        )
        if pending is None:
            return
        with self.db.transaction() as conn:
            for status, due in (("EXECUTING", 0.0), ("DONE", SENDING_SECONDS)):
                rows = conn.execute(
                    "SELECT campaign_id, scheduled_at FROM email_activities WHERE "
                    "role = 'primary_email' AND status IN ('SCHEDULED', 'EXECUTING') "
                    "AND status != ? AND scheduled_at + ? <= ?",
                    (status, due, now),
                ).fetchall()
                for row in rows:
                    at = row["scheduled_at"] + due
                    conn.execute(
                        "UPDATE email_activities SET status = ? WHERE campaign_id = ? "
                        "AND role = 'primary_email'",
                        (status, row["campaign_id"]),
                    )
                    conn.execute(
                        "UPDATE email_campaigns SET status = ?, updated_at = ? "
                        "WHERE campaign_id = ?",
                        (status, at, row["campaign_id"]),
                    )

    @staticmethod
    def _live_campaign(conn: sqlite3.Connection, account_id: str, campaign_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM email_campaigns WHERE account_id = ? AND campaign_id = ? "
            "AND status != 'REMOVED'",
            (account_id, campaign_id),
        ).fetchone()
        if row is None:
            raise campaign_not_found(campaign_id)
        return row

    # -- bodies ------------------------------------------------------------------------------

    def campaign_resource(self, row: sqlite3.Row, with_activities: bool) -> dict[str, Any]:
        """``EmailCampaign`` (with ``campaign_activities``) or ``EmailCampaigns``."""
        kind, code = _TYPES[row["format_type"]]
        if abtest_store.has_test(self.db, row["campaign_id"]):
            kind, code = abtest_store.AB_TEST_TYPE
        body: dict[str, Any] = {"campaign_id": row["campaign_id"]}
        if with_activities:
            body["campaign_activities"] = [
                {"campaign_activity_id": a["campaign_activity_id"], "role": a["role"]}
                for a in self.activities_of(row["campaign_id"])
            ]
        body.update(
            name=row["name"],
            current_status=row["status"].title(),
            type=kind,
            type_code=code,
            created_at=format_datetime(row["created_at"]),
            updated_at=format_datetime(row["updated_at"]),
        )
        return body

    @staticmethod
    def activity_resource(row: sqlite3.Row, include: frozenset[str]) -> dict[str, Any]:
        """``EmailCampaignActivity``; ``include`` adds ``html_content``,
        ``physical_address_in_footer``, ``document_properties`` and ``permalink_url``."""
        data: dict[str, Any] = json.loads(row["data"])
        body: dict[str, Any] = {
            "campaign_activity_id": row["campaign_activity_id"],
            "campaign_id": row["campaign_id"],
            "role": row["role"],
            "contact_list_ids": data.get("contact_list_ids", []),
            **({"segment_ids": data["segment_ids"]} if data.get("segment_ids") else {}),
            "current_status": row["status"],
            "format_type": row["format_type"],
        }
        for key in ("from_email", "from_name", "reply_to_email", "subject", "preheader"):
            if key in data:
                body[key] = data[key]
        if "html_content" in include and "html_content" in data:
            body["html_content"] = data["html_content"]
        if "physical_address_in_footer" in include and data.get("physical_address_in_footer"):
            body["physical_address_in_footer"] = data["physical_address_in_footer"]
        if "document_properties" in include and data.get("document_properties"):
            body["document_properties"] = data["document_properties"]
        if "permalink_url" in include:
            body["permalink_url"] = f"https://myemail.constantcontact.com/{row['campaign_id']}.html"
        return body


def _check_name(
    conn: sqlite3.Connection, account_id: str, name: str, campaign_id: str | None
) -> None:
    other = conn.execute(
        "SELECT campaign_id FROM email_campaigns WHERE account_id = ? AND name = ? COLLATE NOCASE "
        "AND status != 'REMOVED'",
        (account_id, name),
    ).fetchone()
    if other is not None and other["campaign_id"] != campaign_id:
        raise errors.conflict(
            AREA, f"An email campaign named {name!r} already exists ({other['campaign_id']})."
        )


def campaign_not_found(campaign_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Email campaign {campaign_id} was not found.")


def activity_not_found(activity_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Email campaign activity {activity_id} was not found.")
