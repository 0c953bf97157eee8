"""The keeper's Prometheus metrics (prometheus-client), named as the docs list them.

Counters and histograms are per replica: summed over replicas they give the fleet's
totals. Gauges that describe the whole fleet (accounts by state, plan utilization, the
shortest access-token life left) are computed from the store, so every replica would
report the same number and a ``sum()`` would multiply it by the replica count: only the
replica holding the *reporter* lease exports them (the others export nothing for those
names), so ``sum()`` and ``max()`` both give the right figure. Labels are bounded:
``client_id``, ``policy``, ``state``, ``result``, ``trigger``, never an account.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REFRESH_RESULTS = ("ok", "transient", "rejected", "app_error", "skipped", "conflict")
TRIGGERS = ("access", "idle", "keep-alive", "now", "manual")


@dataclass
class FleetSnapshot:
    """Fleet-wide figures, read from the store by the reporting replica."""

    accounts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(state, policy) -> count."""
    utilization: Mapping[str, float] = field(default_factory=dict)
    """client_id -> planned / capacity."""
    overloaded: Mapping[str, bool] = field(default_factory=dict)
    min_access_remaining: float | None = None
    """Shortest access-token life left over keep-fresh accounts (seconds)."""
    outbox_dead: int = 0
    outbox_pending: int = 0


class _FleetCollector(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: FleetSnapshot | None = None

    def publish(self, snapshot: FleetSnapshot | None) -> None:
        """``None``: this replica is not the reporter (export nothing fleet-wide)."""
        with self._lock:
            self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snap = self._snapshot
        if snap is None:
            return
        accounts = GaugeMetricFamily(
            "ctct_accounts", "Connected accounts by state and policy.", labels=["state", "policy"]
        )
        for (state, policy), count in sorted(snap.accounts.items()):
            accounts.add_metric([state, policy], count)
        yield accounts
        ratio = GaugeMetricFamily(
            "ctct_plan_utilization_ratio",
            "Planned refreshes over the keeper's share of the token endpoint (1 = full).",
            labels=["client_id"],
        )
        over = GaugeMetricFamily(
            "ctct_plan_overloaded",
            "1 when an application has more keep-fresh accounts than the token endpoint allows.",
            labels=["client_id"],
        )
        for client_id, value in sorted(snap.utilization.items()):
            ratio.add_metric([client_id], value)
            over.add_metric([client_id], 1.0 if snap.overloaded.get(client_id) else 0.0)
        yield ratio
        yield over
        if snap.min_access_remaining is not None:
            yield GaugeMetricFamily(
                "ctct_access_token_min_remaining_seconds",
                "Shortest access-token life left over keep-fresh accounts.",
                value=snap.min_access_remaining,
            )
        pending = GaugeMetricFamily(
            "ctct_webhook_outbox_events", "Events waiting in the outbox.", labels=["status"]
        )
        pending.add_metric(["pending"], snap.outbox_pending)
        pending.add_metric(["dead"], snap.outbox_dead)
        yield pending


class KeeperMetrics:
    """One registry per keeper (tests run several keepers in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.refresh_attempts = Counter(
            "ctct_refresh_attempts",
            "Refreshes the keeper attempted, by result and by what made it due.",
            ["result", "trigger"],
            registry=r,
        )
        self.refresh_duration = Histogram(
            "ctct_refresh_duration_seconds",
            "Time from claiming a due grant to its saved refresh.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.refresh_lead = Histogram(
            "ctct_refresh_lead_seconds",
            "How long before its access token's expiry a keep-fresh grant was refreshed.",
            buckets=(1, 5, 10, 30, 60, 300, 900, 1_800, 3_600, 7_200, 21_600, 43_200, 86_400),
            registry=r,
        )
        self.throttled = Counter(
            "ctct_token_endpoint_throttled",
            "Token-endpoint answers of 429, or waits refused by the shared limiter.",
            registry=r,
        )
        self.cas_conflicts = Counter(
            "ctct_cas_conflicts", "Saves that lost their compare-and-swap.", registry=r
        )
        self.lease_expired = Counter(
            "ctct_lease_expired",
            "Refreshes abandoned because the lease had too little time left.",
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "ctct_webhook_deliveries",
            "Event deliveries by result (ok, retry, dead).",
            ["result"],
            registry=r,
        )
        self.ticks = Counter("ctct_keeper_ticks", "Scheduling ticks this replica ran.", registry=r)
        self.tick_duration = Histogram(
            "ctct_keeper_tick_duration_seconds",
            "Time one scheduling tick took (claim, plan, dispatch).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.last_tick = Gauge(
            "ctct_keeper_last_tick_timestamp_seconds",
            "When this replica's scheduling loop last ticked.",
            registry=r,
        )
        self.store_up = Gauge(
            "ctct_keeper_store_up", "1 when the last store call succeeded.", registry=r
        )
        self.fleet = _FleetCollector()
        r.register(self.fleet)
        for result in REFRESH_RESULTS:
            for trigger in TRIGGERS:
                self.refresh_attempts.labels(result, trigger)
        for result in ("ok", "retry", "dead"):
            self.webhook_deliveries.labels(result)
