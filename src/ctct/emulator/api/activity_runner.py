"""Runs bulk activities off the request path, in chunks, on a worker thread.

A request that starts an activity only queues it (``ActivityStore.create``) and calls
``wake``. The worker takes the oldest unfinished activity and advances it one step at a
time: the first step marks it ``processing`` (the job sizes its work), each later step
does one chunk (``chunk_size`` items) and commits it together with the progress, so
requests keep being answered between chunks and a restart resumes where work stopped.

The worker thread exists only while there is work: it ends when nothing is pending, and
``wake`` starts a new one. Tests can ``pause`` it and ``step`` by hand to observe every
state deterministically.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ctct.emulator.api.activity_store import Activity, ActivityStore
from ctct.emulator.clock import Clock
from ctct.emulator.db import Database

# Small enough that a chunk holds the database for a few tens of milliseconds.
DEFAULT_CHUNK_SIZE = 500
# Pause between chunks so request threads get the database lock (it is not fair).
_BREATHER_SECONDS = 0.001


@dataclass
class JobContext:
    """What a job step works with: the open transaction, the activity (updated in
    place), its immutable payload, the emulated time and the chunk size."""

    conn: sqlite3.Connection
    activity: Activity
    payload: dict[str, Any]
    now: float
    chunk_size: int


class Job(Protocol):
    """One kind of activity (``list_delete``, ``contacts_json_import``...)."""

    def start(self, ctx: JobContext) -> None:
        """Size the work: set ``status`` counters (``items_total_count``...)."""

    def step(self, ctx: JobContext) -> bool:
        """Do the next chunk from ``ctx.activity.position``; True when all is done."""


class ActivityRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        jobs: dict[str, Job],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.jobs = jobs
        self.chunk_size = chunk_size
        self._lock = threading.Lock()  # guards the fields below
        self._step_lock = threading.Lock()  # one step at a time, thread or caller
        self._thread: threading.Thread | None = None
        self._paused = False
        self._closed = False
        self._cache: tuple[str, dict[str, Any]] | None = None  # the current payload

    # -- control --------------------------------------------------------------------------

    def wake(self) -> None:
        """Make sure a worker runs if there is work (call after queueing an activity)."""
        with self._lock:
            if self._thread is not None or self._paused or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name="ctct-emulator-activities", daemon=True
            )
            self._thread.start()

    def pause(self) -> None:
        """Stop the worker after its current step; queued activities wait for ``resume``."""
        with self._lock:
            self._paused = True
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self.wake()

    @property
    def paused(self) -> bool:
        return self._paused

    def close(self) -> None:
        """Stop the worker for good (the emulator is shutting down)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def drain(self) -> int:
        """Run every pending activity to the end in the calling thread; returns steps."""
        steps = 0
        while self.step():
            steps += 1
        return steps

    # -- work -------------------------------------------------------------------------------

    def step(self) -> bool:
        """Advance the oldest unfinished activity by one step; False if none is pending."""
        with self._step_lock, self.db.transaction() as conn:
            activity = ActivityStore.next_pending(conn)
            if activity is None:
                self._cache = None
                return False
            ctx = JobContext(
                conn, activity, self._payload(conn, activity), self.clock.now(), self.chunk_size
            )
            self._advance(ctx)
            activity.updated_at = ctx.now
            ActivityStore.save(conn, activity)
            if activity.state not in ("initialized", "processing"):
                self._cache = None
            return True

    def _advance(self, ctx: JobContext) -> None:
        activity = ctx.activity
        job = self.jobs.get(activity.kind)
        # A savepoint, so a failing job leaves no half-done chunk behind.
        ctx.conn.execute("SAVEPOINT job_step")
        try:
            if job is None:
                raise LookupError(f"no job handles {activity.kind!r} activities")
            if activity.state == "initialized":
                activity.state = "processing"
                activity.started_at = ctx.now
                job.start(ctx)
            elif job.step(ctx):
                activity.state = "completed"
                activity.completed_at = ctx.now
            ctx.conn.execute("RELEASE job_step")
        except Exception as exc:  # a job's bug must not stop every later activity
            ctx.conn.execute("ROLLBACK TO job_step")
            ctx.conn.execute("RELEASE job_step")
            activity.state = "failed"
            activity.completed_at = ctx.now
            activity.errors.append(f"The activity failed: {type(exc).__name__}: {exc}")

    def _payload(self, conn: sqlite3.Connection, activity: Activity) -> dict[str, Any]:
        # Parsing a 40,000-row payload for every chunk would cost more than the chunk.
        if self._cache is None or self._cache[0] != activity.activity_id:
            self._cache = (activity.activity_id, ActivityStore.payload(conn, activity.activity_id))
        return self._cache[1]

    def _has_pending(self) -> bool:
        row = self.db.query_one(
            "SELECT 1 FROM activities WHERE state IN ('initialized', 'processing') LIMIT 1"
        )
        return row is not None

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._paused or self._closed:
                        self._thread = None
                        return
                if not self.step():
                    with self._lock:
                        # Checked under the lock: ``wake`` runs after its activity is
                        # committed, so either we see it here or ``wake`` sees no thread.
                        if self._has_pending() and not (self._paused or self._closed):
                            continue
                        self._thread = None
                        return
                time.sleep(_BREATHER_SECONDS)
        except sqlite3.ProgrammingError:  # the emulator closed its database under us
            with self._lock:
                self._thread = None
