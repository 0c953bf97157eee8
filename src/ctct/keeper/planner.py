"""The fleet view, computed by one replica at a time: which grants are not scheduled
yet, which keep-fresh accounts fit the token endpoint, and the figures the metrics and
the status page show.

It holds the *planner* lease while it works, so a fleet of replicas scans the store
once per interval, not once per replica. Scheduling after each refresh is each
refresher's own job; the planner only schedules grants nobody has (new logins, a
store migrated in) and applies shedding decisions.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ctct._refresh import decode
from ctct.keeper import events
from ctct.keeper.apps import AppRegistry
from ctct.keeper.capacity import Budget, Utilization
from ctct.keeper.metrics import FleetSnapshot
from ctct.keeper.presence import PLANNER_KEY as PLANNER_KEY
from ctct.keeper.refresher import Refresher
from ctct.keeper.schedule import Policy, plan, steady_interval
from ctct.keeper.shedding import SHED_REASON, Candidate, decide
from ctct.keeper.states import State
from ctct.stores import AccountState, GrantKey, Store

log = logging.getLogger("ctct.keeper")

STOPPED_STATES = frozenset({State.PAUSED.value, State.NEEDS_LOGIN.value})
CHART_SPAN = 86_400.0
EVERY = 1 << 31  # "all of them", for APIs that take a limit
CHART_POINTS = 500_000


@dataclass
class PlanView:
    """The last scan's results."""

    utilization: dict[str, Utilization] = field(default_factory=dict)
    shed: frozenset[GrantKey] = frozenset()
    upcoming: list[float] = field(default_factory=list)
    """Planned refresh times over the next day (for the plan chart)."""
    snapshot: FleetSnapshot = field(default_factory=FleetSnapshot)
    scanned_at: float = 0.0


class Planner:
    def __init__(
        self,
        store: Store,
        apps: AppRegistry,
        refresher: Refresher,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.apps = apps
        self.refresher = refresher
        self.clock = clock
        self.view = PlanView()
        self._overloaded: set[str] = set()
        self._kept: dict[str, frozenset[str]] = {}

    def scan(self, *, apply: bool = True) -> PlanView:
        """Read every grant, decide shedding, schedule what nobody has (with ``apply``;
        without, only compute: ``ctct keeper plan``)."""
        now = self.clock()
        cfg = self.refresher.config()
        timing = self.refresher.timing()
        states = self.store.states()
        scheduled = dict(self.store.due(limit=EVERY))
        per_app: dict[str, list[Candidate]] = {}
        base: dict[str, float] = {}
        # key, fresh and alive intervals, fresh and alive planned times
        rows: list[tuple[GrantKey, float, float, float, float]] = []
        min_remaining: float | None = None
        counts: Counter[tuple[str, str]] = Counter()
        for key, record in self.store.records():  # paged reads, not one per grant
            if key.issuer.startswith(("ctct:", "login:")):
                continue  # our own bookkeeping keys
            tokens = decode(record).tokens  # on this host's clock, whoever wrote it
            app = self.apps.for_key(key)
            policy, weight = cfg.policy_for(key.profile)
            state = states.get(key)
            counts[(state.code if state else State.OK.value, policy.value)] += 1
            if app is None or tokens.refresh_token is None:
                continue
            idle_ttl = app.provider.refresh_token_idle_ttl
            alive = plan(
                tokens,
                ident=key.digest(),
                policy=Policy.KEEP_ALIVE,
                timing=timing,
                idle_ttl=idle_ttl,
                now=now,
            )
            alive_interval = alive.interval if alive and alive.interval else cfg.keep_alive_interval
            fresh_interval = alive_interval
            alive_at = alive.at if alive is not None else now
            fresh_at = alive_at
            if policy is Policy.KEEP_FRESH and tokens.lifetime:
                fresh = plan(
                    tokens,
                    ident=key.digest(),
                    policy=Policy.KEEP_FRESH,
                    timing=timing,
                    idle_ttl=idle_ttl,
                    now=now,
                )
                fresh_at = fresh.at if fresh is not None else now
                worker_due = tokens.refresh_due_at(
                    margin=timing.worker_margin, max_fraction=timing.max_fraction
                )
                assert worker_due is not None
                cycle = (worker_due - timing.guard) - tokens.received_at
                fresh_interval = steady_interval(cycle) if cycle > 0 else tokens.lifetime
                per_app.setdefault(key.client_id, []).append(
                    Candidate(
                        key.profile + "\x00" + key.issuer,
                        tokens.obtained_at,
                        max(fresh_interval, 1e-3),
                        max(alive_interval, 1e-3),
                        weight,
                    )
                )
                if tokens.expires_at is not None and (
                    state is None or state.code not in STOPPED_STATES
                ):
                    remaining = tokens.expires_at - now
                    min_remaining = (
                        remaining if min_remaining is None else min(min_remaining, remaining)
                    )
            else:
                base[key.client_id] = base.get(key.client_id, 0.0) + 1.0 / max(alive_interval, 1e-3)
            rows.append((key, fresh_interval, alive_interval, fresh_at, alive_at))
        shed: set[GrantKey] = set()
        utilization: dict[str, Utilization] = {}
        for app in self.apps.all():
            client_id = app.config.client_id
            rate = app.token_rate
            if rate is None:
                continue
            budget = Budget(rate=rate, margin=cfg.margin, headroom=cfg.headroom)
            candidates = per_app.get(client_id, [])
            decision = decide(
                candidates,
                budget.keeper_rate,
                base.get(client_id, 0.0),
                self._kept_before(client_id, candidates, states),
            )
            if apply:
                self._kept[client_id] = decision.kept
            utilization[client_id] = Utilization(client_id, decision.demand, budget.keeper_rate)
            needed = Utilization(client_id, decision.needed, budget.keeper_rate)
            for name in decision.shed:
                profile, _, issuer = name.partition("\x00")
                shed.add(GrantKey(profile, issuer, client_id))
            if apply:
                self._report_overload(client_id, needed, len(decision.shed), now)
            elif needed.overloaded:
                self._overloaded.add(client_id)
        if apply:
            self.view.shed = frozenset(shed)  # refreshers plan shed accounts as keep-alive
        horizon = now + CHART_SPAN
        upcoming: list[float] = []
        offset = self.store.now() - now  # due times are on the store's clock
        for key, fresh_every, alive_every, fresh_at, alive_at in rows:
            state = states.get(key)
            code = state.code if state else None
            if code in STOPPED_STATES:
                continue
            if apply:
                first = (alive_at if key in shed else fresh_at) + offset
                self._apply(key, code, key in shed, key in scheduled, now, first)
            every = alive_every if key in shed else fresh_every
            at = scheduled.get(key, now)
            while at < horizon and len(upcoming) < CHART_POINTS:
                upcoming.append(at)
                at += max(every, 1.0)
        view = PlanView(
            utilization=utilization,
            shed=frozenset(shed),
            upcoming=sorted(upcoming),
            snapshot=FleetSnapshot(
                accounts=dict(counts),
                utilization={c: u.ratio for c, u in utilization.items()},
                overloaded={c: c in self._overloaded for c in utilization},
                min_access_remaining=min_remaining,
                outbox_dead=len(self.store.dead_events()),
            ),
            scanned_at=now,
        )
        if apply:
            self.view = view
        return view

    def _apply(
        self, key: GrantKey, code: str | None, shed: bool, scheduled: bool, now: float, at: float
    ) -> None:
        """Shed or unshed ``key``; schedule it at ``at`` (store clock) if nobody has: a
        new login, or a store the keeper has not seen. (Scheduled at its planned time,
        not now: 50,000 new grants must not all be claimed at once only to be told
        "not yet".)"""
        if shed and code != State.SHED.value:
            self.store.set_state(key, AccountState(State.SHED.value, SHED_REASON))
            events.emit(self.store, "shed", key, now, {"reason": SHED_REASON})
        elif not shed and code == State.SHED.value:
            self.store.set_state(key, AccountState(State.OK.value, ""))
        if not scheduled:
            self.store.schedule(key, at)

    def _kept_before(
        self, client_id: str, candidates: list[Candidate], states: dict[GrantKey, AccountState]
    ) -> frozenset[str] | None:
        """The kept set of the previous decision: ours, or (when the planner lease moved
        here) the one the store's ``shed`` states record; None on a first decision."""
        if client_id in self._kept:
            return self._kept[client_id]
        shed = set()
        for candidate in candidates:
            profile, _, issuer = candidate.profile.partition("\x00")
            state = states.get(GrantKey(profile, issuer, client_id))
            if state is not None and state.code == State.SHED.value:
                shed.add(candidate.profile)
        if not shed:
            return None
        return frozenset(c.profile for c in candidates) - shed

    def _report_overload(self, client_id: str, needed: Utilization, shed: int, now: float) -> None:
        if needed.overloaded:
            if client_id not in self._overloaded:
                self._overloaded.add(client_id)
                log.error(
                    "OVERLOAD: %s; keeping every refresh token alive, shedding %d keep-fresh "
                    "account(s) to keep-alive",
                    needed.describe(),
                    shed,
                )
                events.emit(
                    self.store,
                    "overload",
                    None,
                    now,
                    {
                        "client_id": client_id,
                        "needed_per_day": round(needed.demand * 86_400),
                        "capacity_per_day": math.floor(needed.capacity * 86_400),
                        "shed": shed,
                    },
                )
        elif client_id in self._overloaded:
            self._overloaded.discard(client_id)
            log.warning("client %s fits the token endpoint again: %s", client_id, needed.describe())
