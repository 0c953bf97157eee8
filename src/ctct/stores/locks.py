"""Per-grant locks: threads (``threading.Lock``) and processes (``fcntl.flock``).

A file lock is taken with ``flock`` on a lock file of its own per grant. ``flock`` locks
belong to an open file description, so two descriptors opened separately exclude each
other even inside one process, and the kernel drops the lock when the holder dies, even
by SIGKILL: no stale lock files, no pid checks. Waiting polls with ``LOCK_NB`` (a
blocking ``flock`` cannot time out). Within a process, waiters first queue on a plain
``threading.Lock`` per lock file so that only one thread per process polls.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from ctct.errors import StoreError
from ctct.stores.base import StoreLockTimeout, check_lock_timeout

_POLL_FIRST = 0.001
_POLL_MAX = 0.05


class LockBase:
    """Acquire-once/release-once bookkeeping and the context-manager protocol."""

    def __init__(self, timeout: float, what: str) -> None:
        check_lock_timeout(timeout)
        self.timeout = timeout
        self.what = what
        self._used = False
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> None:
        if self._used:
            raise RuntimeError("a StoreLock is acquired once; ask the store for a new one")
        self._used = True
        self._acquire(time.monotonic() + self.timeout)
        self._held = True

    def release(self) -> None:
        if not self._held:
            raise RuntimeError("release() of a StoreLock that is not held")
        self._held = False
        self._release()

    def _acquire(self, deadline: float) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def _timed_out(self) -> StoreLockTimeout:
        return StoreLockTimeout(
            f"the lock for {self.what} is held elsewhere and was not released within "
            f"{self.timeout:g} s (another refresh is slow or stuck); try again"
        )

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._held:
            self.release()


class ThreadLock(LockBase):
    """One acquisition of a shared ``threading.Lock`` (in-process stores)."""

    def __init__(self, lock: threading.Lock, timeout: float, what: str) -> None:
        super().__init__(timeout, what)
        self._lock = lock

    def _acquire(self, deadline: float) -> None:
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise self._timed_out()

    def _release(self) -> None:
        self._lock.release()


def open_lock_file(path: Path) -> int:
    """Open (creating with mode 0600) a lock file and return its descriptor."""
    flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # exact, whatever the umask
        return fd
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {path}: {exc.strerror}") from None
    try:
        return os.open(path, flags)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {path}: {exc.strerror}") from None


def flock_until(path: Path, deadline: float) -> int | None:
    """Take an exclusive ``flock`` on ``path`` by ``deadline`` (monotonic); the fd or None."""
    fd = open_lock_file(path)
    pause = _POLL_FIRST
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                os.close(fd)
                return None
            # Jitter keeps many pollers from waking in lockstep.
            time.sleep(min(left, pause * random.uniform(0.5, 1.5)))
            pause = min(_POLL_MAX, pause * 1.5)
    except BaseException:
        os.close(fd)
        raise


class FlockLock(LockBase):
    """An exclusive ``flock`` on ``path`` through a descriptor of its own."""

    def __init__(self, path: Path, timeout: float, what: str) -> None:
        super().__init__(timeout, what)
        self.path = path
        self._fd: int | None = None

    def _acquire(self, deadline: float) -> None:
        self._fd = flock_until(self.path, deadline)
        if self._fd is None:
            raise self._timed_out()

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Closing the only descriptor of the open file description drops the lock.
            os.close(fd)


class _Registry:
    """One ``threading.Lock`` per lock-file path in this process."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}

    def get(self, path: Path) -> threading.Lock:
        name = str(path)
        with self.mutex:
            lock = self.locks.get(name)
            if lock is None:
                lock = self.locks[name] = threading.Lock()
            return lock


_registry = _Registry()


def _reset_after_fork() -> None:
    # A forked child must not inherit thread locks held by threads that do not exist there.
    global _registry
    _registry = _Registry()


os.register_at_fork(after_in_child=_reset_after_fork)


class ProcessLock(FlockLock):
    """Excludes threads of this process (thread lock) and other processes (``flock``)."""

    def __init__(self, path: Path, timeout: float, what: str) -> None:
        super().__init__(path, timeout, what)
        self._thread_lock = _registry.get(path)

    def _acquire(self, deadline: float) -> None:
        if not self._thread_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise self._timed_out()
        try:
            super()._acquire(deadline)
        except BaseException:
            self._thread_lock.release()
            raise

    def _release(self) -> None:
        try:
            super()._release()
        finally:
            self._thread_lock.release()
