"""Activities that edit every selected contact's document: ``contacts_taggings_add`` /
``contacts_taggings_remove`` (tag the selection, or un-tag it) and
``custom_fields_delete`` (drop the fields' values from every contact, then the fields).

Each follows ``activity_runner.Job``: ``start`` sizes the work, ``step`` does one chunk
from ``activity.position`` (the last contact ``seq`` done) and says when it is done.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from ctct.emulator.api.activity_runner import JobContext
from ctct.emulator.api.contact_jobs import SelectionJob
from ctct.emulator.api.contact_store import encode_document

MAX_TAGGINGS: Final = 50  # a contact's taggings (the contract's maxItems)


class TaggingJob(SelectionJob):
    """Payload ``{"selection", "tag_ids"}``: add the tags to, or remove them from, each
    selected contact (a contact already holding 50 tags gets no more: an error says so)."""

    def __init__(self, add: bool) -> None:
        self.add = add

    def apply(self, ctx: JobContext, rows: list[sqlite3.Row]) -> None:
        tag_ids: list[str] = ctx.payload["tag_ids"]
        # Tags deleted since the request are left alone.
        marks = ",".join("?" * len(tag_ids))
        live = {
            r["tag_id"]
            for r in ctx.conn.execute(
                f"SELECT tag_id FROM contact_tags WHERE tag_id IN ({marks})",  # noqa: S608
                tag_ids,
            )
        }
        updates = []
        for row in rows:
            data: dict[str, Any] = json.loads(row["data"])
            taggings: list[str] = data.get("taggings", [])
            if self.add:
                wanted = [t for t in tag_ids if t in live and t not in taggings]
                room = MAX_TAGGINGS - len(taggings)
                if len(wanted) > room:
                    ctx.activity.errors.append(
                        f"Contact {row['contact_id']} already has {len(taggings)} tags; "
                        f"added {max(room, 0)} of {len(wanted)}."
                    )
                    wanted = wanted[: max(room, 0)]
                changed = taggings + wanted
            else:
                changed = [t for t in taggings if t not in tag_ids]
            if changed != taggings:
                data["taggings"] = changed
                updates.append((encode_document(data), ctx.now, row["contact_id"]))
        ctx.conn.executemany(
            "UPDATE contacts SET data = ?, updated_at = ? WHERE contact_id = ?", updates
        )


class DocumentEditJob:
    """Walks the account's contacts that meet ``condition`` a chunk at a time (by
    ``seq``), editing each one's document; ``finish`` runs after the last chunk."""

    def condition(self, ctx: JobContext) -> tuple[str, list[Any]]:
        """SQL over ``contacts c`` selecting the contacts to edit, and its parameters."""
        raise NotImplementedError

    def edit(self, ctx: JobContext, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def finish(self, ctx: JobContext) -> None:
        """After the last chunk."""

    def start(self, ctx: JobContext) -> None:
        where, params = self.condition(ctx)
        total = ctx.conn.execute(
            f"SELECT COUNT(*) AS n FROM contacts c WHERE c.account_id = ? AND {where}",  # noqa: S608
            (ctx.activity.account_id, *params),
        ).fetchone()["n"]
        ctx.activity.status.update(items_total_count=total, items_completed_count=0)

    def step(self, ctx: JobContext) -> bool:
        activity = ctx.activity
        where, params = self.condition(ctx)
        rows = ctx.conn.execute(
            f"SELECT c.seq, c.contact_id, c.data FROM contacts c WHERE c.account_id = ? "  # noqa: S608
            f"AND c.seq > ? AND {where} ORDER BY c.seq LIMIT ?",
            (activity.account_id, activity.position, *params, ctx.chunk_size),
        ).fetchall()
        updates = []
        for row in rows:
            data = json.loads(row["data"])
            self.edit(ctx, data)
            updates.append((encode_document(data), row["contact_id"]))
        ctx.conn.executemany("UPDATE contacts SET data = ? WHERE contact_id = ?", updates)
        if rows:
            activity.position = rows[-1]["seq"]
            activity.status["items_completed_count"] += len(rows)
        if len(rows) < ctx.chunk_size:
            self.finish(ctx)
            return True
        return False


class CustomFieldDeleteJob(DocumentEditJob):
    """Payload ``{"custom_field_ids": [...]}``: remove the fields' values from the
    account's contacts, then delete the fields."""

    def condition(self, ctx: JobContext) -> tuple[str, list[Any]]:
        ids: list[str] = ctx.payload["custom_field_ids"]
        marks = ",".join("?" * len(ids))
        sql = (
            "EXISTS (SELECT 1 FROM json_each(c.data, '$.custom_fields') f "  # noqa: S608
            f"WHERE f.value ->> 'custom_field_id' IN ({marks}))"
        )
        return sql, list(ids)

    def edit(self, ctx: JobContext, data: dict[str, Any]) -> None:
        ids = ctx.payload["custom_field_ids"]
        data["custom_fields"] = [
            f for f in data.get("custom_fields", []) if f["custom_field_id"] not in ids
        ]

    def finish(self, ctx: JobContext) -> None:
        ctx.conn.executemany(
            "DELETE FROM custom_fields WHERE account_id = ? AND custom_field_id = ?",
            [(ctx.activity.account_id, i) for i in ctx.payload["custom_field_ids"]],
        )
