"""Seeders for ``POST /__emulator/seed`` beyond contacts and lists: data the V3 API has
no operation to create (tracking events, event registrations, social profiles), or
states an account cannot otherwise reach (no physical address).

Each seeder takes the open transaction, the account and its key's value, and returns
what the seed response reports under that key. Keys:

- ``physical_address``: an ``AccountPhysicalAddress`` to set, or ``null`` to remove it;
- ``tracking``: email tracking events (``email_tracking.seed``), which segments'
  ``tracking`` criteria evaluate;
- ``events``: events with tracks and registrations (``event_store.seed``);
- ``social``: social connections, profiles and hashtag groups (``social_store.seed``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ctct.emulator.api import email_tracking, errors, event_store, social_store

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


class AreaSeedError(ValueError):
    """A seed value the emulator cannot store; the message says what to send instead."""


Seeder = Callable[["Emulator", sqlite3.Connection, str, object, float], Any]


def _physical_address(
    emu: Emulator, conn: sqlite3.Connection, account_id: str, value: object, now: float
) -> Any:
    from ctct.emulator.api.account import validate_address  # account imports the stores

    address = None
    if value is not None:
        try:
            address = validate_address(value)
        except errors.ApiError as exc:
            raise AreaSeedError(f"physical_address: {exc}") from None
    row = conn.execute("SELECT summary FROM accounts WHERE account_id = ?", (account_id,))
    summary = json.loads(row.fetchone()["summary"])
    if address is None:
        summary.pop("physical_address", None)
    else:
        summary["physical_address"] = address
    conn.execute(
        "UPDATE accounts SET summary = ? WHERE account_id = ?", (json.dumps(summary), account_id)
    )
    return address


def _tracking(
    emu: Emulator, conn: sqlite3.Connection, account_id: str, value: object, now: float
) -> Any:
    try:
        return {"events": email_tracking.seed(conn, account_id, value, now)}
    except email_tracking.TrackingSeedError as exc:
        raise AreaSeedError(str(exc)) from None


def _events(
    emu: Emulator, conn: sqlite3.Connection, account_id: str, value: object, now: float
) -> Any:
    try:
        return event_store.seed(conn, account_id, value, now)
    except event_store.EventSeedError as exc:
        raise AreaSeedError(str(exc)) from None


def _social(
    emu: Emulator, conn: sqlite3.Connection, account_id: str, value: object, now: float
) -> Any:
    try:
        return social_store.seed(conn, account_id, value, now)
    except social_store.SocialSeedError as exc:
        raise AreaSeedError(str(exc)) from None


SEEDERS: Final[dict[str, Seeder]] = {
    "physical_address": _physical_address,
    "tracking": _tracking,
    "events": _events,
    "social": _social,
}
