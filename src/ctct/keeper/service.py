"""The keeper's scheduling loop: claim due grants, keep them, reschedule; one tick at a
time, whatever the store does.

Every replica runs the same loop with no leader. Each tick it claims due grants (the
store hands each to one replica), keeps them on a bounded pool of threads, and writes
each grant's next due time. One replica at a time (whoever holds the *planner* lease)
also scans the fleet every ``replan_interval`` (shedding, new grants, fleet metrics). A
store that is down makes ticks fail and be retried; the loop itself keeps beating, so
``/livez`` stays green and Kubernetes does not restart every replica during a database
outage.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx2

from ctct.keeper.apps import AppRegistry
from ctct.keeper.config import ConfigWatcher, KeeperConfig
from ctct.keeper.delivery import Deliverer
from ctct.keeper.metrics import KeeperMetrics
from ctct.keeper.ops import Heartbeat
from ctct.keeper.planner import PLANNER_KEY, Planner
from ctct.keeper.refresher import Refresher, Result
from ctct.stores import GrantKey, Lease, Store
from ctct.stores.base import LeaseLost, StoreLockTimeout

log = logging.getLogger("ctct.keeper")

CLAIM_SLACK = 60.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Keeper:
    """One replica. ``run()`` until ``stop()``; or ``tick()`` by hand in tests."""

    def __init__(
        self,
        watcher: ConfigWatcher,
        store: Store,
        *,
        http: httpx2.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        worker: str | None = None,
    ) -> None:
        self.watcher = watcher
        self.store = store
        self.clock = clock
        self.worker = worker or worker_name()
        self.http = http or httpx2.Client(timeout=self.config.http_timeout)
        self.metrics = KeeperMetrics()
        self.heartbeat = Heartbeat(self.config.tick, started=time.monotonic())
        self.apps = AppRegistry.build(self.config, self.http)
        self.refresher = Refresher(
            store=store,
            apps=self.apps,
            config=lambda: self.config,
            http=self.http,
            metrics=self.metrics,
            clock=clock,
            sleep=sleep,
            shed=lambda key: key in self.planner.view.shed,
        )
        self.planner = Planner(store, self.apps, self.refresher, clock)
        self.deliverer = Deliverer(
            store, self.worker, lambda: self.config, self.metrics, clock=clock
        )
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="ctct-keeper")
        self._in_flight: dict[GrantKey, Future[Result]] = {}
        self._lock = threading.Lock()
        self._planner_lease: Lease | None = None
        self._scanning: threading.Thread | None = None
        self._room = threading.Event()
        self._last_free = 0
        self._last_scan = float("-inf")
        self._offset = 0.0  # store server clock minus ours
        self._stop = threading.Event()
        self.store_ok = False
        self.last_error: str | None = None

    @property
    def config(self) -> KeeperConfig:
        return self.watcher.config

    # -- one tick ---------------------------------------------------------------------------

    def tick(self) -> int:
        """Claim and dispatch due grants; returns how many were dispatched."""
        self.heartbeat.beat()
        self.metrics.ticks.inc()
        self.metrics.last_tick.set(time.time())
        started = time.perf_counter()
        try:
            self._reload_config()
            self._offset = self.store.now() - self.clock()
            self._plan_if_due()
            dispatched = self._claim_and_dispatch()
            self._note_store(True)
        except Exception as error:  # a store outage, say: the loop must keep beating
            self._note_store(False, error)
            dispatched = 0
        self.metrics.tick_duration.observe(time.perf_counter() - started)
        return dispatched

    def _note_store(self, ok: bool, error: BaseException | None = None) -> None:
        if ok != self.store_ok and not ok:
            log.error("the store is failing (%s); retrying every tick", type(error).__name__)
        elif ok != self.store_ok and ok:
            log.info("the store answers")
        self.store_ok = ok
        self.last_error = None if error is None else type(error).__name__
        self.metrics.store_up.set(1.0 if ok else 0.0)

    def _reload_config(self) -> None:
        try:
            changed = self.watcher.poll()
        except Exception as error:
            log.error(
                "the keeper configuration could not be reloaded (kept the old one): %s", error
            )
            return
        if changed:
            log.info("configuration reloaded: %d app(s)", len(self.config.apps))
            self.apps.reload(self.config, self.http)

    def _plan_if_due(self) -> None:
        """Hold the planner lease (renewed every tick) and start a scan when one is due.

        The scan runs in a thread of its own: reading 50,000 grants takes seconds, and
        the loop must go on claiming and beating meanwhile."""
        if not self._hold_planner():
            self.metrics.fleet.publish(None)
            return
        now = time.monotonic()
        if now - self._last_scan < self.config.replan_interval:
            return
        scanning = self._scanning
        if scanning is not None and scanning.is_alive():
            return
        self._last_scan = now
        self._scanning = threading.Thread(
            target=self._scan, name="ctct-keeper-planner", daemon=True
        )
        self._scanning.start()

    def _scan(self) -> None:
        try:
            view = self.planner.scan()
        except Exception as error:  # the next interval tries again
            log.warning("the planner's scan failed: %s", type(error).__name__)
            return
        if self._planner_lease is not None:
            self.metrics.fleet.publish(view.snapshot)

    def _hold_planner(self) -> bool:
        duration = max(30.0, 3 * self.config.tick)
        lease = self._planner_lease
        if lease is not None:
            try:
                lease.renew(duration)
                return True
            except LeaseLost:
                self._planner_lease = None
        try:
            self._planner_lease = self.store.lease(PLANNER_KEY, duration=duration, timeout=0)
            self._last_scan = float("-inf")
            return True
        except StoreLockTimeout:
            return False

    def _wait_for_room(self) -> None:
        deadline = time.monotonic() + self.config.tick
        while time.monotonic() < deadline and not self._stop.is_set():
            with self._lock:
                if len(self._in_flight) < self.config.concurrency:
                    return
            self._room.wait(0.05)
            self._room.clear()

    def _claim_and_dispatch(self) -> int:
        with self._lock:
            free = self.config.concurrency * 2 - len(self._in_flight)
        self._last_free = free
        if free <= 0:
            return 0
        claim_for = self.refresher.timing().guard + CLAIM_SLACK
        claims = self.store.claim_due(self.worker, limit=free, claim_for=claim_for)
        for claim in claims:
            with self._lock:
                if claim.key in self._in_flight:
                    continue
                future = self._pool.submit(self.refresher.keep, claim.key)
                self._in_flight[claim.key] = future
            future.add_done_callback(functools.partial(self._done, claim.key))
        return len(claims)

    def _done(self, key: GrantKey, future: Future[Result]) -> None:
        with self._lock:
            self._in_flight.pop(key, None)
        self._room.set()
        try:
            result = future.result()
        except Exception as error:
            log.exception("keeping %s failed unexpectedly", key.profile)
            result = Result("transient", self.clock() + 30.0, "now")
            del error
        due = None if result.next_due is None else result.next_due + self._offset
        try:
            self.store.schedule(key, due)
        except Exception as error:  # the next planner scan puts it back
            log.warning("could not reschedule %s: %s", key.profile, type(error).__name__)

    # -- running ----------------------------------------------------------------------------

    def run(self) -> None:
        log.info("keeper %s started (tick %g s)", self.worker, self.config.tick)
        self.deliverer.start(interval=max(0.2, self.config.tick))
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                claimed = self.tick()
                while claimed and claimed == self._last_free and not self._stop.is_set():
                    # A full batch: more may be due. Claim again as soon as there is room
                    # instead of waiting out the tick (still beating the heartbeat).
                    self._wait_for_room()
                    claimed = self.tick()
                self._stop.wait(max(0.0, self.config.tick - (time.monotonic() - began)))
        finally:
            self.close()

    def start(self) -> Keeper:
        self._thread = threading.Thread(target=self.run, name="ctct-keeper-loop", daemon=True)
        self._thread.start()
        return self

    def stop_soon(self) -> None:
        """Ask the loop to stop after its tick (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=30)

    def close(self) -> None:
        self.deliverer.stop()
        self._pool.shutdown(wait=True, cancel_futures=False)
        if self._planner_lease is not None:
            try:
                self._planner_lease.release()
            except Exception:
                log.debug("releasing the planner lease failed", exc_info=True)
        self.http.close()

    def ready(self) -> tuple[bool, dict[str, str]]:
        """For /readyz: the store answers and the configuration is loaded."""
        checks: dict[str, str] = {}
        try:
            self.store.now()
            checks["store"] = "ok"
        except Exception as error:
            checks["store"] = f"failing: {type(error).__name__}"
        checks["apps"] = f"{len(self.config.apps)} configured" if self.config.apps else "none"
        ok = checks["store"] == "ok" and bool(self.config.apps)
        return ok, checks
