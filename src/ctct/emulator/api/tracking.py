"""Simulated tracking: when an email campaign activity is sent, plan what its recipients
do (``tracking_plan``) and store it (``tracking_store``); resend to non-openers when due;
publish landing pages and send SMS campaigns for the control API; apply the events'
effects on contacts when their time comes.

``settle`` does all of that for whatever is due on the emulator's clock. The emulator
calls it before it answers every API request (as ``EmailStore.settle`` moves campaigns
along), so a send happens at the first request after its time: its recipients are the
subscribed members of its lists then. A restart with ``--data`` loses nothing: what was
due and not yet done is done at the next request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from ctct.emulator.api import (
    abtest_store,
    email_test_store,
    errors,
    tracking_config,
    tracking_store,
)
from ctct.emulator.api.abtest_store import AbTestStore
from ctct.emulator.api.landing_page_store import LandingPageStore
from ctct.emulator.api.resend_store import ResendStore
from ctct.emulator.api.sms_store import SmsStore
from ctct.emulator.api.tracking_config import TrackingConfig
from ctct.emulator.api.tracking_plan import (
    Link,
    Recipient,
    links_of,
    plan_email,
    plan_landing_page,
    plan_sms,
    split,
    url_id,
)
from ctct.emulator.api.tracking_store import Campaign, TrackingStore
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database

TABLES: Final = [
    *tracking_store.TABLES,
    *abtest_store.TABLES,
    *email_test_store.TABLES,
    "email_resends",
    "landing_pages",
    "sms_campaigns",
]
MAX_PASSES: Final = 3  # a send can make a resend due in the same settle

_DUE_SENDS: Final = """
    SELECT a.campaign_activity_id, a.campaign_id, a.account_id, a.scheduled_at, a.data,
           c.name
    FROM email_activities a JOIN email_campaigns c ON c.campaign_id = a.campaign_id
    WHERE a.role = 'primary_email' AND a.status IN ('EXECUTING', 'DONE')
      AND a.scheduled_at IS NOT NULL AND a.scheduled_at <= ?
      AND NOT EXISTS (SELECT 1 FROM tracking_sends s
                      WHERE s.activity_id = a.campaign_activity_id
                        AND s.trigger_at = a.scheduled_at)
"""
_OPEN_RESENDS: Final = """
    SELECT r.*, p.status AS primary_status, p.scheduled_at AS primary_scheduled_at,
           a.status AS status, a.scheduled_at AS scheduled_at,
           (SELECT MIN(trigger_at) FROM tracking_sends s
            WHERE s.activity_id = r.primary_activity_id) AS first_sent
    FROM email_resends r
    JOIN email_activities p ON p.campaign_activity_id = r.primary_activity_id
    JOIN email_activities a ON a.campaign_activity_id = r.resend_activity_id
    WHERE r.sent_at IS NULL AND p.status != 'REMOVED'
"""
_MEMBERS: Final = """
    SELECT DISTINCT c.contact_id, json_extract(c.data, '$.email_address.address') AS email
    FROM contacts c JOIN list_memberships m ON m.contact_id = c.contact_id
    WHERE c.account_id = ? AND c.status = 'active' AND m.list_id IN ({marks})
"""
_NON_OPENERS: Final = """
    SELECT DISTINCT s.contact_id, json_extract(c.data, '$.email_address.address') AS email
    FROM tracking_events s JOIN contacts c ON c.contact_id = s.contact_id
    WHERE s.activity_id = ? AND s.kind = 'em_sends' AND s.at <= ? AND c.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM tracking_events o
                      WHERE o.activity_id = s.activity_id AND o.contact_id = s.contact_id
                        AND o.kind IN ('em_opens', 'em_bounces') AND o.at <= ?)
"""
SMS_SUBSCRIBED: Final = frozenset({"explicit", "implicit"})

Job = Callable[[sqlite3.Connection, TrackingConfig], None]
# A segment's SQL condition on contacts aliased ``c`` (``segments.segment_condition``).
SegmentSql = Callable[[str, int], tuple[str, list[Any]]]


class Tracking:
    """The tracking switches, the stores of everything tracked, and the simulation."""

    def __init__(self, db: Database, clock: Clock, segment_sql: SegmentSql | None = None) -> None:
        self.db = db
        self.clock = clock
        self.segment_sql = segment_sql
        self.store = TrackingStore(db)
        self.abtests = AbTestStore(db)
        self.resends = ResendStore(db)
        self.landing_pages = LandingPageStore(db)
        self.sms = SmsStore(db)
        self.config = tracking_config.load(db)
        self._lock = threading.Lock()
        self._next_due: float | None = None
        self._due_known = False

    def configure(self, config: TrackingConfig) -> None:
        """New switches for sends from now on (what was sent keeps its plan)."""
        tracking_config.save(self.db, config)
        self.config = config

    def reset(self) -> None:
        """After the account data was wiped (the switches stay, as settings do)."""
        with self._lock:
            self._due_known = False

    # -- what is due -----------------------------------------------------------------------

    def settle(self) -> None:
        """Do every send, resend and effect that is due on the emulator's clock."""
        now = self.clock.now()
        with self._lock:
            for _ in range(MAX_PASSES):
                if not self._settle_once(now):
                    break

    def _settle_once(self, now: float) -> bool:
        work: list[tuple[float, Job]] = [
            (row["scheduled_at"], partial(self._send, row))
            for row in self.db.query(_DUE_SENDS, (now,))
        ]
        fixes: list[tuple[str, float | None, str]] = []
        for row in self.db.query(_OPEN_RESENDS):
            due, status, at = _resend_state(row)
            if due is not None and due <= now:
                work.append((due, partial(self._resend, row, due)))
            elif (row["status"], row["scheduled_at"]) != (status, at):
                fixes.append((status, at, row["resend_activity_id"]))
        if not self._due_known:
            first = self.db.query_one(tracking_store.NEXT_DUE)
            self._next_due = None if first is None or first[0] is None else float(first[0])
            self._due_known = True
        effects_due = self._next_due is not None and self._next_due <= now
        if not work and not fixes and not effects_due:
            return False
        config = self.config
        with self.db.transaction() as conn:
            for at, job in sorted(work, key=lambda item: item[0]):
                tracking_store.apply_due(conn, at)  # effects before the send, in time order
                job(conn, config)
            tracking_store.apply_due(conn, now)
            tracking_store.mirror_due(conn, now)
            conn.executemany(
                "UPDATE email_activities SET status = ?, scheduled_at = ? "
                "WHERE campaign_activity_id = ?",
                fixes,
            )
            self._next_due = tracking_store.next_due(conn)
        return bool(work)

    def _send(self, row: sqlite3.Row, conn: sqlite3.Connection, config: TrackingConfig) -> None:
        """Send a primary email activity to its lists' subscribed members (on a re-send,
        those it has not been sent to yet, as CC does)."""
        activity_id: str = row["campaign_activity_id"]
        data: dict[str, Any] = json.loads(row["data"])
        list_ids: list[str] = data.get("contact_list_ids", [])
        segment_ids: list[int] = data.get("segment_ids", [])
        already = tracking_store.sent_contacts(conn, activity_id)
        audience = (
            self._segment_members(conn, row["account_id"], segment_ids[0])
            if segment_ids
            else _members(conn, row["account_id"], list_ids)
        )
        recipients = [r for r in audience if r.contact_id not in already]
        number = _send_count(conn, activity_id) + 1
        key = f"{row['name']}|send {number}"
        links = links_of(data.get("html_content", ""), activity_id)
        owner = Campaign(row["account_id"], row["campaign_id"], activity_id)
        start: float = row["scheduled_at"]
        test = abtest_store.for_activity(conn, activity_id) if number == 1 else None

        def record(run_date: float, count: int) -> None:
            tracking_store.record_send(
                conn, owner, start, run_date, count, list_ids, links, segment_ids
            )

        if test is not None:
            group, rest = split(config, key, recipients, 2 * test["test_size"] / 100)
            later = start + test["winner_wait_duration"] * 3_600
            events = plan_email(config, key + "|test", group, start, links)
            events += plan_email(config, key + "|winner", rest, later, links)
            record(start, len(group))
            if rest:  # a 50% test leaves nobody for the winner
                record(later, len(rest))
        else:
            events = plan_email(config, key, recipients, start, links)
            record(start, len(recipients))
        tracking_store.insert_events(conn, owner, events)

    def _resend(
        self, row: sqlite3.Row, due: float, conn: sqlite3.Connection, config: TrackingConfig
    ) -> None:
        resend_id: str = row["resend_activity_id"]
        activity = conn.execute(
            "SELECT a.data, c.name FROM email_activities a JOIN email_campaigns c "
            "ON c.campaign_id = a.campaign_id WHERE a.campaign_activity_id = ?",
            (resend_id,),
        ).fetchone()
        data: dict[str, Any] = json.loads(activity["data"])
        recipients = [
            Recipient(r["contact_id"], r["email"])
            for r in conn.execute(_NON_OPENERS, (row["primary_activity_id"], due, due))
        ]
        links = links_of(data.get("html_content", ""), resend_id)
        owner = Campaign(row["account_id"], row["campaign_id"], resend_id)
        events = plan_email(config, f"{activity['name']}|resend", recipients, due, links)
        lists: list[str] = data.get("contact_list_ids", [])
        segments: list[int] = data.get("segment_ids", [])
        tracking_store.record_send(conn, owner, due, due, len(recipients), lists, links, segments)
        tracking_store.insert_events(conn, owner, events)
        conn.execute(
            "UPDATE email_resends SET sent_at = ? WHERE resend_request_id = ?",
            (due, row["resend_request_id"]),
        )
        conn.execute(
            "UPDATE email_activities SET status = 'DONE', scheduled_at = ? "
            "WHERE campaign_activity_id = ?",
            (due, resend_id),
        )

    def _segment_members(
        self, conn: sqlite3.Connection, account_id: str, segment_id: int
    ) -> list[Recipient]:
        """The subscribed contacts the segment selects now (none if it was deleted)."""
        if self.segment_sql is None:
            return []
        try:
            condition, params = self.segment_sql(account_id, segment_id)
        except errors.ApiError:  # deleted since: CC sends to nobody (reason code 12)
            return []
        rows = conn.execute(
            "SELECT c.contact_id, json_extract(c.data, '$.email_address.address') AS email "  # noqa: S608
            f"FROM contacts c WHERE c.account_id = ? AND c.status = 'active' AND ({condition})",
            (account_id, *params),
        )
        return [Recipient(r["contact_id"], r["email"]) for r in rows]

    # -- for the control API ---------------------------------------------------------------

    def publish_landing_page(
        self,
        account_id: str,
        name: str,
        audience_lists: list[str] | None,
        list_id: str | None,
        new_contacts: int,
        urls: list[str],
    ) -> dict[str, Any]:
        """Publish a landing page now: the audience (subscribed members of
        ``audience_lists``, or every subscribed contact) visits it, and ``new_contacts``
        visitors sign up (joining ``list_id``) over the tracking window."""
        self.settle()
        now = self.clock.now()
        campaign_id, activity_id = str(uuid.uuid4()), str(uuid.uuid4())
        links = [Link(url_id(activity_id, u), u) for u in dict.fromkeys(urls)]
        ids = (account_id, campaign_id, activity_id)
        with self._lock, self.db.transaction() as conn:
            audience = _audience(conn, account_id, audience_lists)
            number = LandingPageStore.insert(conn, ids, name, list_id, now, links)
            visitors = [
                Recipient(None, f"visitor{i:04d}.page{number}@example.net")
                for i in range(1, new_contacts + 1)
            ]
            key = f"landing page {number}|{name}"
            events = plan_landing_page(self.config, key, audience, visitors, now, links)
            tracking_store.insert_events(conn, Campaign(*ids), events)
            self._due_known = False
        return {
            "campaign_id": campaign_id,
            "campaign_activity_id": activity_id,
            "audience": len(audience),
            "new_contacts": new_contacts,
            "links": [{"url_id": link.url_id, "link_url": link.url} for link in links],
        }

    def send_sms(self, account_id: str, name: str, lists: list[str] | None) -> dict[str, Any]:
        """Send an SMS campaign now to the SMS-subscribed contacts (of ``lists``)."""
        self.settle()
        now = self.clock.now()
        campaign_id, activity_id = str(uuid.uuid4()), str(uuid.uuid4())
        ids = (account_id, campaign_id, activity_id)
        with self._lock, self.db.transaction() as conn:
            recipients = _sms_recipients(conn, account_id, lists)
            number = SmsStore.insert(conn, ids, name, now)
            events = plan_sms(self.config, f"sms {number}|{name}", recipients, now)
            tracking_store.insert_events(conn, Campaign(*ids), events)
            self._due_known = False
        return {
            "campaign_id": campaign_id,
            "campaign_activity_id": activity_id,
            "recipients": len(recipients),
        }


def _resend_state(row: sqlite3.Row) -> tuple[float | None, str, float | None]:
    """(when the resend is due, if its primary was sent; its activity's status and
    scheduled time as they should read now)."""
    delay = row["delay_minutes"] * 60
    if row["first_sent"] is not None:
        due = float(row["first_sent"]) + delay
        return due, "SCHEDULED", due
    if row["primary_status"] == "DRAFT" or row["primary_scheduled_at"] is None:
        return None, "DRAFT", None
    return None, "SCHEDULED", float(row["primary_scheduled_at"]) + delay


def _send_count(conn: sqlite3.Connection, activity_id: str) -> int:
    row = conn.execute(
        "SELECT COUNT(DISTINCT trigger_at) FROM tracking_sends WHERE activity_id = ?",
        (activity_id,),
    ).fetchone()
    return int(row[0])


def _members(conn: sqlite3.Connection, account_id: str, list_ids: list[str]) -> list[Recipient]:
    if not list_ids:
        return []
    sql = _MEMBERS.format(marks=",".join("?" * len(list_ids)))
    return [
        Recipient(r["contact_id"], r["email"]) for r in conn.execute(sql, (account_id, *list_ids))
    ]


def _audience(
    conn: sqlite3.Connection, account_id: str, list_ids: list[str] | None
) -> list[Recipient]:
    if list_ids is not None:
        return _members(conn, account_id, list_ids)
    rows = conn.execute(
        "SELECT contact_id, json_extract(data, '$.email_address.address') AS email "
        "FROM contacts WHERE account_id = ? AND status = 'active'",
        (account_id,),
    )
    return [Recipient(r["contact_id"], r["email"]) for r in rows]


def _sms_recipients(
    conn: sqlite3.Connection, account_id: str, list_ids: list[str] | None
) -> list[Recipient]:
    sql = "SELECT contact_id, data FROM contacts WHERE account_id = ? AND deleted_at IS NULL"
    params: list[Any] = [account_id]
    if list_ids is not None:
        marks = ",".join("?" * len(list_ids))
        members = f"SELECT contact_id FROM list_memberships WHERE list_id IN ({marks})"  # noqa: S608
        sql += f" AND contact_id IN ({members})"
        params.extend(list_ids)
    found = []
    for row in conn.execute(sql, params):
        channel = json.loads(row["data"]).get("sms_channel")
        consents = (channel or {}).get("sms_channel_consents", [])
        if any(c.get("sms_consent_permission") in SMS_SUBSCRIBED for c in consents):
            number = f"+{channel['dial_code']}{channel['sms_address']}"
            found.append(Recipient(row["contact_id"], number))
    return found
