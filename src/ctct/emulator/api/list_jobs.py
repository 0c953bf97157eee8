"""Activities on lists: ``list_delete`` (``DELETE /contact_lists/{id}``).

Each job follows ``activity_runner.Job``: ``start`` sizes the work, ``step`` does one
chunk from ``activity.position`` and says when it is done.
"""

from __future__ import annotations

from ctct.emulator.api.activity_runner import JobContext
from ctct.emulator.api.list_store import ListStore


class ListDeleteJob:
    """Payload ``{"list_ids": [...]}``: delete each list and its memberships."""

    def start(self, ctx: JobContext) -> None:
        total = len(ctx.payload["list_ids"])
        ctx.activity.status.update(
            items_total_count=total, items_completed_count=0, list_count=total
        )

    def step(self, ctx: JobContext) -> bool:
        activity = ctx.activity
        list_ids: list[str] = ctx.payload["list_ids"]
        chunk = list_ids[activity.position : activity.position + ctx.chunk_size]
        for list_id in chunk:
            # Already deleted (say, by an earlier DELETE of the same list) is not an error.
            ListStore.mark_deleted(ctx.conn, activity.account_id, list_id, ctx.now)
        activity.position += len(chunk)
        activity.status["items_completed_count"] = activity.position
        return activity.position >= len(list_ids)
