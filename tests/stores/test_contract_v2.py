"""The store contract, version 2: leases, the server's clock, attempts, account states,
scheduling and the outbox. Every backend passes every test (see the ``backend`` fixture).

Time is moved with ``backend.clock.advance`` (an injected clock on SQLite and memory, the
test-only ``time_offset`` on PostgreSQL and Redis, whose clocks are the servers')."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ctct.errors import StoreError
from ctct.stores import (
    AccountState,
    Attempt,
    GrantKey,
    LeaseLost,
    SealedStore,
    StoreLockTimeout,
)
from ctct.stores.base import utc_day
from tests.stores.helpers import GRANT, OTHER, Backend, keys_of

# -- the server's clock -------------------------------------------------------------------


def test_now_is_the_servers_clock_and_moves_with_the_test_offset(backend: Backend) -> None:
    store = backend.make()
    before = store.now()
    assert abs(before - time.time()) < 3600 * 24 * 365 * 10  # a plausible epoch time
    backend.clock.advance(100)
    assert store.now() - before == pytest.approx(100, abs=1.0)


# -- leases ---------------------------------------------------------------------------------


def test_lease_excludes_until_released(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    lease = one.lease(GRANT, duration=30, timeout=1)
    assert 29 < lease.remaining() <= 30
    with pytest.raises(StoreLockTimeout, match="'default'"):
        two.lease(GRANT, duration=30, timeout=0.05)
    with two.lease(OTHER, duration=30, timeout=0):
        pass  # another key is independent
    lease.release()
    assert not lease.held
    assert lease.remaining() == 0.0
    with two.lease(GRANT, duration=30, timeout=0) as again:
        assert again.fence > lease.fence


def test_fences_only_grow(backend: Backend) -> None:
    stores = [backend.make(), backend.make()]
    fences = []
    for n in range(6):
        with stores[n % 2].lease(GRANT, duration=5, timeout=1) as lease:
            fences.append(lease.fence)
    assert fences == sorted(set(fences))


def test_an_expired_lease_is_taken_over_and_its_holder_learns_it(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    first = one.lease(GRANT, duration=10, timeout=0)
    with pytest.raises(StoreLockTimeout):
        two.lease(GRANT, duration=10, timeout=0)
    backend.clock.advance(11)  # on the server's clock, the lease has run out
    second = two.lease(GRANT, duration=10, timeout=2)
    assert second.fence > first.fence
    with pytest.raises(LeaseLost, match="taken over"):
        first.renew()
    assert not first.held
    first.release()  # a lost lease releases nothing
    with pytest.raises(StoreLockTimeout):
        one.lease(GRANT, duration=10, timeout=0)
    second.release()


def test_renewal_keeps_a_lease_past_its_first_duration(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    lease = one.lease(GRANT, duration=10, timeout=0)
    for _ in range(3):
        backend.clock.advance(6)
        lease.renew()
        with pytest.raises(StoreLockTimeout):
            two.lease(GRANT, duration=10, timeout=0)
    lease.renew(60)
    assert lease.duration == 60
    assert 59 < lease.remaining() <= 60
    backend.clock.advance(30)
    with pytest.raises(StoreLockTimeout):
        two.lease(GRANT, duration=10, timeout=0)
    lease.release()


def test_an_expired_lease_is_not_renewed(backend: Backend) -> None:
    store = backend.make()
    lease = store.lease(GRANT, duration=5, timeout=0)
    backend.clock.advance(6)
    with pytest.raises(LeaseLost):
        lease.renew()
    with store.lease(GRANT, duration=5, timeout=0):
        pass


def test_remaining_counts_from_before_the_request(backend: Backend) -> None:
    store = backend.make()
    started = time.monotonic()
    lease = store.lease(GRANT, duration=2, timeout=0)
    elapsed = time.monotonic() - started
    # Never more than the duration minus what the acquire took.
    assert lease.remaining() <= 2 - 0 and lease.remaining() >= 2 - elapsed - 0.05
    time.sleep(0.2)
    assert lease.remaining() <= 1.8
    lease.release()


def test_leases_exclude_threads_and_handles(backend: Backend) -> None:
    stores = [backend.make(), backend.make()]
    stores[0].save(GRANT, b"0", expected_version=None)
    inside = overlaps = 0
    guard = threading.Lock()

    def add_one(n: int) -> None:
        nonlocal inside, overlaps
        store = stores[n % 2]
        with store.lease(GRANT, duration=30, timeout=30):
            with guard:
                inside += 1
                overlaps += inside > 1
            record = store.load(GRANT)
            assert record is not None
            store.save(GRANT, str(int(record.data) + 1).encode(), expected_version=record.version)
            with guard:
                inside -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add_one, range(60)))
    assert overlaps == 0
    assert stores[0].load(GRANT).data == b"60"  # type: ignore[union-attr]


def test_lock_and_lease_exclude_each_other(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    with one.lock(GRANT, 1), pytest.raises(StoreLockTimeout):
        two.lease(GRANT, duration=5, timeout=0)
    with one.lease(GRANT, duration=5, timeout=0), pytest.raises(StoreLockTimeout):
        two.lock(GRANT, 0).acquire()


def test_lease_arguments_are_checked(store: SealedStore) -> None:
    with pytest.raises(ValueError, match="duration"):
        store.lease(GRANT, duration=0, timeout=1)
    with pytest.raises(ValueError, match="timeout"):
        store.lease(GRANT, duration=1, timeout=-1)


def test_closed_store_refuses_leases(backend: Backend) -> None:
    store = backend.make()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.lease(GRANT, duration=1, timeout=0)


# -- attempts -------------------------------------------------------------------------------


def test_attempts_are_recorded_read_and_cleared_by_fence(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    assert one.load_attempt(GRANT) is None
    one.record_attempt(GRANT, Attempt(holder="host-a:1:x", parent="fp-parent", fence=7))
    found = two.load_attempt(GRANT)
    assert found is not None
    assert (found.holder, found.parent, found.fence) == ("host-a:1:x", "fp-parent", 7)
    assert found.started_at == pytest.approx(two.now(), abs=2.0)
    two.clear_attempt(GRANT, fence=6)  # another holder's clear leaves it
    assert one.load_attempt(GRANT) is not None
    assert one.load_attempt(OTHER) is None
    two.clear_attempt(GRANT, fence=7)
    assert one.load_attempt(GRANT) is None


# -- account states -------------------------------------------------------------------------


def test_account_states_with_sealed_detail(backend: Backend, key_a: str) -> None:
    store = backend.make(keys_of(key_a))
    assert store.load_state(GRANT) is None
    store.set_state(GRANT, AccountState("ok"))
    first = store.load_state(GRANT)
    assert first is not None
    assert (first.code, first.reason, first.detail) == ("ok", "", b"")
    backend.clock.advance(5)
    store.set_state(GRANT, AccountState("ok", detail=b"still fine"))
    assert store.load_state(GRANT).since == first.since  # type: ignore[union-attr]
    backend.clock.advance(5)
    store.set_state(GRANT, AccountState("needs_login", "rotation_lost", b"server said secret-x"))
    store.set_state(OTHER, AccountState("paused", "operator"))
    states = backend.make(keys_of(key_a)).states()
    assert list(states) == sorted([GRANT, OTHER])
    dead = states[GRANT]
    assert (dead.code, dead.reason, dead.detail) == (
        "needs_login",
        "rotation_lost",
        b"server said secret-x",
    )
    assert dead.since > first.since
    assert "secret" not in repr(dead)
    with pytest.raises(StoreError, match="no store key is configured"):
        backend.make().load_state(GRANT)  # the detail is sealed


# -- scheduling -------------------------------------------------------------------------------


def test_claim_due_hands_each_due_grant_to_one_worker(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    now = one.now()
    keys = [GrantKey(f"acct-{n:02d}", GRANT.issuer, GRANT.client_id) for n in range(10)]
    for n, key in enumerate(keys):
        one.save(key, b"x", expected_version=None)
        one.schedule(key, now - 100 + n)  # all due, in order
    late = GrantKey("late", GRANT.issuer, GRANT.client_id)
    one.save(late, b"x", expected_version=None)
    one.schedule(late, now + 3600)
    one.schedule(GrantKey("no-record", GRANT.issuer, GRANT.client_id), now - 1000)
    assert [k for k, _ in one.due(3)] == [
        GrantKey("no-record", GRANT.issuer, GRANT.client_id),
        *keys[:2],
    ]
    first = one.claim_due("worker-1", limit=4, claim_for=60)
    assert [c.key for c in first] == keys[:4]
    assert all(c.claimed_until == pytest.approx(one.now() + 60, abs=2) for c in first)
    rest = two.claim_due("worker-2", limit=100, claim_for=60)
    assert [c.key for c in rest] == keys[4:]
    assert two.claim_due("worker-2", limit=100, claim_for=60) == []
    one.schedule(keys[0], one.now() - 1)  # rescheduling releases the claim
    assert [c.key for c in two.claim_due("worker-2", limit=100, claim_for=60)] == [keys[0]]
    backend.clock.advance(61)  # expired claims come back (at least once)
    again = one.claim_due("worker-1", limit=100, claim_for=60)
    assert {c.key for c in again} == set(keys)
    one.schedule(keys[1], None)
    assert keys[1] not in [k for k, _ in one.due(100)]


def test_concurrent_claims_never_overlap(backend: Backend) -> None:
    stores = [backend.make() for _ in range(4)]
    now = stores[0].now()
    keys = [GrantKey(f"acct-{n:03d}", GRANT.issuer, GRANT.client_id) for n in range(60)]
    for key in keys:
        stores[0].save(key, b"x", expected_version=None)
        stores[0].schedule(key, now - 10)

    def claim(n: int) -> list[GrantKey]:
        got: list[GrantKey] = []
        while batch := stores[n % 4].claim_due(f"w{n}", limit=5, claim_for=600):
            got.extend(c.key for c in batch)
        return got

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    claimed = [k for r in results for k in r]
    assert sorted(claimed) == sorted(keys)


# -- the outbox -------------------------------------------------------------------------------


def test_outbox_claim_ack_retry_dead_letter(backend: Backend, key_a: str) -> None:
    one, two = backend.make(keys_of(key_a)), backend.make(keys_of(key_a))
    first = one.add_event("needs_login", GRANT, b'{"profile": "default", "token": "no"}')
    second = one.add_event("recovered", GRANT, b"2")
    other = one.add_event("at_risk", OTHER, b"3")
    fleet = one.add_event("overload", None, b"4")
    assert (first.seq, second.seq, other.seq, fleet.seq) == (1, 2, 1, 1)
    assert len({first.id, second.id, other.id, fleet.id}) == 4
    claimed = one.claim_events("w1", limit=2, claim_for=30)
    assert [e.id for e in claimed] == [first.id, second.id]
    assert claimed[0].payload == b'{"profile": "default", "token": "no"}'
    assert claimed[0].key == GRANT
    assert claimed[0].status == "claimed"
    rest = two.claim_events("w2", limit=10, claim_for=30)
    assert [e.id for e in rest] == [other.id, fleet.id]
    assert rest[1].key is None
    assert two.claim_events("w2", limit=10, claim_for=30) == []
    assert not two.ack_event(first.id, "w2")  # not w2's claim
    assert one.ack_event(first.id, "w1")
    assert not one.ack_event(first.id, "w1")  # gone
    assert one.retry_event(second.id, "w1", delay=10, max_attempts=2) == "pending"
    assert one.claim_events("w1", limit=10, claim_for=30) == []  # not before the delay
    backend.clock.advance(11)
    again = one.claim_events("w1", limit=10, claim_for=30)
    assert [e.id for e in again] == [second.id]
    assert again[0].attempts == 1
    assert one.retry_event(second.id, "w1", delay=10, max_attempts=2) == "dead"
    backend.clock.advance(20)  # 31 s after w2's 30 s claim
    # Expired claims come back; dead events never do.
    back = one.claim_events("w3", limit=10, claim_for=30)
    assert [e.id for e in back] == [other.id, fleet.id]
    dead = two.dead_events()
    assert [(e.id, e.attempts, e.status, e.payload) for e in dead] == [(second.id, 2, "dead", b"2")]


def test_event_payloads_are_sealed(backend: Backend, key_a: str, key_b: str) -> None:
    backend.make(keys_of(key_a)).add_event("needs_login", GRANT, b"server text secret")
    with pytest.raises(StoreError, match="event") as info:
        backend.make(keys_of(key_b)).claim_events("w", limit=1, claim_for=5)
    assert "secret" not in str(info.value)


def test_concurrent_event_claims_never_overlap(backend: Backend) -> None:
    stores = [backend.make() for _ in range(4)]
    ids = {stores[0].add_event("e", None, str(n).encode()).id for n in range(40)}

    def claim(n: int) -> list[str]:
        got: list[str] = []
        while batch := stores[n % 4].claim_events(f"w{n}", limit=3, claim_for=600):
            got.extend(e.id for e in batch)
        return got

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)


def test_daily_counter_on_the_servers_day(backend: Backend) -> None:
    store = backend.make()
    assert store.incr_daily("api:c9", None, 2) == 1
    assert store.incr_daily("api:c9", None, 2) == 2
    assert store.incr_daily("api:c9", None, 2) is None
    backend.clock.advance(86400)  # the server's next day
    assert store.incr_daily("api:c9", None, 2) == 1
    # The server's day is the UTC calendar day of its clock.
    assert store.incr_daily("api:c9", utc_day(store.now()), 2) == 2


def test_records_reads_every_grant_in_one_pass(backend: Backend) -> None:
    from ctct.stores import GrantKey

    store = backend.make()
    keys = [GrantKey(f"p{i:04d}", "https://issuer", "client") for i in range(1_050)]
    for i, key in enumerate(keys):
        store.save(key, f"record {i}".encode(), expected_version=None)
    store.save(keys[3], b"newer", expected_version=1)
    store.delete(keys[7])
    found = dict(store.records())
    assert sorted(found) == sorted(k for k in keys if k != keys[7])
    assert found[keys[0]].data == b"record 0" and found[keys[0]].version == 1
    assert found[keys[3]].data == b"newer" and found[keys[3]].version == 2
    # the same as reading each one
    assert all(store.load(k) == found[k] for k in keys[:20] if k in found)
