"""Bulk activities (CC's asynchronous jobs) in the emulator's database, and their bodies.

An activity row holds what clients see (state, timestamps, counters, error messages)
plus where its work stands (``position``); its input lives in ``activity_payloads`` until
it completes. Everything is in the database, so an emulator re-created on the same data
file resumes unfinished activities where they stopped (each chunk of work commits with
the progress it made, so no row is processed twice).

States: ``initialized`` (accepted) -> ``processing`` -> ``completed`` (or ``failed``).
Activities are kept, and listed, for ten days, as CC does.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from ctct import _cc
from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS activities (
        seq INTEGER PRIMARY KEY,
        activity_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        completed_at REAL,
        source_file_name TEXT,
        position INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        errors TEXT NOT NULL DEFAULT '[]',
        results_href TEXT
    );
    CREATE INDEX IF NOT EXISTS activities_account ON activities(account_id, seq);
    CREATE INDEX IF NOT EXISTS activities_state ON activities(state, seq);
    CREATE TABLE IF NOT EXISTS activity_payloads (
        activity_id TEXT PRIMARY KEY,
        payload TEXT NOT NULL
    );
    """
)

TABLES = ["activity_payloads", "activities"]
AREA: Final = "activities"
PENDING: Final = ("initialized", "processing")
STATES: Final = ("initialized", "processing", "completed", "cancelled", "failed", "timed_out")
RETENTION_SECONDS: Final = 10 * 86_400
MAX_QUEUED: Final = 1_000


@dataclass
class Activity:
    """One activity as stored; jobs update ``status``/``errors``/``position`` in place."""

    seq: int
    activity_id: str
    account_id: str
    kind: str
    state: str
    created_at: float
    updated_at: float
    started_at: float | None
    completed_at: float | None
    source_file_name: str | None
    position: int
    status: dict[str, int]
    errors: list[str] = field(default_factory=list)
    results_href: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Activity:
        return cls(
            row["seq"],
            row["activity_id"],
            row["account_id"],
            row["kind"],
            row["state"],
            row["created_at"],
            row["updated_at"],
            row["started_at"],
            row["completed_at"],
            row["source_file_name"],
            row["position"],
            json.loads(row["status"]),
            json.loads(row["errors"]),
            row["results_href"],
        )

    @property
    def percent_done(self) -> int:
        if self.state == "completed":
            return 100
        total = self.status.get("items_total_count", 0)
        done = self.status.get("items_completed_count", 0)
        return min(99, done * 100 // total) if total else 0

    def render(
        self, status_keys: tuple[str, ...] | None = None, times: bool = True
    ) -> dict[str, Any]:
        """The activity's body. ``status_keys`` limits ``status`` to what the response's
        definition declares (None: every counter); ``times=False`` leaves out
        ``started_at``/``completed_at`` (``ActivityDeleteListResponse`` has neither)."""
        body: dict[str, Any] = {"activity_id": self.activity_id, "state": self.state}
        if times and self.started_at is not None:
            body["started_at"] = format_datetime(self.started_at)
        if times and self.completed_at is not None:
            body["completed_at"] = format_datetime(self.completed_at)
        body["created_at"] = format_datetime(self.created_at)
        body["updated_at"] = format_datetime(self.updated_at)
        if self.source_file_name is not None:
            body["source_file_name"] = self.source_file_name
        body["percent_done"] = self.percent_done
        body["activity_errors"] = list(self.errors)
        if status_keys is None:
            body["status"] = dict(self.status)
        elif status_keys:
            body["status"] = {k: v for k, v in self.status.items() if k in status_keys}
        links: dict[str, Any] = {
            "self": {"href": f"{_cc.API_BASE_PATH}/activities/{self.activity_id}"}
        }
        if self.results_href is not None and self.state == "completed":
            links["results"] = {"href": self.results_href}
        body["_links"] = links
        return body


class ActivityStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(
        self,
        account_id: str,
        kind: str,
        payload: dict[str, Any],
        status: dict[str, int],
        source_file_name: str | None = None,
    ) -> Activity:
        """Queue a new activity (``initialized``); CC's 429 past 1,000 queued."""
        now = self.clock.now()
        activity_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            queued = conn.execute(
                "SELECT COUNT(*) AS n FROM activities WHERE account_id = ? "
                "AND state IN ('initialized', 'processing')",
                (account_id,),
            ).fetchone()["n"]
            if queued >= MAX_QUEUED:
                raise errors.too_many_activities(MAX_QUEUED)
            conn.execute(
                "INSERT INTO activities(activity_id, account_id, kind, state, created_at, "
                "updated_at, source_file_name, status) VALUES (?, ?, ?, 'initialized', ?, ?, ?, ?)",
                (activity_id, account_id, kind, now, now, source_file_name, json.dumps(status)),
            )
            conn.execute(
                "INSERT INTO activity_payloads(activity_id, payload) VALUES (?, ?)",
                (activity_id, json.dumps(payload, separators=(",", ":"))),
            )
        created = self.get(account_id, activity_id)
        assert created is not None  # inserted above
        return created

    def get(self, account_id: str, activity_id: str) -> Activity | None:
        row = self.db.query_one(
            "SELECT * FROM activities WHERE account_id = ? AND activity_id = ? AND created_at >= ?",
            (account_id, activity_id, self.clock.now() - RETENTION_SECONDS),
        )
        return None if row is None else Activity.from_row(row)

    def page(
        self, account_id: str, state: str | None, before: int | None, limit: int
    ) -> tuple[list[Activity], bool]:
        """Newest first: up to ``limit`` activities older than position ``before``."""
        clauses = ["account_id = ?", "created_at >= ?"]
        params: list[Any] = [account_id, self.clock.now() - RETENTION_SECONDS]
        if state is not None:
            clauses.append("state = ?")
            params.append(state)
        if before is not None:
            clauses.append("seq < ?")
            params.append(before)
        rows = self.db.query(
            f"SELECT * FROM activities WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, limit + 1],
        )
        return [Activity.from_row(r) for r in rows[:limit]], len(rows) > limit

    # -- for the runner ------------------------------------------------------------------

    @staticmethod
    def next_pending(conn: sqlite3.Connection) -> Activity | None:
        """The oldest activity not yet finished, of any account."""
        row = conn.execute(
            "SELECT * FROM activities WHERE state IN ('initialized', 'processing') "
            "ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else Activity.from_row(row)

    @staticmethod
    def payload(conn: sqlite3.Connection, activity_id: str) -> dict[str, Any]:
        row = conn.execute(
            "SELECT payload FROM activity_payloads WHERE activity_id = ?", (activity_id,)
        ).fetchone()
        return {} if row is None else dict(json.loads(row["payload"]))

    @staticmethod
    def save(conn: sqlite3.Connection, activity: Activity) -> None:
        """Write back an activity's progress; drop its payload once it is finished."""
        conn.execute(
            "UPDATE activities SET state = ?, updated_at = ?, started_at = ?, "
            "completed_at = ?, position = ?, status = ?, errors = ?, results_href = ? "
            "WHERE activity_id = ?",
            (
                activity.state,
                activity.updated_at,
                activity.started_at,
                activity.completed_at,
                activity.position,
                json.dumps(activity.status),
                json.dumps(activity.errors),
                activity.results_href,
                activity.activity_id,
            ),
        )
        if activity.state not in PENDING:
            conn.execute(
                "DELETE FROM activity_payloads WHERE activity_id = ?", (activity.activity_id,)
            )


def activity_not_found(activity_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Activity {activity_id} was not found.")
