"""Events (CC's event management) per account: events, their track, registrations and
tickets, in the emulator's database, and their bodies (``EventDto``,
``EventListingDto``, ``RegistrantInformationLiteDto``, ``DetailedRegistrationDto``).

An event is a JSON document (``data``: the ``EventDto`` properties clients may change)
plus columns for what the store filters and sorts on. Every event has one track, its
``default_track`` (the contract models no other), with a 6-character ``track_id``.

Registrations have no create operation in CC's V3 API (people register on the event's
landing page), so the control API's seed (``"events"``) makes them. A registration holds
its tickets, each with an ``order_ticket_key`` (for check-in), and a payment method
(``None`` for free registrations).

Statuses: ``DRAFT`` (new or copied) -> ``ACTIVE`` -> ``COMPLETE`` or ``CANCELLED``; any
but those two may become ``DELETED``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import uuid
from dataclasses import dataclass
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import is_email
from ctct.emulator.api.isotime import format_datetime, parse_datetime
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        track_id TEXT NOT NULL,
        status TEXT NOT NULL,
        name TEXT NOT NULL,
        start_time REAL NOT NULL,
        end_time REAL NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_account ON events(account_id, seq);
    CREATE TABLE IF NOT EXISTS event_registrations (
        seq INTEGER PRIMARY KEY,
        registration_id TEXT NOT NULL UNIQUE,
        event_id TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS event_registrations_event ON event_registrations(event_id, seq);
    """
)

TABLES: Final = ["event_registrations", "events"]
AREA: Final = "events"
STATUSES: Final = ("DRAFT", "ACTIVE", "COMPLETE", "CANCELLED", "DELETED", "ERROR")
# Status changes a PATCH may make (the emulator's choice: CC does not say how an event
# is published, and check-in needs an ACTIVE or COMPLETE event).
TRANSITIONS: Final = {
    "DRAFT": ("ACTIVE", "DELETED"),
    "ACTIVE": ("COMPLETE", "CANCELLED", "DELETED"),
}
REGISTRATION_STATUSES: Final = (
    "PENDING",
    "REGISTERED",
    "CANCELED",
    "EXPIRED",
    "IN_PROGRESS",
    "FAILED",
)
PAYMENT_STATUSES: Final = ("PENDING", "PAID", "REFUNDED", "CANCELLED", "FAILED", "CHARGED_BACK")
PAYMENT_METHODS: Final = ("PAYPAL", "WEPAY", "STRIPE", "DOOR", "CHECK")
PAGES_ORIGIN: Final = "https://lp.constantcontactpages.com"
_TRACK_ALPHABET: Final = string.ascii_lowercase + string.digits


class EventSeedError(ValueError):
    """An ``events`` seed entry the emulator cannot store; the message says why."""


@dataclass
class StoredEvent:
    seq: int
    event_id: str
    account_id: str
    track_id: str
    status: str
    created_at: float
    updated_at: float
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredEvent:
        return cls(
            row["seq"],
            row["event_id"],
            row["account_id"],
            row["track_id"],
            row["status"],
            row["created_at"],
            row["updated_at"],
            json.loads(row["data"]),
        )


def new_track_id() -> str:
    return "".join(secrets.choice(_TRACK_ALPHABET) for _ in range(6))


def new_event_data(
    name: str,
    start: float,
    end: float,
    now: float,
    owner: dict[str, Any],
    campaign_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """The document of a new DRAFT event with CC's defaults, and its track id."""
    stamp = format_datetime(now)
    track_id = new_track_id()
    data: dict[str, Any] = {
        "name": name,
        "title": name,
        "description": "",
        "campaign_id": campaign_id or str(uuid.uuid4()),
        "event_start": format_datetime(start),
        "event_end": format_datetime(end),
        "event_type": "OTHER",
        "location_type": "ONLINE",
        "time_zone": owner.get("time_zone_id") or "US/Eastern",
        "currency_type": "USD",
        "contact": {
            "name": " ".join(
                p for p in (owner.get("first_name"), owner.get("last_name")) if p
            ).strip()
            or "Event organizer",
            "organization_name": owner.get("organization_name") or "Organizer",
            "email_address": owner.get("contact_email", ""),
            "create_time": stamp,
            "last_update_time": stamp,
        },
        "default_track": {
            "campaign_activity_id": str(uuid.uuid4()),
            "track_id": track_id,
            "registration_type": "TICKET",
            "overall_ticket_capacity": 100,
            "tickets_header": "Tickets",
            "items_header": "Items",
            "registration_end_time": format_datetime(start),
            "reg_manually_closed_flag": False,
            "restrict_to_single_ticket_flag": False,
            "create_time": stamp,
            "last_update_time": stamp,
        },
        "display_contact_flag": True,
        "display_end_time_flag": True,
        "display_on_calendar_flag": False,
        "display_time_zone_flag": True,
        "notify_owner_on_reg": True,
        "event_metadata": {
            "items_enabled": False,
            "paid_event": False,
            "promo_codes_enabled": False,
        },
        "event_settings": {
            "event_requires_payments": False,
            "item_configured": False,
            "online_payment_configured": False,
            "payment_configured": False,
            "promo_code_configured": False,
            "ticket_configured": True,
        },
        "event_promotions": [],
        "failed_campaign_activities": [],
    }
    return data, track_id


class EventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self, account_id: str) -> int:
        row = self.db.query_one(
            "SELECT COUNT(*) AS n FROM events WHERE account_id = ?", (account_id,)
        )
        return int(row["n"]) if row else 0

    def get(self, account_id: str, event_id: str) -> StoredEvent | None:
        row = self.db.query_one(
            "SELECT * FROM events WHERE account_id = ? AND event_id = ?", (account_id, event_id)
        )
        return None if row is None else StoredEvent.from_row(row)

    def require(self, account_id: str, event_id: str) -> StoredEvent:
        event = self.get(account_id, event_id)
        if event is None:
            raise event_not_found(event_id)
        return event

    @staticmethod
    def insert(
        conn: sqlite3.Connection,
        account_id: str,
        data: dict[str, Any],
        track_id: str,
        status: str,
        now: float,
    ) -> str:
        event_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO events(event_id, account_id, track_id, status, name, start_time, "
            "end_time, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event_id,
                account_id,
                track_id,
                status,
                data["name"],
                parse_datetime(data["event_start"]) or now,
                parse_datetime(data["event_end"]) or now,
                now,
                now,
                json.dumps(data),
            ),
        )
        return event_id

    def create(
        self, account_id: str, data: dict[str, Any], track_id: str, now: float
    ) -> StoredEvent:
        with self.db.transaction() as conn:
            event_id = self.insert(conn, account_id, data, track_id, "DRAFT", now)
        return self.require(account_id, event_id)

    def save(self, event: StoredEvent, now: float) -> None:
        data = event.data
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE events SET status = ?, name = ?, start_time = ?, end_time = ?, "
                "updated_at = ?, data = ? WHERE event_id = ?",
                (
                    event.status,
                    data["name"],
                    parse_datetime(data["event_start"]) or now,
                    parse_datetime(data["event_end"]) or now,
                    now,
                    json.dumps(data),
                    event.event_id,
                ),
            )

    def listing(
        self,
        account_id: str,
        status: str | None,
        search: str | None,
        sort: tuple[str, str],
        offset: int,
        limit: int,
    ) -> tuple[list[StoredEvent], int]:
        """A page of the account's events (DELETED ones only when asked for by status)
        and how many match in all."""
        clauses, params = ["account_id = ?"], [account_id]
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        else:
            clauses.append("status != 'DELETED'")
        if search:
            clauses.append(
                "(instr(lower(name), ?) OR instr(lower(json_extract(data, '$.title')), ?) "
                "OR instr(lower(json_extract(data, '$.description')), ?))"
            )
            params.extend([search.lower()] * 3)
        where = " AND ".join(clauses)
        column, direction = sort
        rows = self.db.query(
            f"SELECT * FROM events WHERE {where} ORDER BY {column} {direction}, seq "  # noqa: S608
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        total = self.db.query_one(f"SELECT COUNT(*) AS n FROM events WHERE {where}", params)  # noqa: S608
        return [StoredEvent.from_row(r) for r in rows], int(total["n"]) if total else 0

    # -- registrations ----------------------------------------------------------------

    def registrations(self, event_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT registration_id, data FROM event_registrations WHERE event_id = ? ORDER BY seq",
            (event_id,),
        )
        return [{"registration_id": r["registration_id"], **json.loads(r["data"])} for r in rows]

    def save_registrations(self, registrations: list[dict[str, Any]]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE event_registrations SET data = ? WHERE registration_id = ?",
                [
                    (
                        json.dumps({k: v for k, v in r.items() if k != "registration_id"}),
                        r["registration_id"],
                    )
                    for r in registrations
                ],
            )


def event_not_found(event_id: str) -> errors.ApiError:
    return errors.not_found(AREA, f"Event {event_id} was not found.")


# -- bodies --------------------------------------------------------------------------------


def event_body(event: StoredEvent, include_settings: bool = True) -> dict[str, Any]:
    """An ``EventDto``."""
    data = event.data
    body: dict[str, Any] = {"event_id": event.event_id}
    body.update({k: v for k, v in data.items() if k != "event_settings" or include_settings})
    body["status"] = event.status
    body["create_time"] = format_datetime(event.created_at)
    body["last_update_time"] = format_datetime(event.updated_at)
    urls = _urls(event)
    body["registration_url"] = urls["registration"]
    body["event_calendar_url"] = urls["calendar"]
    body["event_widget_url"] = urls["widget"]
    return body


def listing_body(event: StoredEvent, registrations: list[dict[str, Any]]) -> dict[str, Any]:
    """An ``EventListingDto``."""
    data = event.data
    live = [r for r in registrations if r["registration_status"] != "CANCELED"]
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "title": data["title"],
        "description": data["description"],
        "start_time": data["event_start"],
        "end_time": data["event_end"],
        "status": event.status,
        "registration_url": _urls(event)["registration"],
        "name": data["name"],
        "event_type": data["event_type"],
        "location_type": data["location_type"],
        "time_zone_type": data["time_zone"],
        "event_registration_summary_metrics": {
            "registration_count": len(live),
            "ticket_sold": sum(len(r["tickets"]) for r in live),
            "item_sold": 0,
        },
        "create_time": format_datetime(event.created_at),
    }
    if data.get("address"):
        body["address"] = data["address"]
    return body


def _urls(event: StoredEvent) -> dict[str, str]:
    return {
        "registration": f"{PAGES_ORIGIN}/ev/reg/{event.track_id}",
        "calendar": f"{PAGES_ORIGIN}/ev/calendar/{event.account_id}",
        "widget": f"https://eventsfeed.constantcontact.com/widget/myevents.js?e={event.event_id}",
    }


def checked_in(registration: dict[str, Any]) -> int:
    return sum(1 for t in registration["tickets"] if t.get("checked_in_time"))


def eligible(registration: dict[str, Any]) -> int:
    return sum(1 for t in registration["tickets"] if t.get("status") != "CANCELLED")


def registrant_lite(registration: dict[str, Any], track_id: str) -> dict[str, Any]:
    """A ``RegistrantInformationLiteDto``."""
    done = checked_in(registration)
    body: dict[str, Any] = {
        "checkedIn_tickets": done,
        "checkin_status": _checkin_status(registration),
        "eligible_checkin_tickets": eligible(registration),
        "email_address": registration["email_address"],
        "first_name": registration["first_name"],
        "last_name": registration["last_name"],
        "new_contact": registration["new_contact"],
        "registration_id": registration["registration_id"],
        "registration_status": registration["registration_status"],
        "registration_time": registration["registration_time"],
        "tickets": len(registration["tickets"]),
        "total": _total(registration),
        "track_key": track_id,
    }
    if registration.get("payment_status") is not None:
        body["payment_status"] = registration["payment_status"]
    return body


def registration_detail(registration: dict[str, Any], event: StoredEvent) -> dict[str, Any]:
    """A ``DetailedRegistrationDto``."""
    contact_fields = [
        ("CONTACT_FIRST_NAME", "First Name", registration["first_name"]),
        ("CONTACT_LAST_NAME", "Last Name", registration["last_name"]),
        ("CONTACT_EMAIL_ADDRESS", "Email Address", registration["email_address"]),
    ]
    tickets = []
    for ticket in registration["tickets"]:
        item: dict[str, Any] = {
            "editable": False,
            "order_ticket_key": ticket["order_ticket_key"],
            "price": ticket["price"],
            "ticket_name": ticket["ticket_name"],
            "fields": [],
        }
        if ticket.get("checked_in_time"):
            item["checked_in_time"] = ticket["checked_in_time"]
        tickets.append(item)
    order: dict[str, Any] = {
        "number": registration["order_number"],
        "title": event.data["title"],
        "details": [
            {
                "amount": f"${t['price']:,.2f}",
                "amount_unformatted": t["price"],
                "line_item_type": "TICKET",
                "name": t["ticket_name"],
            }
            for t in registration["tickets"]
        ],
        "tickets_link": f"{PAGES_ORIGIN}/ev/reg/{event.track_id}/registration/"
        f"{registration['registration_id']}",
    }
    if registration.get("payment_method"):
        order["payment_method"] = registration["payment_method"]
    if registration.get("payment_status"):
        order["payment_status"] = registration["payment_status"]
    return {
        "registration_id": registration["registration_id"],
        "contact_id": registration["contact_id"],
        "checkedIn_tickets": checked_in(registration),
        "checkin_status": _checkin_status(registration),
        "eligible_checkin_tickets": eligible(registration),
        "registration_date": registration["registration_time"],
        "registration_status": registration["registration_status"],
        "display_physical_tickets": event.data["location_type"] != "ONLINE",
        "contact": [
            {
                "display_order": index + 1,
                "field_label": label,
                "field_name": name,
                "field_type": "TEXT",
                "label_key": f"registration.field.label.{name.lower()}",
                "field_value": value,
            }
            for index, (name, label, value) in enumerate(contact_fields)
        ],
        "tickets": tickets,
        "order_summary": order,
    }


def _checkin_status(registration: dict[str, Any]) -> str:
    done, total = checked_in(registration), len(registration["tickets"])
    if done == 0:
        return "NOT_CHECKED_IN"
    return "CHECKED_IN" if done == total else "PARTIALLY_CHECKED_IN"


def _total(registration: dict[str, Any]) -> float:
    return float(sum(t["price"] for t in registration["tickets"]))


# -- seeding -------------------------------------------------------------------------------


def seed(conn: sqlite3.Connection, account_id: str, entries: object, now: float) -> Any:
    """Seed events: ``[{"name", "status"?: "ACTIVE", "start_time"?, "end_time"?,
    "registrations"?: [{"email", "first_name"?, "last_name"?, "tickets"?: 1 (a number or
    [{"ticket_name", "price"}]), "payment_method"?: "STRIPE", "payment_status"?,
    "registration_status"?: "REGISTERED"}]}]``. Returns each event's ``event_id``,
    ``track_id`` and its registrations' ``registration_id`` and ``order_ticket_keys``."""
    if not isinstance(entries, list):
        raise EventSeedError("events must be an array of objects.")
    summary_row = conn.execute(
        "SELECT summary FROM accounts WHERE account_id = ?", (account_id,)
    ).fetchone()
    owner = json.loads(summary_row["summary"]) if summary_row else {}
    created = []
    for index, entry in enumerate(entries):
        where = f"events[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise EventSeedError(f'{where} must be an object with a "name".')
        status = entry.get("status", "ACTIVE")
        if status not in STATUSES:
            raise EventSeedError(f"{where}.status must be one of {', '.join(STATUSES)}.")
        start = _seed_time(entry.get("start_time"), now + 7 * 86_400, f"{where}.start_time")
        end = _seed_time(entry.get("end_time"), start + 3_600, f"{where}.end_time")
        data, track_id = new_event_data(entry["name"], start, end, now, owner)
        event_id = EventStore.insert(conn, account_id, data, track_id, status, now)
        registrations = _seed_registrations(
            conn, account_id, event_id, entry.get("registrations", []), now, where
        )
        created.append({"event_id": event_id, "track_id": track_id, "registrations": registrations})
    return created


def _seed_time(raw: object, default: float, where: str) -> float:
    if raw is None:
        return default
    moment = parse_datetime(str(raw))
    if moment is None:
        raise EventSeedError(f"{where} must be an ISO-8601 date-time.")
    return moment


def _seed_registrations(
    conn: sqlite3.Connection,
    account_id: str,
    event_id: str,
    entries: object,
    now: float,
    where: str,
) -> list[dict[str, Any]]:
    if not isinstance(entries, list):
        raise EventSeedError(f"{where}.registrations must be an array.")
    made = []
    for index, entry in enumerate(entries):
        at = f"{where}.registrations[{index}]"
        if not isinstance(entry, dict) or not is_email(entry.get("email")):
            raise EventSeedError(f'{at} must be an object with an "email".')
        method = entry.get("payment_method")
        if method is not None and method not in PAYMENT_METHODS:
            raise EventSeedError(
                f"{at}.payment_method must be one of {', '.join(PAYMENT_METHODS)}."
            )
        payment_status = entry.get("payment_status", "PAID" if method else None)
        if payment_status is not None and payment_status not in PAYMENT_STATUSES:
            raise EventSeedError(
                f"{at}.payment_status must be one of {', '.join(PAYMENT_STATUSES)}."
            )
        status = entry.get("registration_status", "REGISTERED")
        if status not in REGISTRATION_STATUSES:
            raise EventSeedError(
                f"{at}.registration_status must be one of {', '.join(REGISTRATION_STATUSES)}."
            )
        tickets = _seed_tickets(entry.get("tickets", 1), at)
        email = str(entry["email"])
        contact = conn.execute(
            "SELECT contact_id FROM contacts WHERE account_id = ? AND email_key = ?",
            (account_id, email.lower()),
        ).fetchone()
        registration_id = str(uuid.uuid4())
        data = {
            "contact_id": contact["contact_id"] if contact else str(uuid.uuid4()),
            "new_contact": contact is None,
            "email_address": email,
            "first_name": str(entry.get("first_name", "")),
            "last_name": str(entry.get("last_name", "")),
            "registration_status": status,
            "registration_time": format_datetime(now),
            "payment_method": method,
            "payment_status": payment_status,
            "order_number": secrets.token_urlsafe(8)[:10],
            "tickets": [
                {
                    **ticket,
                    "order_ticket_key": secrets.token_hex(3),
                    "status": "CANCELLED" if status == "CANCELED" else "ACTIVE",
                }
                for ticket in tickets
            ],
        }
        conn.execute(
            "INSERT INTO event_registrations(registration_id, event_id, data) VALUES (?, ?, ?)",
            (registration_id, event_id, json.dumps(data)),
        )
        made.append(
            {
                "registration_id": registration_id,
                "order_ticket_keys": [t["order_ticket_key"] for t in data["tickets"]],
            }
        )
    return made


def _seed_tickets(raw: object, where: str) -> list[dict[str, Any]]:
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 20:
        return [{"ticket_name": "General Admission", "price": 0.0} for _ in range(raw)]
    if isinstance(raw, list) and raw and all(isinstance(t, dict) for t in raw):
        tickets = []
        for ticket in raw:
            price = ticket.get("price", 0)
            if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
                raise EventSeedError(f"{where}.tickets prices must be numbers >= 0.")
            tickets.append(
                {
                    "ticket_name": str(ticket.get("ticket_name", "General Admission")),
                    "price": float(price),
                }
            )
        return tickets
    raise EventSeedError(f"{where}.tickets must be 1 to 20, or an array of ticket objects.")
