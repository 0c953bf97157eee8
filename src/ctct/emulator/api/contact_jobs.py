"""Activities over a selection of contacts: ``add_list_memberships``,
``remove_list_memberships``, ``contact_delete`` and ``contact_exports``.

Each walks its ``selection`` (see ``selection.py``) a chunk at a time; ``start`` counts
the contacts (``items_total_count``) and reports ``contact_ids`` that do not exist.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from typing import Final

from ctct import _cc
from ctct.emulator.api.activity_runner import JobContext
from ctct.emulator.api.export_rows import export_row
from ctct.emulator.api.list_store import ListStore
from ctct.emulator.api.selection import Selection
from ctct.emulator.db import register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS contact_export_parts (
        file_export_id TEXT NOT NULL,
        part INTEGER NOT NULL,
        content TEXT NOT NULL,
        PRIMARY KEY (file_export_id, part)
    ) WITHOUT ROWID;
    """
)

EXPORT_TABLES: Final = ["contact_export_parts"]


class SelectionJob:
    """Walks the payload's ``selection``; subclasses ``apply`` each chunk."""

    def start(self, ctx: JobContext) -> None:
        selection = Selection.from_json(ctx.payload["selection"])
        account_id = ctx.activity.account_id
        for missing in selection.unknown_contacts(ctx.conn, account_id):
            ctx.activity.errors.append(f"Contact {missing} was not found.")
        ctx.activity.status.update(
            items_total_count=selection.count(ctx.conn, account_id), items_completed_count=0
        )
        self.started(ctx)

    def started(self, ctx: JobContext) -> None:
        """After sizing: anything the job does once."""

    def step(self, ctx: JobContext) -> bool:
        selection = Selection.from_json(ctx.payload["selection"])
        activity = ctx.activity
        rows = selection.chunk(ctx.conn, activity.account_id, activity.position, ctx.chunk_size)
        if rows:
            self.apply(ctx, rows)
            activity.position = rows[-1]["seq"]
            activity.status["items_completed_count"] += len(rows)
        if len(rows) < ctx.chunk_size:
            self.finished(ctx)
            return True
        return False

    def apply(self, ctx: JobContext, rows: list[sqlite3.Row]) -> None:
        raise NotImplementedError

    def finished(self, ctx: JobContext) -> None:
        """After the last chunk."""


class MembershipJob(SelectionJob):
    """Payload ``{"selection", "list_ids"}``: add the contacts to the lists, or remove them."""

    def __init__(self, add: bool) -> None:
        self.add = add

    def started(self, ctx: JobContext) -> None:
        ctx.activity.status["list_count"] = len(ctx.payload["list_ids"])

    def apply(self, ctx: JobContext, rows: list[sqlite3.Row]) -> None:
        account_id = ctx.activity.account_id
        # Lists deleted since the request are left alone.
        lists = [i for i in ctx.payload["list_ids"] if ListStore.live(ctx.conn, account_id, i)]
        ids = [r["contact_id"] for r in rows]
        if self.add:
            ListStore.add_members(ctx.conn, lists, ids)
        else:
            ListStore.remove_members(ctx.conn, lists, ids)


class ContactDeleteJob(SelectionJob):
    """Payload ``{"selection"}``: soft-delete the contacts (they can be revived)."""

    def started(self, ctx: JobContext) -> None:
        selection = ctx.payload["selection"]
        ctx.activity.status["list_count"] = len(selection.get("list_ids") or ())

    def apply(self, ctx: JobContext, rows: list[sqlite3.Row]) -> None:
        ctx.conn.executemany(
            "UPDATE contacts SET status = 'deleted', deleted_at = ?, updated_at = ? "
            "WHERE contact_id = ? AND deleted_at IS NULL",
            [(ctx.now, ctx.now, r["contact_id"]) for r in rows],
        )


class ExportJob(SelectionJob):
    """Payload ``{"selection", "fields", "custom_fields"}``: write the CSV a part per chunk;
    it is served at ``/v3/contact_exports/{activity_id}`` once the activity completes."""

    def started(self, ctx: JobContext) -> None:
        self._write(ctx, 0, [ctx.payload["fields"]])

    def apply(self, ctx: JobContext, rows: list[sqlite3.Row]) -> None:
        fields: list[str] = ctx.payload["fields"]
        custom: dict[str, str] = ctx.payload["custom_fields"]
        ids = [r["contact_id"] for r in rows]
        lists = _memberships(ctx.conn, ids) if "list_memberships" in fields else {}
        lines = [
            export_row(fields, r["contact_id"], json.loads(r["data"]), r, custom, lists)
            for r in rows
        ]
        # Parts are numbered by the rows before them (0 is the header): unique, in order.
        self._write(ctx, ctx.activity.status["items_completed_count"] + 1, lines)

    def finished(self, ctx: JobContext) -> None:
        activity_id = ctx.activity.activity_id
        ctx.activity.results_href = f"{_cc.API_BASE_PATH}/contact_exports/{activity_id}"

    @staticmethod
    def _write(ctx: JobContext, part: int, lines: list[list[str]]) -> None:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(lines)
        ctx.conn.execute(
            "INSERT OR REPLACE INTO contact_export_parts(file_export_id, part, content) "
            "VALUES (?, ?, ?)",
            (ctx.activity.activity_id, part, out.getvalue()),
        )


def _memberships(conn: sqlite3.Connection, contact_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    marks = ",".join("?" * len(contact_ids))
    for row in conn.execute(
        f"SELECT contact_id, list_id FROM list_memberships WHERE contact_id IN ({marks}) "  # noqa: S608
        "ORDER BY list_id",
        contact_ids,
    ):
        result.setdefault(row["contact_id"], []).append(row["list_id"])
    return result


def export_file(conn: sqlite3.Connection, file_export_id: str) -> str:
    """The CSV text of an export, its parts joined in order."""
    parts = conn.execute(
        "SELECT content FROM contact_export_parts WHERE file_export_id = ? ORDER BY part",
        (file_export_id,),
    )
    return "".join(p["content"] for p in parts)
