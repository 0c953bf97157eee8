"""One login per profile at a time, across threads and processes sharing a store.

Two ``ctct auth login`` runs for one profile would otherwise fight: two device codes,
two loopback servers on one port, and whichever stores last wins (int128/kubelogin#389).
The second run waits on a store lock of its own (not the grant's lock, which refreshes
hold briefly) and, once it gets it, looks whether the first stored a new grant (a new
``obtained_at``: refreshes keep it), so it can reuse that instead of asking again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import anyio
import anyio.to_thread

from ctct._manager import TokenManager
from ctct._tokens import TokenSet
from ctct._wording import duration
from ctct.errors import FlowError, StoreError
from ctct.flows._events import LoginEvent, OtherLoginFinished, WaitingForOtherLogin
from ctct.stores import GrantKey, StoreLock, StoreLockTimeout

DEFAULT_WAIT: Final = 900.0
"""Long enough for another login's device code (CC: 10 minutes) to run out."""


def login_lock_key(key: GrantKey) -> GrantKey:
    """The key whose lock serializes logins of ``key``'s profile (distinct from the
    grant's own lock, so refreshes of the old grant go on while a login runs)."""
    return GrantKey(key.profile, f"login:{key.issuer}", key.client_id)


class LoginGate:
    """``enter()`` takes the profile's login lock (waiting for another login if need be)
    and returns the grant that login stored meanwhile, if any; ``exit()`` releases."""

    def __init__(
        self, manager: TokenManager, *, timeout: float, emit: Callable[[LoginEvent], None]
    ) -> None:
        self.manager = manager
        self.timeout = timeout
        self._emit = emit
        self._lock: StoreLock | None = None
        self._lock_key = login_lock_key(manager.key)

    @property
    def profile(self) -> str:
        return self.manager.profile

    def enter(self) -> TokenSet | None:
        before = self._obtained_at()
        first = self.manager.store.lock(self._lock_key, 0)
        try:
            first.acquire()
        except StoreLockTimeout:
            pass
        else:
            self._lock = first
            return None
        self._emit(WaitingForOtherLogin(self.profile, self.timeout))
        lock = self.manager.store.lock(self._lock_key, self.timeout)
        try:
            lock.acquire()
        except StoreLockTimeout:
            raise self._busy() from None
        self._lock = lock
        return self._after_wait(before)

    async def aenter(self) -> TokenSet | None:
        before = await anyio.to_thread.run_sync(self._obtained_at)
        first = self.manager.store.lock(self._lock_key, 0)
        try:
            await anyio.to_thread.run_sync(first.acquire)
        except StoreLockTimeout:
            pass
        else:
            self._lock = first
            return None
        self._emit(WaitingForOtherLogin(self.profile, self.timeout))
        lock = self.manager.store.lock(self._lock_key, self.timeout)
        acquired = False

        def take() -> None:
            nonlocal acquired
            lock.acquire()
            acquired = True

        try:
            await anyio.to_thread.run_sync(take)
        except StoreLockTimeout:
            raise self._busy() from None
        except BaseException:
            # Cancelled once the thread had the lock: give it back, or nobody will.
            if acquired:
                lock.release()
            raise
        self._lock = lock
        return await anyio.to_thread.run_sync(self._after_wait, before)

    def exit(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _stored(self) -> TokenSet | None:
        try:
            return self.manager.tokens()
        except StoreError:
            return None  # an unreadable record must not block the login that replaces it

    def _obtained_at(self) -> float | None:
        tokens = self._stored()
        return None if tokens is None else tokens.obtained_at

    def _after_wait(self, before: float | None) -> TokenSet | None:
        tokens = self._stored()
        fresh = tokens if tokens is not None and tokens.obtained_at != before else None
        self._emit(OtherLoginFinished(self.profile, fresh))
        return fresh

    def _busy(self) -> FlowError:
        return FlowError(
            f"Another login for profile {self.profile!r} is in progress and did not finish "
            f"within {duration(self.timeout)}. Finish or stop it, then try again.",
            code="login_in_progress",
        )
