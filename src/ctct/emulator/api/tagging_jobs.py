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


class CustomFieldDeleteJob:
    """Payload ``{"custom_field_ids": [...]}``: remove the fields' values from the
    account's contacts a chunk at a time, then delete the fields."""

    @staticmethod
    def _holders(ids: list[str]) -> str:
        marks = ",".join("?" * len(ids))
        return (
            "EXISTS (SELECT 1 FROM json_each(c.data, '$.custom_fields') f "  # noqa: S608
            f"WHERE f.value ->> 'custom_field_id' IN ({marks}))"
        )

    def start(self, ctx: JobContext) -> None:
        ids: list[str] = ctx.payload["custom_field_ids"]
        total = ctx.conn.execute(
            f"SELECT COUNT(*) AS n FROM contacts c WHERE c.account_id = ? AND {self._holders(ids)}",  # noqa: S608
            (ctx.activity.account_id, *ids),
        ).fetchone()["n"]
        ctx.activity.status.update(items_total_count=total, items_completed_count=0)

    def step(self, ctx: JobContext) -> bool:
        activity = ctx.activity
        ids: list[str] = ctx.payload["custom_field_ids"]
        rows = ctx.conn.execute(
            f"SELECT c.seq, c.contact_id, c.data FROM contacts c WHERE c.account_id = ? "  # noqa: S608
            f"AND c.seq > ? AND {self._holders(ids)} ORDER BY c.seq LIMIT ?",
            (activity.account_id, activity.position, *ids, ctx.chunk_size),
        ).fetchall()
        updates = []
        for row in rows:
            data = json.loads(row["data"])
            data["custom_fields"] = [
                f for f in data.get("custom_fields", []) if f["custom_field_id"] not in ids
            ]
            updates.append((encode_document(data), row["contact_id"]))
        ctx.conn.executemany("UPDATE contacts SET data = ? WHERE contact_id = ?", updates)
        if rows:
            activity.position = rows[-1]["seq"]
            activity.status["items_completed_count"] += len(rows)
        if len(rows) < ctx.chunk_size:
            ctx.conn.executemany(
                "DELETE FROM custom_fields WHERE account_id = ? AND custom_field_id = ?",
                [(activity.account_id, i) for i in ids],
            )
            return True
        return False
