"""Delivering partner webhook notifications: a POST of JSON to the subscription's
``hook_uri``, on a background thread, so the request that caused it is not held up.

Every delivery is recorded (what was sent, where, and the receiver's status or the
error), for ``GET /__emulator/webhooks``. CC retries a failed notification every minute
for an hour; the emulator tries once and records the failure.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import httpx2

from ctct.emulator.clock import Clock

TIMEOUT_SECONDS: Final = 5.0
MAX_RECORDS: Final = 1_000  # the oldest are dropped past this


class WebhookOutbox:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []

    def deliver(self, hook_uri: str, topic_id: int, body: dict[str, Any]) -> None:
        record: dict[str, Any] = {
            "topic_id": topic_id,
            "hook_uri": hook_uri,
            "body": body,
            "sent_at": self.clock.now(),
            "status": None,
            "error": None,
        }
        thread = threading.Thread(
            target=self._post, args=(record,), name="ctct-emulator-webhook", daemon=True
        )
        with self._lock:
            self._records.append(record)
            del self._records[:-MAX_RECORDS]
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    @staticmethod
    def _post(record: dict[str, Any]) -> None:
        try:
            response = httpx2.post(record["hook_uri"], json=record["body"], timeout=TIMEOUT_SECONDS)
            record["status"] = response.status_code
        except httpx2.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"

    def records(self, wait: bool = False) -> list[dict[str, Any]]:
        """Deliveries so far (``wait``: first let those under way finish)."""
        if wait:
            with self._lock:
                threads = list(self._threads)
            for thread in threads:
                thread.join(TIMEOUT_SECONDS + 1)
        with self._lock:
            return [dict(r) for r in self._records]

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
