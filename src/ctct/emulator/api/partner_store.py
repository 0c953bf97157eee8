"""Technology partners' client accounts and webhook subscriptions.

A partner's client accounts are the accounts its config names (managed, on the ``GOLD``
plan, billing open) plus those it provisions (``POST /v3/partner/accounts``: managed
unless it says otherwise, ``TRIAL`` plan). A client account is an ordinary emulated
account (``accounts``: summary, default list, contacts...) with a row here for its
billing: ``plan_type`` (TRIAL < BRONZE < SILVER < GOLD), ``billing_day_of_month`` and a
cancellation (``cancel_at``). ``billing_status`` follows the emulator's clock: ``Trial``
(``Trial End`` 60 days after provisioning), ``Open``, ``Canceled`` once ``cancel_at``
has passed.

Webhook subscriptions are per partner: one ``hook_uri`` per topic (1 tier upgrade,
2 tier downgrade, 3 account cancelled, 4 account disabled).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import uuid
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.config import PartnerConfig
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS partner_accounts (
        account_id TEXT PRIMARY KEY,
        partner_client_id TEXT NOT NULL,
        managed INTEGER NOT NULL,
        plan_type TEXT NOT NULL,
        plan_group_id INTEGER,
        billing_day_of_month INTEGER,
        cancel_at REAL,
        cancel_reason INTEGER,
        login_name TEXT UNIQUE,
        sso INTEGER NOT NULL DEFAULT 0,
        provision_uuid TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        last_login_at REAL
    );
    CREATE TABLE IF NOT EXISTS partner_sso_users (
        login_name TEXT PRIMARY KEY COLLATE NOCASE,
        account_id TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS partner_webhooks (
        partner_client_id TEXT NOT NULL,
        topic_id INTEGER NOT NULL,
        hook_uri TEXT NOT NULL,
        PRIMARY KEY (partner_client_id, topic_id)
    );
    CREATE TABLE IF NOT EXISTS partner_ready (
        partner_client_id TEXT PRIMARY KEY
    );
    """
)

TABLES: Final = ["partner_accounts", "partner_sso_users", "partner_webhooks", "partner_ready"]
AREA: Final = "partners"
PLANS: Final = ("TRIAL", "BRONZE", "SILVER", "GOLD")
TRIAL_SECONDS: Final = 60 * 86_400
CANCEL_REASONS: Final = (1, 2, 3, 11, 12, 14, 21, 27, 30)
# Contacts tiers (upper bounds) and monthly prices per plan: the emulator's own table.
TIER_MAX: Final = (500, 2_500, 5_000, 10_000, 15_000, 20_000, 25_000, 35_000, 50_000)
_BASE_PRICE: Final = {"TRIAL": 0.0, "BRONZE": 12.0, "SILVER": 35.0, "GOLD": 80.0}
_STEP_PRICE: Final = {"TRIAL": 0.0, "BRONZE": 18.0, "SILVER": 25.0, "GOLD": 40.0}
TOPICS: Final = {
    1: (
        "Billing Tier Upgrade",
        "Executes when an account's billing tier is upgraded.",
        "tier.increase",
    ),
    2: (
        "Billing Tier Downgrade",
        "Executes when an account's billing tier is downgraded.",
        "tier.decrease",
    ),
    3: ("Account Cancelled", "Executes when an account is cancelled.", "account.cancelled"),
    4: ("Account Disabled", "Executes when an account is disabled.", "account.disabled"),
}
_ID_ALPHABET: Final = string.ascii_lowercase + string.digits


class PartnerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self, partner: PartnerConfig, now: float) -> None:
        """Register the partner's configured client accounts, once."""
        with self.db.transaction() as conn:
            first = conn.execute(
                "INSERT OR IGNORE INTO partner_ready(partner_client_id) VALUES (?)",
                (partner.partner_client_id,),
            ).rowcount
            if not first:
                return
            for account_id in partner.accounts:
                exists = conn.execute(
                    "SELECT 1 FROM accounts WHERE account_id = ?", (account_id,)
                ).fetchone()
                if exists is None:
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO partner_accounts(account_id, partner_client_id, "
                    "managed, plan_type, billing_day_of_month, provision_uuid, created_at) "
                    "VALUES (?, ?, 1, 'GOLD', 1, ?, ?)",
                    (account_id, partner.partner_client_id, str(uuid.uuid4()), now),
                )

    def client(self, partner: PartnerConfig, account_id: str) -> sqlite3.Row:
        """The partner's client account; 404 if no such account, 400 if another's."""
        row = self.db.query_one(
            "SELECT * FROM partner_accounts WHERE account_id = ?", (account_id,)
        )
        if row is None:
            raise errors.not_found(AREA, f"Account {account_id} was not found.")
        if row["partner_client_id"] != partner.partner_client_id:
            raise errors.validation(
                AREA, f"Account {account_id} is a client account of another partner."
            )
        return row

    def clients(
        self, partner: PartnerConfig, account_type: str, offset: int, limit: int
    ) -> tuple[list[sqlite3.Row], bool]:
        clauses: list[str] = ["partner_client_id = ?"]
        params: list[Any] = [partner.partner_client_id]
        if account_type != "all":
            clauses.append("managed = ?")
            params.append(1 if account_type == "managed" else 0)
        rows = self.db.query(
            f"SELECT * FROM partner_accounts WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            [*params, limit + 1, offset],
        )
        return rows[:limit], len(rows) > limit

    @staticmethod
    def new_account_id(conn: sqlite3.Connection) -> str:
        while True:
            candidate = "a07e1" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(7))
            taken = conn.execute(
                "SELECT 1 FROM accounts WHERE account_id = ?", (candidate,)
            ).fetchone()
            if taken is None:
                return candidate

    @staticmethod
    def login_taken(conn: sqlite3.Connection, login_name: str) -> bool:
        rows = conn.execute(
            "SELECT 1 FROM partner_accounts WHERE login_name = ? COLLATE NOCASE "
            "UNION SELECT 1 FROM partner_sso_users WHERE login_name = ? COLLATE NOCASE",
            (login_name, login_name),
        ).fetchone()
        return rows is not None

    def update(self, account_id: str, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self.db.transaction() as conn:
            conn.execute(
                f"UPDATE partner_accounts SET {assignments} WHERE account_id = ?",  # noqa: S608
                (*columns.values(), account_id),
            )

    # -- webhooks -----------------------------------------------------------------------

    def subscriptions(self, partner: PartnerConfig) -> dict[int, str]:
        rows = self.db.query(
            "SELECT topic_id, hook_uri FROM partner_webhooks WHERE partner_client_id = ? "
            "ORDER BY topic_id",
            (partner.partner_client_id,),
        )
        return {int(r["topic_id"]): str(r["hook_uri"]) for r in rows}

    def subscribe(self, partner: PartnerConfig, topic_id: int, hook_uri: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO partner_webhooks(partner_client_id, topic_id, hook_uri) "
                "VALUES (?, ?, ?) ON CONFLICT(partner_client_id, topic_id) "
                "DO UPDATE SET hook_uri = excluded.hook_uri",
                (partner.partner_client_id, topic_id, hook_uri),
            )

    def unsubscribe(self, partner: PartnerConfig, topic_id: int) -> bool:
        with self.db.transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM partner_webhooks WHERE partner_client_id = ? AND topic_id = ?",
                (partner.partner_client_id, topic_id),
            ).rowcount
        return bool(deleted)


def billing_status(row: sqlite3.Row, now: float) -> str:
    if row["cancel_at"] is not None and row["cancel_at"] <= now:
        return "Canceled"
    if row["plan_type"] == "TRIAL":
        return "Trial End" if now >= row["created_at"] + TRIAL_SECONDS else "Trial"
    return "Open"


def plan_body(row: sqlite3.Row, contacts: int, now: float) -> dict[str, Any]:
    """A ``PlanTiersObject``: the plan and its contacts tier for ``contacts`` contacts."""
    plan = row["plan_type"]
    tier = next((i for i, high in enumerate(TIER_MAX) if contacts <= high), len(TIER_MAX) - 1)
    body: dict[str, Any] = {
        "plan_type": plan,
        "current_tiers": [
            {
                "usage_type": "CONTACTS",
                "current_usage": float(contacts),
                "tier": tier + 1,
                "tier_min": float(TIER_MAX[tier - 1] + 1 if tier else 0),
                "tier_max": float(TIER_MAX[tier]),
                "price": _BASE_PRICE[plan] + _STEP_PRICE[plan] * tier,
                "currency_code": json.loads(row["data"]).get("currency_code", "USD"),
            }
        ],
        "billing_status": billing_status(row, now),
    }
    if row["billing_day_of_month"] is not None:
        body["billing_day_of_month"] = row["billing_day_of_month"]
    return body


def topic_body(topic_id: int, hook_uri: str) -> dict[str, Any]:
    name, description, _ = TOPICS[topic_id]
    return {
        "topic_id": topic_id,
        "hook_uri": hook_uri,
        "topic_name": name,
        "topic_description": description,
    }


def last_login(row: sqlite3.Row) -> str | None:
    at = row["last_login_at"]
    return None if at is None else format_datetime(at)
