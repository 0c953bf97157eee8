"""Constant Contact accounts and their data: account summary, contacts, lists, custom
fields, tags, email campaigns and bulk activities (with the worker that runs them).

Each account (a user's ``account_id``; several logins may share one) has its own data,
all kept in the emulator's database so an emulator re-created on the same
``config.data_path`` finds it again. Accounts named in the config are created on first
start with a summary built from their owner's user entry, plus CC's default list.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ctct.emulator.api import (
    account_email_store,
    activity_store,
    automation_store,
    contact_extras,
    contact_store,
    custom_field_store,
    email_store,
    email_tracking,
    errors,
    event_store,
    list_store,
    partner_store,
    segment_store,
    social_store,
    tag_store,
)
from ctct.emulator.api.account_email_store import AccountEmailStore
from ctct.emulator.api.activity_runner import DEFAULT_CHUNK_SIZE, ActivityRunner, Job
from ctct.emulator.api.activity_store import ActivityStore
from ctct.emulator.api.automation_store import AutomationStore
from ctct.emulator.api.contact_jobs import (
    EXPORT_TABLES,
    ContactDeleteJob,
    ExportJob,
    MembershipJob,
)
from ctct.emulator.api.contact_store import ContactStore
from ctct.emulator.api.custom_field_store import CustomFieldStore
from ctct.emulator.api.email_store import EmailStore
from ctct.emulator.api.event_store import EventStore
from ctct.emulator.api.import_job import ImportJob
from ctct.emulator.api.list_jobs import ListDeleteJob
from ctct.emulator.api.list_store import ListStore
from ctct.emulator.api.partner_store import PartnerStore
from ctct.emulator.api.segment_store import SegmentStore
from ctct.emulator.api.social_store import SocialStore
from ctct.emulator.api.tag_store import TagDeleteJob, TagStore
from ctct.emulator.api.tagging_jobs import CustomFieldDeleteJob, TaggingJob
from ctct.emulator.config import UserConfig
from ctct.emulator.db import register_schema
from ctct.emulator.webhook_delivery import WebhookOutbox

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

register_schema(
    """
    CREATE TABLE IF NOT EXISTS accounts (
        account_id TEXT PRIMARY KEY,
        summary TEXT NOT NULL
    );
    """
)

# New CC accounts come with this list.
DEFAULT_LIST_NAME = "General Interest"

# Fields of ``CustomerPut`` a client may change (``encoded_account_id`` is read-only).
EDITABLE_FIELDS = (
    "contact_email",
    "contact_phone",
    "country_code",
    "first_name",
    "last_name",
    "organization_name",
    "organization_phone",
    "state_code",
    "time_zone_id",
    "website",
)


class UnknownAccount(LookupError):
    """Neither a configured user nor a known account id."""


def default_summary(account_id: str, owner: UserConfig) -> dict[str, Any]:
    """A ``Customer`` for a new account: names from the config, the rest plausible."""
    return {
        "contact_email": owner.username,
        "contact_phone": "6175551212",
        "country_code": "US",
        "encoded_account_id": account_id,
        "first_name": owner.first_name,
        "last_name": owner.last_name,
        "organization_name": owner.organization_name,
        "organization_phone": "6175551213",
        "state_code": "MA",
        "time_zone_id": "US/Eastern",
        "website": "https://www.example.com",
        "physical_address": {
            "address_line1": "1601 Trapelo Road",
            "city": "Waltham",
            "state_code": "MA",
            "postal_code": "02451",
            "country_code": "US",
        },
        "company_logo": {
            "url": f"https://files.constantcontact.com/{account_id}/logo.png",
            "internal_id": "ACCOUNT.IMAGE.1",
        },
    }


class AccountStore:
    """Account summaries, the contact, list and activity stores of every account, and
    the runner of bulk activities."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.lists = ListStore(emu.db)
        self.contacts = ContactStore(emu.db, emu.clock, self.lists)
        self.custom_fields = CustomFieldStore(emu.db, emu.clock)
        self.tags = TagStore(emu.db, emu.clock)
        self.emails = EmailStore(emu.db, emu.clock)
        self.activities = ActivityStore(emu.db, emu.clock)
        self.segments = SegmentStore(emu.db, emu.clock)
        self.account_emails = AccountEmailStore(emu.db, emu.clock)
        self.events = EventStore(emu.db)
        self.social = SocialStore(emu.db)
        self.automations = AutomationStore(emu.db)
        self.partners = PartnerStore(emu.db)
        self.webhooks = WebhookOutbox(emu.clock)
        self.runner = ActivityRunner(emu.db, emu.clock, self._jobs())
        self._ensure_configured_accounts()
        self.runner.wake()  # resume activities a previous run left unfinished

    def _jobs(self) -> dict[str, Job]:
        imports = ImportJob()
        return {
            "list_delete": ListDeleteJob(),
            "contacts_json_import": imports,
            "contacts_file_import": imports,
            "contacts_tags_delete": TagDeleteJob(),
            "add_list_memberships": MembershipJob(add=True),
            "remove_list_memberships": MembershipJob(add=False),
            "contact_delete": ContactDeleteJob(),
            "contact_exports": ExportJob(),
            "contacts_taggings_add": TaggingJob(add=True),
            "contacts_taggings_remove": TaggingJob(add=False),
            "custom_fields_delete": CustomFieldDeleteJob(),
        }

    def close(self) -> None:
        """Stop the activity worker (before the database closes)."""
        self.runner.close()

    def _owners(self) -> dict[str, UserConfig]:
        """Each configured account's owner (its first account_owner, else its first user)."""
        owners: dict[str, UserConfig] = {}
        for user in self.emu.config.users:
            current = owners.get(user.account_id)
            if current is None or (
                user.role == "account_owner" and current.role != "account_owner"
            ):
                owners[user.account_id] = user
        return owners

    def _ensure_configured_accounts(self) -> None:
        now = self.emu.clock.now()
        with self.emu.db.transaction() as conn:
            for account_id, owner in self._owners().items():
                created = conn.execute(
                    "INSERT OR IGNORE INTO accounts(account_id, summary) VALUES (?, ?)",
                    (account_id, json.dumps(default_summary(account_id, owner))),
                ).rowcount
                if created:
                    self.lists.ensure(conn, account_id, DEFAULT_LIST_NAME, now)

    def reset(self) -> None:
        """Wipe every account's data and re-create the configured accounts' defaults; the
        activity worker runs again at its usual chunk size (a test may have paused it)."""
        self.emu.db.clear(
            [
                "accounts",
                *contact_store.TABLES,
                *list_store.TABLES,
                *custom_field_store.TABLES,
                *tag_store.TABLES,
                *email_store.TABLES,
                *activity_store.TABLES,
                *EXPORT_TABLES,
                *segment_store.TABLES,
                *email_tracking.TABLES,
                *contact_extras.TABLES,
                *account_email_store.TABLES,
                *event_store.TABLES,
                *social_store.TABLES,
                *automation_store.TABLES,
                *partner_store.TABLES,
            ]
        )
        self.webhooks.reset()
        self._ensure_configured_accounts()
        self.runner.chunk_size = DEFAULT_CHUNK_SIZE
        self.runner.resume()

    def resolve(self, *, username: str | None = None, account_id: str | None = None) -> str:
        """The account id for a configured username, or a known account id."""
        if username is not None:
            user = self.emu.config.user(username)
            if user is None:
                raise UnknownAccount(f"no configured user {username!r}")
            return user.account_id
        if account_id is not None and self.summary(account_id) is not None:
            return account_id
        raise UnknownAccount(f"no account {account_id!r}")

    def summary(self, account_id: str) -> dict[str, Any] | None:
        row = self.emu.db.query_one(
            "SELECT summary FROM accounts WHERE account_id = ?", (account_id,)
        )
        return None if row is None else dict(json.loads(row["summary"]))

    def addresses(self, account_id: str) -> AccountEmailStore:
        """The account-email store, with the account's initial addresses in place."""
        summary = self.summary(account_id) or {}
        logins = [u.username for u in self.emu.config.users if u.account_id == account_id]
        with self.emu.db.transaction() as conn:
            self.account_emails.ensure(conn, account_id, summary.get("contact_email"), logins)
        return self.account_emails

    def set_physical_address(
        self, account_id: str, address: dict[str, Any] | None, *, exists: bool | None = None
    ) -> None:
        """Set (or, with None, remove) the account's physical address. ``exists`` True or
        False: a 400 or 409 unless the account has, or has not, an address already (the
        contract declares no 404 here)."""

        def edit(summary: dict[str, Any]) -> None:
            present = bool(summary.get("physical_address"))
            if exists is True and not present:
                raise errors.validation(
                    "account", "The account has no physical address yet: POST one first."
                )
            if exists is False and present:
                raise errors.conflict(
                    "account", "The account already has a physical address: use PUT to change it."
                )
            place_address(summary, address)

        with self.emu.db.transaction() as conn:
            self.edit_summary(conn, account_id, edit)

    def update_summary(self, account_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update of ``EDITABLE_FIELDS`` and return the new summary."""
        editable = {k: v for k, v in changes.items() if k in EDITABLE_FIELDS}
        with self.emu.db.transaction() as conn:
            return self.edit_summary(conn, account_id, lambda summary: summary.update(editable))

    @staticmethod
    def edit_summary(
        conn: sqlite3.Connection, account_id: str, edit: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Change an account's summary inside the open transaction; returns the new one."""
        row = conn.execute(
            "SELECT summary FROM accounts WHERE account_id = ?", (account_id,)
        ).fetchone()
        if row is None:
            raise UnknownAccount(f"no account {account_id!r}")
        summary: dict[str, Any] = json.loads(row["summary"])
        edit(summary)
        conn.execute(
            "UPDATE accounts SET summary = ? WHERE account_id = ?",
            (json.dumps(summary), account_id),
        )
        return summary


def place_address(summary: dict[str, Any], address: dict[str, Any] | None) -> None:
    """Put ``address`` in a summary as its physical address (None: remove it)."""
    if address is None:
        summary.pop("physical_address", None)
    else:
        summary["physical_address"] = address
