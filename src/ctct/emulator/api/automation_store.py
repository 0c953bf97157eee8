"""Automations (CC's "customer journeys"): workflows started by a trigger, per account.

A workflow is stored as the ``AutomationCampaign`` body it answers (``data``) plus the
columns lists filter on. New workflows are drafts with one step (send an email); making
one ``ACTIVE`` promotes its draft definition to ``active_definition`` (``draft_state``
``PROMOTED``), ``PAUSED`` stops it, ``DRAFT`` takes it back to editing.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import uuid
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS automations (
        seq INTEGER PRIMARY KEY,
        automation_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        promoted_at REAL,
        created_by TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS automations_account ON automations(account_id, seq);
    """
)

TABLES: Final = ["automations"]
AREA: Final = "automations"
STATUSES: Final = ("DRAFT", "ACTIVE", "PAUSED")
GOAL_TAG: Final = {
    "key": "GOAL",
    "value": "goal_undefined",
    "display_value": "All from-scratch paths",
}


def new_automation(
    name: str, explicit: bool, trigger_def: dict[str, Any], description: str
) -> dict[str, Any]:
    """The ``AutomationCampaign`` of a new draft workflow."""
    automation_id = str(uuid.uuid4())
    campaign_id = str(uuid.uuid4())
    definition = {
        "state": "DRAFT",
        "trigger": {"trigger_def": trigger_def, "trigger_version": "1.0.0"},
        "workflow": {
            "workflow_def": {
                "parameters": {
                    "automation_flow_id": automation_id,
                    "automation_flow_name": name,
                    "campaign_id": campaign_id,
                },
                "correlation_metadata": {
                    "automation_flow_id": automation_id,
                    "campaign_id": campaign_id,
                },
                "tasks": [
                    {
                        "id": str(uuid.uuid4()),
                        "kind": "send_email",
                        "name": "Send email",
                        "correlation_metadata": {"campaign_activity_id": str(uuid.uuid4())},
                        "timeout": {"amount": 24.0, "time_unit": "HOURS"},
                    }
                ],
                "status": "DRAFT",
            }
        },
    }
    return {
        "id": automation_id,
        "name": name,
        "description": description,
        "structured_tags": [dict(GOAL_TAG)],
        "status": "DRAFT",
        "draft_definition": definition,
        "name_explicitly_set": explicit,
    }


class AutomationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, account_id: str, automation_id: str) -> sqlite3.Row | None:
        return self.db.query_one(
            "SELECT * FROM automations WHERE account_id = ? AND automation_id = ?",
            (account_id, automation_id),
        )

    def require(self, account_id: str, automation_id: str) -> sqlite3.Row:
        row = self.get(account_id, automation_id)
        if row is None:
            # The contract declares no 404 for automations: CC's 400 for an unknown id.
            raise errors.validation(AREA, f"Automation {automation_id} was not found.")
        return row

    def count(self, account_id: str) -> int:
        row = self.db.query_one(
            "SELECT COUNT(*) AS n FROM automations WHERE account_id = ?", (account_id,)
        )
        return int(row["n"]) if row else 0

    def create(
        self, account_id: str, data: dict[str, Any], created_by: str, now: float
    ) -> sqlite3.Row:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO automations(automation_id, account_id, name, status, created_at, "
                "updated_at, created_by, data) VALUES (?, ?, ?, 'DRAFT', ?, ?, ?, ?)",
                (data["id"], account_id, data["name"], now, now, created_by, json.dumps(data)),
            )
        return self.require(account_id, data["id"])

    def save(self, row: sqlite3.Row, data: dict[str, Any], now: float) -> sqlite3.Row:
        promoted = row["promoted_at"]
        if data["status"] == "ACTIVE" and row["status"] != "ACTIVE":
            promoted = now
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE automations SET name = ?, status = ?, updated_at = ?, promoted_at = ?, "
                "data = ? WHERE automation_id = ?",
                (data["name"], data["status"], now, promoted, json.dumps(data), data["id"]),
            )
        return self.require(row["account_id"], data["id"])

    def rows(self, account_id: str, newest_first: bool) -> list[sqlite3.Row]:
        order = "DESC" if newest_first else "ASC"
        return self.db.query(
            f"SELECT * FROM automations WHERE account_id = ? ORDER BY created_at {order}, "  # noqa: S608
            f"seq {order}",
            (account_id,),
        )


def campaign_body(row: sqlite3.Row) -> dict[str, Any]:
    """The stored ``AutomationCampaign``."""
    body: dict[str, Any] = json.loads(row["data"])
    return body


def summary_body(row: sqlite3.Row) -> dict[str, Any]:
    """An ``AutomationFlowSummaryDto``."""
    data = campaign_body(row)
    promoted = row["promoted_at"]
    body: dict[str, Any] = {
        "active_state": "ACTIVE" if data["status"] == "ACTIVE" else "INACTIVE",
        "created_by_id": row["created_by"],
        "created_date": format_datetime(row["created_at"]),
        "description": data.get("description", ""),
        "draft_state": "PROMOTED"
        if promoted is not None and data["status"] != "DRAFT"
        else "DRAFT",
        "id": data["id"],
        "name": data["name"],
        "status": data["status"],
        "structured_tags": data.get("structured_tags", []),
        "update_date": format_datetime(row["updated_at"]),
    }
    if promoted is not None:
        body["promoted_by_id"] = row["created_by"]
        body["promoted_date"] = format_datetime(promoted)
    return body


def promote(data: dict[str, Any]) -> None:
    """Copy the draft definition to the active one (the workflow goes live)."""
    active = copy.deepcopy(data["draft_definition"])
    active["state"] = "ACTIVE"
    active["workflow"]["workflow_def"]["status"] = "ACTIVE"
    data["active_definition"] = active
