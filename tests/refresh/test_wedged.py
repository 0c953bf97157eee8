"""A wedged lease holder must not become an outage.

A second process takes the grant's lease and is frozen (SIGSTOP) while it holds it, as a
hung disk or a stopped container would leave it. While the stored access token is still
valid (and is not the one the API just refused), callers serve it after about a second
instead of blocking for the whole lock timeout; only when nothing valid is left do they
wait on. The same on every backend's lease (SQLite, PostgreSQL, Redis).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from ctct._refresh import RefreshPolicy
from ctct.stores import StoreLockTimeout
from tests.refresh.conftest import Env, MakeEnv
from tests.servers import SHARED_BACKENDS, shared_store_url

DAY = 86_400
ROOT = Path(__file__).resolve().parents[2]
WAIT = RefreshPolicy(lock_timeout=4.0)
"""Long enough that a caller serving the stored token cannot be one that waited it out."""


class Holder:
    """The other process: holds the lease, frozen until ``thaw``."""

    def __init__(self, env: Env, profile: str = "default") -> None:
        key = (profile, env.provider.storage_issuer, env.client.client_id)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.refresh.holder", env.store_url, *key],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "held"
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw_and_release(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("release\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "released"

    def kill(self) -> None:
        self.process.kill()
        os.kill(self.process.pid, signal.SIGCONT) if self.process.poll() is None else None
        self.process.wait()


@pytest.fixture(params=SHARED_BACKENDS)
def backend_env(make_env: MakeEnv, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    redis = lambda: request.getfixturevalue("redis_server")  # noqa: E731
    with shared_store_url(request.param, tmp_path, redis) as url:
        yield replace(make_env(), store_url=url)


@pytest.fixture
def holder_of(request: pytest.FixtureRequest) -> Iterator[Callable[[Env], Holder]]:
    made: list[Holder] = []

    def hold(env: Env) -> Holder:
        made.append(Holder(env))
        return made[-1]

    yield hold
    for holder in made:
        holder.kill()


def logged_in(env: Env, *, advance: float = 0.0, policy: RefreshPolicy = WAIT) -> str:
    """Log in, move both clocks on by ``advance``; the stored access token."""
    with env.manager(policy=policy) as manager:
        stored = env.login(manager).access_token
    assert stored is not None
    env.clock.advance(advance)
    return stored.reveal()


def test_due_but_valid_token_is_served_while_the_holder_is_frozen(
    backend_env: Env, holder_of: Callable[[Env], Holder]
) -> None:
    env = backend_env
    stored = logged_in(env, advance=DAY - 60)  # due (inside the margin), valid for a minute
    holder_of(env)
    with env.manager(policy=WAIT) as other:  # another process: nothing in memory
        # safety: src/ctct/_manager.py: return snapshot  # the holder refreshes meanwhile
        assert other.token() == stored
        assert other.token() == stored  # served from memory until the recheck
    assert env.refreshes() == 0


def test_the_token_the_api_refused_is_not_served_it_waits(
    backend_env: Env, holder_of: Callable[[Env], Holder]
) -> None:
    env = backend_env
    stored = logged_in(env)
    holder_of(env)
    # safety: src/ctct/_manager.py: return False  # the API just refused it: only a refresh helps
    with env.manager(policy=WAIT) as other, pytest.raises(StoreLockTimeout):
        other.unauthorized(stored)
    assert env.refreshes() == 0


def test_an_expired_token_waits_for_the_holder_then_refreshes(
    env: Env, holder_of: Callable[[Env], Holder]
) -> None:
    first = logged_in(env, advance=DAY + 1)  # nothing valid is left
    holder = holder_of(env)
    result: list[str] = []
    with env.manager(policy=replace(WAIT, lock_timeout=30.0)) as manager:
        waiter = threading.Thread(target=lambda: result.append(manager.token()))
        waiter.start()
        time.sleep(2.5)  # well past the patience: still waiting, nothing to serve
        assert waiter.is_alive() and not result
        holder.thaw_and_release()
        waiter.join(30)
    assert result and result[0] != first
    assert env.refreshes() == 1


def test_async_callers_serve_the_stored_token_too(
    env: Env, holder_of: Callable[[Env], Holder]
) -> None:
    stored = logged_in(env, advance=DAY - 60)
    holder_of(env)

    async def main() -> str:
        async with env.manager(policy=WAIT) as other:
            return await other.atoken()

    assert anyio.run(main) == stored
    assert env.refreshes() == 0
