"""The ``contacts_json_import``/``contacts_file_import`` job: rows become contacts, a chunk
per step (see ``activity_runner``).

Payload: ``columns``, ``rows`` (``[row number, value...]``), ``list_ids``,
``custom_fields`` (lower-cased name -> id, resolved when the request came in),
``sms_permission``, ``header_rows``. Each step reads the existing contacts its rows name
(by email address, else by SMS number), merges (``import_rows.merge``), writes them in
bulk and adds them to the lists; a contact that has unsubscribed is updated but not
added (``cannot_add_to_list_count``), as CC does. A deleted contact is revived.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ctct.emulator.api import import_rows
from ctct.emulator.api.activity_runner import JobContext
from ctct.emulator.api.contact_store import ContactStore
from ctct.emulator.api.isotime import format_datetime
from ctct.emulator.api.list_store import ListStore


@dataclass
class _Entry:
    """A contact touched by this chunk."""

    contact_id: str | None  # None: new, inserted at the end of the chunk
    data: dict[str, Any]
    existed: bool


class ImportJob:
    def start(self, ctx: JobContext) -> None:
        # The header row of a CSV file counts as an item, done as soon as work starts.
        ctx.activity.status["items_completed_count"] = ctx.payload["header_rows"]

    def step(self, ctx: JobContext) -> bool:
        activity, payload, conn = ctx.activity, ctx.payload, ctx.conn
        columns: list[str] = payload["columns"]
        rows: list[list[Any]] = payload["rows"]
        chunk = rows[activity.position : activity.position + ctx.chunk_size]
        custom_fields: dict[str, str] = payload["custom_fields"]
        sms_permission: str = payload["sms_permission"]
        valid: list[tuple[int, dict[str, str]]] = []
        for row in chunk:
            values = {c: v for c, v in zip(columns, row[1:], strict=True) if v is not None}
            correctable, fatal = import_rows.problems(row[0], values, custom_fields, sms_permission)
            if correctable or fatal:
                activity.errors.extend([*correctable, *fatal])
                activity.status["correctable_count"] += 1 if correctable else 0
                activity.status["error_count"] += 0 if correctable else 1
            else:
                valid.append((row[0], values))
        entries = self._existing(conn, activity.account_id, [v for _, v in valid])
        members: dict[str, _Entry] = {}  # by key; contacts to add to the lists
        stamp = format_datetime(ctx.now)
        for number, values in valid:
            key = _key(values, number)
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = _Entry(None, {}, existed=False)
            old = entry.data if (entry.existed or entry.data) else None
            entry.data = import_rows.merge(
                old, values, custom_fields, sms_permission, ctx.now, stamp
            )
            if _unsubscribed(entry.data):
                activity.status["cannot_add_to_list_count"] += 1
                members.pop(key, None)
            else:
                members[key] = entry
        self._write(conn, activity.account_id, list(entries.values()), ctx.now)
        live = [
            list_id
            for list_id in payload["list_ids"]
            if ListStore.live(conn, activity.account_id, list_id)
        ]
        ListStore.add_members(conn, live, [e.contact_id for e in members.values() if e.contact_id])
        activity.position += len(chunk)
        activity.status["items_completed_count"] = payload["header_rows"] + activity.position
        return activity.position >= len(rows)

    @staticmethod
    def _existing(
        conn: sqlite3.Connection, account_id: str, rows: list[dict[str, str]]
    ) -> dict[str, _Entry]:
        """The account's contacts named by ``rows``, keyed as ``_key`` keys them."""
        found: dict[str, _Entry] = {}
        emails = list({v["email"].lower() for v in rows if "email" in v})
        for start in range(0, len(emails), 500):
            part = emails[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in conn.execute(
                f"SELECT contact_id, email_key, data FROM contacts WHERE account_id = ? "  # noqa: S608
                f"AND email_key IN ({marks})",
                (account_id, *part),
            ):
                found[row["email_key"]] = _Entry(row["contact_id"], json.loads(row["data"]), True)
        numbers = {import_rows.sms_address(v["sms_number"]) for v in rows if "email" not in v} - {
            None
        }
        if numbers:
            marks = ",".join("?" * len(numbers))
            # Rare (SMS-only rows), so a scan of the account's contacts is acceptable.
            for row in conn.execute(
                f"SELECT contact_id, data, json_extract(data, '$.sms_channel.dial_code') || "  # noqa: S608
                f"json_extract(data, '$.sms_channel.sms_address') AS sms FROM contacts "
                f"WHERE account_id = ? AND sms IN ({marks})",
                (account_id, *numbers),
            ):
                found["sms:" + row["sms"]] = _Entry(
                    row["contact_id"], json.loads(row["data"]), True
                )
        return found

    @staticmethod
    def _write(
        conn: sqlite3.Connection, account_id: str, entries: list[_Entry], now: float
    ) -> None:
        new = [e for e in entries if not e.existed and e.data]
        ids = ContactStore.insert_many(conn, account_id, [e.data for e in new], now)
        for entry, contact_id in zip(new, ids, strict=True):
            entry.contact_id = contact_id
        ContactStore.update_documents(
            conn, [(e.contact_id, e.data) for e in entries if e.existed and e.contact_id], now
        )


def _key(values: dict[str, str], number: int) -> str:
    if "email" in values:
        return values["email"].lower()
    sms = import_rows.sms_address(values["sms_number"])
    return f"sms:{sms}" if sms else f"row:{number}"


def _unsubscribed(data: dict[str, Any]) -> bool:
    return bool((data.get("email_address") or {}).get("permission_to_send") == "unsubscribed")
