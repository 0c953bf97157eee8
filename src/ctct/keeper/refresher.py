"""One due grant, kept: re-read, re-planned, refreshed through the usual engine.

The claim that brought the grant here only scheduled it; the refresh itself is the
TokenManager's lease + compare-and-swap path, the same as any worker's, so a keeper and
a worker never refresh one version twice. Before refreshing, the grant is re-read and
re-planned: a worker (or another replica) that refreshed in the meantime makes the
grant not due any more, and it is just rescheduled. The refresh asks for "valid longer
than the token just read" rather than "refresh now", so even a refresh that lands
between that read and the lease is not repeated.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from ctct._manager import TokenManager
from ctct._refresh import RefreshPolicy, decode
from ctct._tokens import TokenSet
from ctct.errors import (
    AuthorizationRequired,
    ClientRejected,
    CtctError,
    NetworkError,
    StoreError,
    TransientProviderError,
)
from ctct.keeper import events
from ctct.keeper.apps import App, AppRegistry
from ctct.keeper.capacity import Budget
from ctct.keeper.config import KeeperConfig
from ctct.keeper.metrics import KeeperMetrics
from ctct.keeper.schedule import Planned, Policy, Reason, Timing, plan
from ctct.keeper.states import LoginReason, State, infer_login_reason
from ctct.stores import AccountState, GrantKey, Record, Store

log = logging.getLogger("ctct.keeper")

RETRY_FIRST = 5.0
RETRY_MAX = 300.0
UNCONFIGURED_RETRY = 300.0
EARLY = 1.0  # a plan due within this many seconds counts as due now


@dataclass(frozen=True)
class Result:
    """What keeping one grant did; ``next_due`` None means: not scheduled any more."""

    outcome: str  # ok, skipped, transient, rejected, app_error, stopped, gone, unconfigured
    next_due: float | None
    trigger: str = "access"
    # This replica's refresh was answered and saved, whatever came after it: the
    # attempts counter must match the token endpoint's own count of successes.
    saved: bool = False


class Refresher:
    """Keeps single grants; shared by the keeper's worker threads."""

    def __init__(
        self,
        *,
        store: Store,
        apps: AppRegistry,
        config: Callable[[], KeeperConfig],
        http: httpx2.Client,
        metrics: KeeperMetrics,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        shed: Callable[[GrantKey], bool] = lambda key: False,
    ) -> None:
        self.store = store
        self.apps = apps
        self.config = config
        self.http = http
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.is_shed = shed
        self._retry: dict[GrantKey, float] = {}

    # -- planning ---------------------------------------------------------------------------

    def timing(self) -> Timing:
        cfg = self.config()
        worker = RefreshPolicy()
        guard = cfg.max_rate_wait + cfg.http_timeout + cfg.tick
        return Timing(
            guard=guard,
            worker_margin=worker.margin,
            max_fraction=worker.max_fraction,
            keep_alive_interval=cfg.keep_alive_interval,
            idle_margin=cfg.idle_margin,
        )

    def policy_of(self, key: GrantKey) -> Policy:
        policy, _ = self.config().policy_for(key.profile)
        if policy is Policy.KEEP_FRESH and self.is_shed(key):
            return Policy.KEEP_ALIVE
        return policy

    def plan(self, key: GrantKey, tokens: TokenSet, app: App, now: float) -> Planned | None:
        return plan(
            tokens,
            ident=key.digest(),
            policy=self.policy_of(key),
            timing=self.timing(),
            idle_ttl=app.provider.refresh_token_idle_ttl,
            now=now,
        )

    # -- keeping one grant ------------------------------------------------------------------

    def keep(self, key: GrantKey) -> Result:
        started = time.monotonic()
        try:
            result = self._keep(key)
        except StoreError as error:
            log.warning("keeping %s: the store failed: %s", key.profile, error.message)
            result = Result("transient", self.clock() + self._backoff(key), "now")
        label = "ok" if result.saved else _result_label(result.outcome)
        self.metrics.refresh_attempts.labels(label, result.trigger).inc()
        if result.outcome in ("ok", "transient", "rejected", "app_error"):
            self.metrics.refresh_duration.observe(time.monotonic() - started)
        return result

    def _keep(self, key: GrantKey) -> Result:
        now = self.clock()
        app = self.apps.for_key(key)
        if app is None:
            self._set_state(key, State.APP_ERROR, "unconfigured", now)
            return Result("unconfigured", now + UNCONFIGURED_RETRY, "now")
        state = self.store.load_state(key)
        if state is not None and State.parse(state.code) in (
            State.PAUSED,
            State.NEEDS_LOGIN,
            State.DISCONNECTED,
        ):
            return Result("stopped", None, "now")
        record = self.store.load(key)
        if record is None:
            return Result("gone", None, "now")
        tokens = decode(record).tokens  # on this host's clock, whoever wrote it
        planned = self.plan(key, tokens, app, now)
        if planned is None:
            self._needs_login(key, state, LoginReason.NO_REFRESH_TOKEN, now)
            return Result("rejected", None, "now")
        trigger = planned.reason.value
        if planned.at > now + EARLY:
            return Result("skipped", planned.at, trigger)
        if not self.apps.may_call(app, now):
            self._set_state(key, State.APP_ERROR, "invalid_client", now, quiet=True)
            return Result("app_error", max(app.blocked_until, now + 1.0), trigger)
        self._pace(app)
        marks: list[str] = []
        manager = self._manager(key, app, marks)
        try:
            fresh = self._refresh(manager, tokens, planned, record)
        except ClientRejected:
            if self.apps.block(app, self.clock()):
                log.error(
                    "the token endpoint refused the credentials of client %s (invalid_client):"
                    " its secret was regenerated or revoked; refreshing stops for its accounts"
                    " until the secret works again",
                    app.config.client_id,
                )
                events.emit(self.store, "app_error", None, now, {"client_id": key.client_id})
            self._set_state(key, State.APP_ERROR, "invalid_client", now)
            return Result("app_error", app.blocked_until, trigger)
        except AuthorizationRequired as error:
            reason = _login_reason(error, tokens, app, self.clock())
            self._needs_login(key, state, reason, now)
            return Result("rejected", None, trigger)
        except (TransientProviderError, NetworkError) as error:
            self._count(error, marks)
            return self._transient(key, tokens, state, error, trigger)
        except CtctError as error:  # e.g. a token that fails verification
            log.warning("keeping %s failed: %s", key.profile, error.message)
            return self._transient(key, tokens, state, error, trigger)
        self._count(None, marks)
        if self.apps.unblock(app):
            log.info("client %s works again", app.config.client_id)
            events.emit(self.store, "recovered", None, now, {"client_id": key.client_id})
        self._retry.pop(key, None)
        after = self.clock()
        if "saved" in marks:
            self.metrics.refresh_lead.observe(max(0.0, (tokens.expires_at or after) - after))
        previous = State.parse(state.code) if state is not None else None
        wanted = State.SHED if self.is_shed(key) else State.OK
        if previous is not wanted:
            shed_reason = "shed: over capacity" if wanted is State.SHED else ""
            self._set_state(key, wanted, shed_reason, now)
            if previous in (State.APP_ERROR, State.AT_RISK, State.NEEDS_LOGIN):
                events.emit(self.store, "recovered", key, now, {"previous": previous.value})
        saved = "saved" in marks
        replanned = self.plan(key, fresh, app, after)
        if replanned is None:
            return Result("rejected", None, trigger, saved=saved)
        if replanned.at <= after + EARLY:
            # Nothing newer could be had (the engine is backing off): try again later.
            return Result("transient", after + self._backoff(key), trigger, saved=saved)
        # "ok" only when this replica's refresh was answered and saved ("saved" mark);
        # otherwise another holder's refresh satisfied it.
        return Result("ok" if saved else "skipped", replanned.at, trigger, saved=saved)

    def _count(self, error: CtctError | None, marks: list[str]) -> None:
        if "conflict" in marks:
            self.metrics.cas_conflicts.inc()
        code = error.code if error is not None else None
        if code in ("rate_limited", "too_many_requests"):
            self.metrics.throttled.inc()
        elif code == "lease_expired":
            self.metrics.lease_expired.inc()

    def _refresh(
        self, manager: TokenManager, tokens: TokenSet, planned: Planned, record: Record
    ) -> TokenSet:
        now = self.clock()
        if tokens.expires_at is None or tokens.access_token is None or planned.reason is Reason.NOW:
            return manager.refresh(force=tokens.expires_at is None)
        # "Valid for longer than the token we just read": a refresh that another holder
        # made since that read already satisfies it, and nothing is sent.
        return manager.refresh(
            force=False, min_valid=max(0.0, tokens.expires_at - now) + EARLY, known=record
        )

    def _manager(self, key: GrantKey, app: App, marks: list[str]) -> TokenManager:
        cfg = self.config()
        return TokenManager(
            provider=app.provider,
            client=app.client,
            store=self.store,
            profile=key.profile,
            http=self.http,
            clock=self.clock,
            sleep=self.sleep,
            timeout=cfg.http_timeout,
            policy=RefreshPolicy(
                backoff_initial=0.0, backoff_max=0.0, max_rate_wait=cfg.max_rate_wait
            ),
            process_cache=False,
            on_mark=lambda name, at: marks.append(name),
        )

    def _pace(self, app: App) -> None:
        """Take from the keeper's own share before the shared bucket (the engine takes
        that one): the keeper never spends more than ``(1 - headroom) x rate``."""
        rate = app.token_rate
        if rate is None:
            return
        cfg = self.config()
        budget = Budget(rate=rate, margin=cfg.margin, headroom=cfg.headroom)
        bucket = f"keeper:{app.provider.storage_issuer}:{app.config.client_id}"
        while True:
            wait = self.store.acquire_rate(bucket, budget.keeper_rate, 1.0)
            if wait <= 0:
                return
            self.sleep(wait)

    def _transient(
        self,
        key: GrantKey,
        tokens: TokenSet,
        state: AccountState | None,
        error: CtctError,
        trigger: str,
    ) -> Result:
        now = self.clock()
        log.warning("refreshing %s failed for now: %s", key.profile, error.message)
        latest = self.store.load(key)
        current = decode(latest).tokens if latest is not None else tokens
        worker_due = current.refresh_due_at()
        risky = current.expires_at is None or worker_due is None or now >= worker_due - 60
        if risky and (state is None or state.code != State.AT_RISK.value):
            self._set_state(key, State.AT_RISK, error.code or "transient", now)
            events.emit(self.store, "at_risk", key, now, {"reason": error.code or "transient"})
        return Result("transient", now + self._backoff(key), trigger)

    def _backoff(self, key: GrantKey) -> float:
        previous = self._retry.get(key, 0.0)
        delay = min(RETRY_MAX, max(RETRY_FIRST, previous * 2))
        self._retry[key] = delay
        return delay * random.uniform(0.75, 1.25)

    def _needs_login(
        self, key: GrantKey, state: AccountState | None, reason: LoginReason, now: float
    ) -> None:
        already = state is not None and state.code == State.NEEDS_LOGIN.value
        # The engine may have recorded a more precise reason (rotation_lost) itself.
        recorded = self.store.load_state(key)
        if recorded is not None and recorded.code == State.NEEDS_LOGIN.value and recorded.reason:
            reason_text = recorded.reason
        else:
            reason_text = reason.value
            self._set_state(key, State.NEEDS_LOGIN, reason_text, now)
        if not already:
            log.warning("profile %s needs a new login (%s, inferred)", key.profile, reason_text)
            events.emit(self.store, "needs_login", key, now, {"reason": reason_text})

    def _set_state(
        self, key: GrantKey, state: State, reason: str, now: float, *, quiet: bool = False
    ) -> None:
        current = self.store.load_state(key)
        if current is not None and current.code == state.value and current.reason == reason:
            return
        self.store.set_state(key, AccountState(state.value, reason))
        if not quiet:
            log.info("profile %s is now %s %s", key.profile, state.value, reason)


def _login_reason(
    error: AuthorizationRequired, tokens: TokenSet, app: App, now: float
) -> LoginReason:
    if error.code == "rotation_lost":
        return LoginReason.ROTATION_LOST
    if error.code == "no_refresh_token":
        return LoginReason.NO_REFRESH_TOKEN
    deadline = tokens.refresh_token_idle_deadline(app.provider.refresh_token_idle_ttl)
    return infer_login_reason(attempt_in_doubt=False, idle_deadline=deadline, now=now)


def _result_label(outcome: str) -> str:
    return {
        "ok": "ok",
        "transient": "transient",
        "rejected": "rejected",
        "app_error": "app_error",
        "skipped": "skipped",
    }.get(outcome, "skipped")
