"""Timer mode: refresh in the background, and keep idle refresh tokens alive.

Constant Contact suggests either refreshing just in time (``TokenManager`` does that
on every call) or "on a timer". ``BackgroundRefresher`` is the timer: a daemon thread
(or ``run_refresher`` as an asyncio task) that refreshes a grant shortly before it is
due, so request paths never wait for the token endpoint.

Refresh tokens die after a period of disuse (CC: 180 days). An account that is
connected but not used would lose its grant; ``keep_alive`` refreshes every grant whose
refresh token would otherwise reach that deadline, and the background refresher calls
it for its own grant.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

import anyio

from ctct._manager import TokenManager
from ctct._tokens import TokenSet
from ctct.errors import AuthorizationRequired, CtctError
from ctct.stores import GrantKey

log = logging.getLogger("ctct.timer")

DEFAULT_IDLE_MARGIN: Final = 30 * 86_400.0
"""Refresh a refresh token this long before its idle deadline (30 days)."""
DEFAULT_MAX_SLEEP: Final = 3_600.0
"""Wake at least hourly, so a grant replaced elsewhere (a new login) is picked up."""
RETRY_AFTER_ERROR: Final = 60.0
RETRY_AFTER_LOGIN_NEEDED: Final = 3_600.0


@dataclass(frozen=True)
class TimerPolicy:
    idle_margin: float = DEFAULT_IDLE_MARGIN
    max_sleep: float = DEFAULT_MAX_SLEEP
    min_sleep: float = 0.05
    retry_after_error: float = RETRY_AFTER_ERROR
    retry_after_login_needed: float = RETRY_AFTER_LOGIN_NEEDED


def idle_refresh_needed(
    tokens: TokenSet, now: float, idle_ttl: float | None, margin: float = DEFAULT_IDLE_MARGIN
) -> bool:
    """True when the refresh token should be used now to keep it from dying unused.

    An unknown last use (an imported token) counts as needed: one refresh tells."""
    if tokens.refresh_token is None or idle_ttl is None:
        return False
    deadline = tokens.refresh_token_idle_deadline(idle_ttl)
    return deadline is None or deadline - now <= margin


def keep_alive(manager: TokenManager, *, margin: float = DEFAULT_IDLE_MARGIN) -> bool:
    """Refresh the manager's grant if its refresh token nears its idle deadline.

    Returns True when it refreshed."""
    tokens = manager.tokens()
    idle_ttl = manager.provider.refresh_token_idle_ttl
    if tokens is None or not idle_refresh_needed(tokens, manager.clock(), idle_ttl, margin):
        return False
    if manager.refresh(force=True).refresh_token is None:
        # Rejected while the access token still works: refresh() returned it, but the
        # grant was not kept alive; saying "refreshed" would hide a dying account.
        raise AuthorizationRequired(
            f"The provider rejected the refresh token of profile {manager.profile!r}, so it "
            "cannot be kept alive: run `ctct auth login` to authorize again.",
            code="invalid_grant",
        )
    log.info("kept the refresh token of profile %r alive", manager.profile)
    return True


def keep_alive_all(
    factory: Callable[[str], TokenManager],
    keys: list[GrantKey],
    *,
    margin: float = DEFAULT_IDLE_MARGIN,
) -> dict[str, str]:
    """Run ``keep_alive`` for every profile in ``keys`` (e.g. ``store.keys()`` filtered
    to one issuer and client). ``factory(profile)`` builds a manager. Returns what
    happened per profile: "refreshed", "ok" or the error message; one failing grant does
    not stop the others."""
    results: dict[str, str] = {}
    for key in keys:
        try:
            with factory(key.profile) as manager:
                results[key.profile] = "refreshed" if keep_alive(manager, margin=margin) else "ok"
        except CtctError as error:
            results[key.profile] = error.message
    return results


def next_wake(manager: TokenManager, policy: TimerPolicy) -> float:
    """Seconds until the grant needs attention (refresh due, or idle keep-alive)."""
    tokens = manager.tokens()
    now = manager.clock()
    if tokens is None:
        return policy.retry_after_login_needed
    candidates = [policy.max_sleep]
    due = tokens.refresh_due_at(
        margin=manager.policy.margin, max_fraction=manager.policy.max_fraction
    )
    if due is not None:
        candidates.append(due - now)
    idle_ttl = manager.provider.refresh_token_idle_ttl
    deadline = tokens.refresh_token_idle_deadline(idle_ttl) if idle_ttl else None
    if deadline is not None:
        candidates.append(deadline - policy.idle_margin - now)
    return max(policy.min_sleep, min(candidates))


def tick(manager: TokenManager, policy: TimerPolicy) -> float:
    """One round: refresh if due, keep alive if idle; returns seconds to sleep.

    When a ``ctct keeper`` looks after the store, it refreshes ahead of every worker and
    keeps idle grants alive: the timer then only checks back now and then (the request
    path still refreshes on its own if the keeper ever falls behind)."""
    from ctct.keeper.presence import keeper_present

    try:
        if keeper_present(manager.store):
            log.debug("a keeper looks after profile %r; the timer stands by", manager.profile)
            return policy.max_sleep
        manager.refresh(force=False)
        keep_alive(manager, margin=policy.idle_margin)
        return next_wake(manager, policy)
    except AuthorizationRequired as error:
        log.error("background refresh of profile %r stopped: %s", manager.profile, error.message)
        return policy.retry_after_login_needed
    except CtctError as error:
        log.warning("background refresh of profile %r failed: %s", manager.profile, error.message)
        return policy.retry_after_error


class BackgroundRefresher:
    """Refresh one grant in a daemon thread (CC's "refresh on a timer").

    >>> with BackgroundRefresher(manager):
    ...     serve_forever()
    """

    def __init__(self, manager: TokenManager, policy: TimerPolicy | None = None) -> None:
        self.manager = manager
        self.policy = policy or TimerPolicy()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundRefresher:
        if self._thread is not None:
            raise RuntimeError("the refresher is already running")
        self._thread = threading.Thread(
            target=self._run, name=f"ctct-refresher-{self.manager.profile}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(tick(self.manager, self.policy))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> BackgroundRefresher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def run_refresher(manager: TokenManager, policy: TimerPolicy | None = None) -> None:
    """The background refresher as a coroutine: run it in a task, cancel it to stop.

    The store and token-endpoint work runs in a worker thread (``tick`` is the same
    logic as the thread version), so the event loop never blocks on it."""
    chosen = policy or TimerPolicy()
    while True:
        delay = await anyio.to_thread.run_sync(tick, manager, chosen)
        await anyio.sleep(delay)
