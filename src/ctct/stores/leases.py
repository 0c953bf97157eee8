"""Leases: the waiting, the local accounting and the v1 lock built on them.

A backend implements three atomic steps on its server's clock (``LeaseOps``): try to
take a key's lease for a holder, renew it if still that holder's, release it if still
that holder's. ``PolledLease`` turns them into a ``Lease``: it polls (with growing,
jittered pauses, holding nothing in between) until the lease is taken or the timeout
passes, and counts ``remaining()`` on the local monotonic clock from just before each
request, so the local view of a lease always ends before the server's.

``KeepAliveLock`` is the version 1 ``StoreLock``: a lease renewed in the background by
one shared thread until it is released, for holders that do not track time themselves
(the login gate holds its lease for the minutes a device login takes).
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import secrets
import socket
import threading
import time
from types import TracebackType
from typing import Final, Protocol, Self

from ctct.stores.base import GrantKey, LeaseLost, StoreLockTimeout, check_lease_args

log = logging.getLogger("ctct.stores")

LOCK_LEASE: Final = 30.0
"""The lease behind a version 1 ``lock()``; renewed every third of it while held."""

_POLL_FIRST = 0.002
_HOST = socket.gethostname()[:40]


def new_holder() -> str:
    """A unique id for one acquisition: host and pid for people, random for uniqueness."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"


class LeaseOps(Protocol):
    """The atomic lease steps a backend provides (all on the server's clock)."""

    lease_poll_max: float

    def lease_try(self, key: GrantKey, holder: str, duration: float) -> int | None:
        """Take the lease if free or expired: its new fence, else None."""

    def lease_renew(self, key: GrantKey, holder: str, duration: float) -> bool:
        """Extend the lease if ``holder`` still has it."""

    def lease_release(self, key: GrantKey, holder: str) -> None:
        """Free the lease if ``holder`` still has it."""

    def check_open(self) -> None: ...


class PolledLease:
    """A ``Lease`` over a backend's ``LeaseOps``."""

    def __init__(self, ops: LeaseOps, key: GrantKey, duration: float, timeout: float) -> None:
        check_lease_args(duration, timeout)
        self.ops = ops
        self.key = key
        self.timeout = timeout
        self._duration = duration
        self._holder = new_holder()
        self._fence = 0
        self._held = False
        self._until = 0.0  # local monotonic end of the lease

    @property
    def fence(self) -> int:
        return self._fence

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def held(self) -> bool:
        return self._held

    def remaining(self) -> float:
        if not self._held:
            return 0.0
        return max(0.0, self._until - time.monotonic())

    # -- steps subclasses may extend ----------------------------------------------------

    def _try(self) -> int | None:
        return self.ops.lease_try(self.key, self._holder, self._duration)

    def _renew(self, duration: float) -> bool:
        return self.ops.lease_renew(self.key, self._holder, duration)

    def _release(self) -> None:
        self.ops.lease_release(self.key, self._holder)

    def _given_up(self) -> None:
        """Called when acquiring fails (timeout or error)."""

    # -- the protocol -------------------------------------------------------------------

    def acquire(self) -> Self:
        if self._fence:
            raise RuntimeError("a lease is acquired once; ask the store for a new one")
        self.ops.check_open()
        deadline = time.monotonic() + self.timeout
        pause = _POLL_FIRST
        try:
            while True:
                started = time.monotonic()
                fence = self._try()
                if fence is not None:
                    self._fence, self._held = fence, True
                    self._until = started + self._duration
                    return self
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreLockTimeout(
                        f"the lock for {self.key} is held elsewhere and was not released "
                        f"within {self.timeout:g} s (another refresh is slow or stuck); "
                        "try again"
                    )
                # Jitter keeps many pollers from waking in lockstep.
                time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
                pause = min(self.ops.lease_poll_max, pause * 1.5)
        except BaseException:
            self._given_up()
            raise

    def renew(self, duration: float | None = None) -> None:
        if not self._held:
            raise LeaseLost(f"the lease for {self.key} is not held")
        length = self._duration if duration is None else duration
        check_lease_args(length, 0)
        started = time.monotonic()
        if not self._renew(length):
            self._held = False
            self._release_local()
            raise LeaseLost(
                f"the lease for {self.key} ran out and was taken over by another holder"
            )
        self._duration = length
        self._until = started + length

    def release(self) -> None:
        if not self._held:
            self._release_local()
            return
        self._held = False
        try:
            self._release()
        finally:
            self._release_local()

    def _release_local(self) -> None:
        """Free local resources (e.g. a file lock); idempotent."""

    def __enter__(self) -> Self:
        if not self._fence:
            self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<lease {self.key} fence={self._fence} held={self._held}>"


class _Renewer:
    """One daemon thread renewing every kept-alive lease at a third of its duration."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, KeepAliveLock]] = []
        self.thread: threading.Thread | None = None
        self.counter = 0

    def add(self, lock: KeepAliveLock) -> None:
        with self.cond:
            self.counter += 1
            heapq.heappush(self.heap, (time.monotonic() + lock.every, self.counter, lock))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="ctct-lease-keepalive", daemon=True
                )
                self.thread.start()
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    wait = self.heap[0][0] - time.monotonic() if self.heap else 60.0
                    self.cond.wait(max(0.0, wait))
                _, _, lock = heapq.heappop(self.heap)
            if lock.keep_renewing():
                with self.cond:
                    self.counter += 1
                    heapq.heappush(self.heap, (time.monotonic() + lock.every, self.counter, lock))


_renewer = _Renewer()


def _reset_after_fork() -> None:
    global _renewer
    _renewer = _Renewer()


os.register_at_fork(after_in_child=_reset_after_fork)


class KeepAliveLock:
    """The version 1 ``StoreLock``: a ``LOCK_LEASE`` lease renewed until released."""

    def __init__(self, lease: PolledLease) -> None:
        self.lease = lease
        self.every = lease.duration / 3
        self._mutex = threading.Lock()
        self._used = False
        self._released = False

    @property
    def held(self) -> bool:
        return self.lease.held

    def acquire(self) -> None:
        if self._used:
            raise RuntimeError("a StoreLock is acquired once; ask the store for a new one")
        self._used = True
        self.lease.acquire()
        _renewer.add(self)

    def keep_renewing(self) -> bool:
        """Renew once (from the keep-alive thread); False once released or lost."""
        with self._mutex:
            if self._released or not self.lease.held:
                return False
            try:
                self.lease.renew()
            except Exception as error:  # the holder learns on release; say it now too
                log.error("could not keep the lease for %s: %s", self.lease.key, error)
                return False
            return True

    def release(self) -> None:
        with self._mutex:
            if not self._used or self._released:
                raise RuntimeError("release() of a StoreLock that is not held")
            self._released = True
            self.lease.release()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._used and not self._released:
            self.release()
