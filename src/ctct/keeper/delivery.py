"""Delivering outbox events to the webhook receiver, at least once.

Events are claimed from the store like refresh work (any replica may deliver any
event), POSTed with Standard Webhooks headers, acknowledged on a 2xx, otherwise retried
with exponential back-off (5 s doubling to an hour, jittered) and, after
``max_attempts``, left in a visible dead-letter state (the status page and
``ctct keeper status`` list them). A redelivery carries the same ``webhook-id``, so a
receiver can drop duplicates; ``data.seq`` orders one account's events. Delivery runs in
its own thread: a receiver that is down never slows refreshing.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable

import httpx2

from ctct.keeper.config import KeeperConfig
from ctct.keeper.events import iso
from ctct.keeper.metrics import KeeperMetrics
from ctct.keeper.webhooks import Signer
from ctct.stores import Event, Store

log = logging.getLogger("ctct.keeper.webhooks")

RETRY_FIRST = 5.0
RETRY_MAX = 3_600.0
BATCH = 20


def body_of(event: Event) -> bytes:
    data = json.loads(event.payload)
    data["seq"] = event.seq
    document = {"type": f"ctct.{event.kind}", "timestamp": iso(event.created_at), "data": data}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> float:
    delay: float = min(RETRY_MAX, RETRY_FIRST * 2.0 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


class Deliverer:
    def __init__(
        self,
        store: Store,
        worker: str,
        config: Callable[[], KeeperConfig],
        metrics: KeeperMetrics,
        *,
        http: httpx2.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.worker = worker
        self.config = config
        self.metrics = metrics
        self.http = http or httpx2.Client(follow_redirects=False)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_once(self) -> int:
        """Claim and deliver one batch; returns how many were claimed."""
        hooks = self.config().webhooks
        if hooks is None:
            return 0
        claimed = self.store.claim_events(self.worker, limit=BATCH, claim_for=hooks.timeout + 30)
        signer = Signer(hooks.secrets)
        for event in claimed:
            body = body_of(event)
            headers = signer.headers(event.id, self.clock(), body)
            try:
                answer = self.http.post(
                    hooks.url, content=body, headers=headers, timeout=hooks.timeout
                )
                ok = 200 <= answer.status_code < 300
                why = f"HTTP {answer.status_code}"
            except httpx2.HTTPError as error:
                ok, why = False, type(error).__name__
            if ok:
                self.store.ack_event(event.id, self.worker)
                self.metrics.webhook_deliveries.labels("ok").inc()
                continue
            status = self.store.retry_event(
                event.id,
                self.worker,
                delay=retry_delay(event.attempts + 1),
                max_attempts=hooks.max_attempts,
            )
            if status == "dead":
                self.metrics.webhook_deliveries.labels("dead").inc()
                log.error(
                    "event %s (%s) could not be delivered after %d attempts (%s): dead-lettered",
                    event.id,
                    event.kind,
                    hooks.max_attempts,
                    why,
                )
            else:
                self.metrics.webhook_deliveries.labels("retry").inc()
                log.warning("delivering event %s failed (%s); will retry", event.id, why)
        return len(claimed)

    def run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliver_once()
            except Exception as error:  # the store is down, say: keep trying
                log.warning("event delivery failed: %s", type(error).__name__)
                busy = 0
            self._stop.wait(0.05 if busy == BATCH else interval)

    def start(self, interval: float) -> Deliverer:
        self._thread = threading.Thread(
            target=self.run, args=(interval,), name="ctct-keeper-webhooks", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
