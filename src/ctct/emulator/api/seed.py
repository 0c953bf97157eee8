"""Control route ``POST /__emulator/seed``: put contacts and lists into an account in bulk,
bypassing the gateway (no token, no rate limits). One transaction, ``executemany``.

Request (JSON object; every key but the account is optional)::

    {"username": "alice@example.com"            # or "account_id": "a07e1alice001"
     "lists": [{"name": "VIP", "description": "...", "favorite": false}],
     "contacts": [{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                   "permission_to_send": "implicit", "list_memberships": ["VIP"],
                   "deleted": false, ...any other ContactPostRequest field}],
     "contacts_count": 1234,                     # generated contacts, after "contacts"
     "generated_list_memberships": ["VIP"],      # lists (names or ids) they join
     ...}                                        # area data: see ``seed_areas.SEEDERS``

Response 200: ``{"account_id": ..., "contacts": <number added>, "lists": [{"list_id",
"name"}]}`` (the lists named in the request; existing lists of that name are reused),
plus what each area seeder reports under its key (``seed_areas``: tracking events,
events and registrations, social profiles, the physical address...).
Errors: 400/404/409 ``{"error": "invalid_request"|"not_found"|"conflict",
"error_description": "<what to send instead>"}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct.emulator.accounts import UnknownAccount
from ctct.emulator.api import contact_model, errors
from ctct.emulator.api.contact_input import parse_contact
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.seed_areas import SEEDERS, AreaSeedError

if TYPE_CHECKING:
    import sqlite3

    from ctct.emulator.app import Emulator

MAX_GENERATED = 1_000_000
_FIRST = ("Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas")
_LAST = ("Adams", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones")


_ALLOWED = (
    "username",
    "account_id",
    "lists",
    "contacts",
    "contacts_count",
    "generated_list_memberships",
    *SEEDERS,
)
_ERROR_CODES = {400: "invalid_request", 404: "not_found", 409: "conflict"}


class SeedError(Exception):
    """Input the seed route cannot act on; the message says what to send instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> Response:
        body = {"error": _ERROR_CODES[self.status], "error_description": str(self)}
        return JSONResponse(body, status_code=self.status)


def routes(emu: Emulator) -> list[BaseRoute]:
    async def seed(request: Request) -> Response:
        try:
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                raise SeedError(
                    400, 'the body must be a JSON object, e.g. {"contacts_count": 10}'
                ) from None
            try:
                # In a worker thread: a large seed takes seconds, and the event loop
                # keeps serving other requests meanwhile (the database lock orders them).
                return JSONResponse(await run_in_threadpool(seed_account, emu, body))
            except errors.ApiError as exc:  # a duplicate email address
                raise SeedError(409 if exc.status == 409 else 400, str(exc)) from None
        except SeedError as exc:
            return exc.response()

    return [Route("/__emulator/seed", seed, methods=["POST"])]


def seed_account(emu: Emulator, body: object) -> dict[str, Any]:
    """Seed one account as described in the module docstring; return the summary."""
    if not isinstance(body, dict):
        raise SeedError(400, "the body must be a JSON object, not " + type(body).__name__)
    unknown = sorted(set(body) - set(_ALLOWED))
    if unknown:
        raise SeedError(
            400, f"unknown field {unknown[0]!r}; this route accepts {', '.join(_ALLOWED)}"
        )
    try:
        account_id = emu.accounts.resolve(
            username=body.get("username"), account_id=body.get("account_id")
        )
    except UnknownAccount as exc:
        raise SeedError(404, f"Name a configured username or account_id ({exc}).") from None
    list_specs = _list_specs(body.get("lists", []))
    explicit = body.get("contacts", [])
    generated = body.get("contacts_count", 0)
    if not isinstance(explicit, list):
        raise SeedError(400, "contacts must be an array of objects.")
    if isinstance(generated, bool) or not isinstance(generated, int):
        raise SeedError(400, "contacts_count must be an integer.")
    if not 0 <= generated <= MAX_GENERATED:
        raise SeedError(400, f"contacts_count must be from 0 to {MAX_GENERATED}.")
    lists_store, contacts_store = emu.accounts.lists, emu.accounts.contacts
    now = emu.clock.now()
    with emu.db.transaction() as conn:
        lists = [
            lists_store.ensure(
                conn,
                account_id,
                spec["name"],
                now,
                spec.get("description"),
                bool(spec.get("favorite", False)),
            )
            for spec in list_specs
        ]

        def list_ids(names: object, where: str) -> list[str]:
            return _resolve_lists(emu, conn, account_id, names, where)

        documents, memberships, deleted = [], [], []
        for index, entry in enumerate(explicit):
            doc, ids, is_deleted = _explicit_contact(entry, index, now)
            documents.append(doc)
            memberships.append(list_ids(ids, f"contacts[{index}].list_memberships"))
            deleted.append(is_deleted)
        generated_lists = list_ids(
            body.get("generated_list_memberships", []), "generated_list_memberships"
        )
        start = _count(conn, account_id) + 1
        documents.extend(_generated(start, generated, now))
        memberships.extend([generated_lists] * generated)
        contact_ids = contacts_store.insert_many(conn, account_id, documents, now)
        conn.executemany(
            "INSERT INTO list_memberships(list_id, contact_id) VALUES (?, ?)",
            [(lid, cid) for cid, ids in zip(contact_ids, memberships, strict=True) for lid in ids],
        )
        conn.executemany(
            "UPDATE contacts SET status = 'deleted', deleted_at = ? WHERE contact_id = ?",
            [(now, cid) for cid, gone in zip(contact_ids, deleted, strict=False) if gone],
        )
        reports: dict[str, Any] = {}
        for key, seeder in SEEDERS.items():
            if key in body:
                try:
                    reports[key] = seeder(emu, conn, account_id, body[key], now)
                except AreaSeedError as exc:
                    raise SeedError(400, str(exc)) from None
    return {
        "account_id": account_id,
        "contacts": len(contact_ids),
        "lists": [{"list_id": row["list_id"], "name": row["name"]} for row in lists],
        **reports,
    }


def _list_specs(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and s["name"].strip() for s in raw
    ):
        raise SeedError(400, 'lists must be an array of objects with a "name".')
    return raw


def _resolve_lists(
    emu: Emulator, conn: sqlite3.Connection, account_id: str, names: object, where: str
) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SeedError(400, f"{where} must be an array of list names or ids.")
    ids = []
    for name in names:
        row = emu.accounts.lists.find(conn, account_id, name)
        if row is None:
            raise SeedError(400, f'{where}: no list {name!r}; add it under "lists" first.')
        ids.append(row["list_id"])
    return list(dict.fromkeys(ids))


def _explicit_contact(entry: object, index: int, now: float) -> tuple[dict[str, Any], Any, bool]:
    if not isinstance(entry, dict):
        raise SeedError(400, f"contacts[{index}] must be an object.")
    fields = dict(entry)
    email = fields.pop("email", None)
    permission = fields.pop("permission_to_send", None)
    list_names = fields.pop("list_memberships", [])
    deleted = bool(fields.pop("deleted", False))
    fields.setdefault("create_source", "Account")
    if email is not None:
        fields["email_address"] = {"address": email}
        if permission is not None:
            fields["email_address"]["permission_to_send"] = permission
    try:
        given = parse_contact(fields, put=False)
    except errors.ApiError as exc:
        raise SeedError(400, f"contacts[{index}]: {exc}") from None
    return contact_model.new_contact(given, now), list_names, deleted


def _count(conn: sqlite3.Connection, account_id: str) -> int:
    row = conn.execute("SELECT COUNT(*) FROM contacts WHERE account_id = ?", (account_id,))
    return int(row.fetchone()[0])


def _generated(start: int, count: int, now: float) -> list[dict[str, Any]]:
    """Deterministic contacts ``contact000001@example.com``... numbered after existing ones."""
    stamp = format_datetime(now)
    email_template = {
        "permission_to_send": "implicit",
        "created_at": stamp,
        "updated_at": stamp,
        "opt_in_source": "Account",
        "opt_in_date": stamp,
        "confirm_status": "off",
    }
    return [
        {
            "first_name": _FIRST[n % len(_FIRST)],
            "last_name": _LAST[(n // len(_FIRST)) % len(_LAST)],
            "create_source": "Account",
            "update_source": "Account",
            "email_address": {"address": f"contact{n:06d}@example.com", **email_template},
        }
        for n in range(start, start + count)
    ]
