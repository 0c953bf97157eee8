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
    # Imported here: ``account`` and ``accounts`` import this package's stores.
    from ctct.emulator.accounts import AccountStore, place_address
    from ctct.emulator.api.account import validate_address

    address = None
    if value is not None:
        try:
            address = validate_address(value)
        except errors.ApiError as exc:
            raise AreaSeedError(f"physical_address: {exc}") from None
    AccountStore.edit_summary(conn, account_id, lambda summary: place_address(summary, address))
    return address


def _refusing(
    seeder: Callable[[sqlite3.Connection, str, object, float], Any],
    error: type[ValueError],
) -> Seeder:
    """A seeder from an area's ``seed`` function, its own error made an ``AreaSeedError``."""

    def seed(
        emu: Emulator, conn: sqlite3.Connection, account_id: str, value: object, now: float
    ) -> Any:
        try:
            return seeder(conn, account_id, value, now)
        except error as exc:
            raise AreaSeedError(str(exc)) from None

    return seed


def _tracking_seed(conn: sqlite3.Connection, account_id: str, value: object, now: float) -> Any:
    return {"events": email_tracking.seed(conn, account_id, value, now)}


SEEDERS: Final[dict[str, Seeder]] = {
    "physical_address": _physical_address,
    "tracking": _refusing(_tracking_seed, email_tracking.TrackingSeedError),
    "events": _refusing(event_store.seed, event_store.EventSeedError),
    "social": _refusing(social_store.seed, social_store.SocialSeedError),
}
