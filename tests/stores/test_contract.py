"""The store contract: every backend must pass every test here (see ``backend`` fixture)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ctct.errors import StoreError
from ctct.stores import (
    GrantKey,
    Record,
    RecordUnreadable,
    SealedStore,
    Store,
    StoreConflict,
    StoreLock,
    StoreLockTimeout,
    rekey,
)
from ctct.stores.crypto import MAGIC, key_id, parse_keys
from tests.stores.helpers import GRANT, OTHER, Backend, keys_of

TOKEN = b'{"access_token": "at-secret-value", "refresh_token": "rt-secret-value"}'


def test_backends_implement_the_protocol(store: SealedStore) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.lock(GRANT, 1.0), StoreLock)


# -- records and versions -------------------------------------------------------------


def test_load_of_a_missing_record_is_none(store: SealedStore) -> None:
    assert store.load(GRANT) is None


def test_save_then_load_round_trips(store: SealedStore) -> None:
    version = store.save(GRANT, TOKEN, expected_version=None)
    assert version >= 1
    assert store.load(GRANT) == Record(TOKEN, version)


def test_each_save_returns_a_greater_version(store: SealedStore) -> None:
    versions = [store.save(GRANT, b"0", expected_version=None)]
    for n in range(1, 5):
        versions.append(store.save(GRANT, str(n).encode(), expected_version=versions[-1]))
    assert versions == sorted(set(versions))
    record = store.load(GRANT)
    assert record == Record(b"4", versions[-1])


def test_create_conflicts_when_the_record_exists(store: SealedStore) -> None:
    store.save(GRANT, b"first", expected_version=None)
    with pytest.raises(StoreConflict, match="changed concurrently"):
        store.save(GRANT, b"second", expected_version=None)
    assert store.load(GRANT) is not None
    assert store.load(GRANT).data == b"first"  # type: ignore[union-attr]


def test_update_conflicts_on_a_stale_version(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    base = one.save(GRANT, b"base", expected_version=None)
    won = two.save(GRANT, b"winner", expected_version=base)
    with pytest.raises(StoreConflict) as info:
        one.save(GRANT, b"loser", expected_version=base)
    assert info.value.retryable
    assert one.load(GRANT) == Record(b"winner", won)


def test_update_of_a_missing_record_conflicts(store: SealedStore) -> None:
    with pytest.raises(StoreConflict, match="no record"):
        store.save(GRANT, b"x", expected_version=1)
    assert store.load(GRANT) is None


def test_a_version_from_before_a_delete_never_matches_again(store: SealedStore) -> None:
    old = store.save(GRANT, b"old", expected_version=None)
    assert store.delete(GRANT)
    new = store.save(GRANT, b"new", expected_version=None)
    assert new > old
    with pytest.raises(StoreConflict):
        store.save(GRANT, b"stale writer", expected_version=old)
    assert store.load(GRANT) == Record(b"new", new)


def test_invalid_expected_version_is_refused(store: SealedStore) -> None:
    with pytest.raises(ValueError, match="expected_version"):
        store.save(GRANT, b"x", expected_version=0)


def test_many_profiles_are_independent(store: SealedStore) -> None:
    keys = [
        GrantKey(f"profile-{n:03d}", f"https://issuer-{n % 2}", f"client-{n % 3}")
        for n in range(60)
    ]
    versions = {k: store.save(k, k.profile.encode(), expected_version=None) for k in keys}
    assert store.keys() == sorted(keys)
    for k in keys:
        assert store.load(k) == Record(k.profile.encode(), versions[k])
    # Same profile name under another issuer or client is another grant.
    twin = GrantKey("profile-000", "https://issuer-9", "client-0")
    assert store.load(twin) is None


def test_delete(store: SealedStore) -> None:
    assert store.delete(GRANT) is False
    store.save(GRANT, b"a", expected_version=None)
    store.save(OTHER, b"b", expected_version=None)
    assert store.delete(GRANT) is True
    assert store.load(GRANT) is None
    assert store.keys() == [OTHER]
    assert store.delete(GRANT) is False


def test_delete_with_expected_version(store: SealedStore) -> None:
    version = store.save(GRANT, b"a", expected_version=None)
    with pytest.raises(StoreConflict):
        store.delete(GRANT, expected_version=version + 1)
    assert store.load(GRANT) is not None
    assert store.delete(GRANT, expected_version=version) is True
    with pytest.raises(StoreConflict):
        store.delete(GRANT, expected_version=version)


def test_handles_see_each_others_writes(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    version = one.save(GRANT, b"shared", expected_version=None)
    assert two.load(GRANT) == Record(b"shared", version)
    assert two.keys() == [GRANT]


def test_record_repr_never_shows_the_data(store: SealedStore) -> None:
    store.save(GRANT, TOKEN, expected_version=None)
    assert "secret" not in repr(store.load(GRANT))


def test_concurrent_cas_from_threads_loses_no_update(backend: Backend) -> None:
    stores = [backend.make(), backend.make()]
    stores[0].save(GRANT, b"0", expected_version=None)

    def add_one(n: int) -> int:
        store, conflicts = stores[n % 2], 0
        while True:
            record = store.load(GRANT)
            assert record is not None
            try:
                store.save(
                    GRANT, str(int(record.data) + 1).encode(), expected_version=record.version
                )
                return conflicts
            except StoreConflict:
                conflicts += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add_one, range(80)))
    final = stores[0].load(GRANT)
    assert final is not None
    assert final.data == b"80"


# -- locks ----------------------------------------------------------------------------


def test_lock_excludes_other_threads(backend: Backend) -> None:
    stores = [backend.make(), backend.make()]
    stores[0].save(GRANT, b"0", expected_version=None)
    inside = 0
    overlaps = 0
    guard = threading.Lock()

    def add_one(n: int) -> None:
        nonlocal inside, overlaps
        store = stores[n % 2]
        with store.lock(GRANT, timeout=30):
            with guard:
                inside += 1
                overlaps += inside > 1
            record = store.load(GRANT)
            assert record is not None
            # Under the lock a CAS never conflicts: nobody else writes meanwhile.
            store.save(GRANT, str(int(record.data) + 1).encode(), expected_version=record.version)
            with guard:
                inside -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add_one, range(120)))
    assert overlaps == 0
    assert stores[0].load(GRANT).data == b"120"  # type: ignore[union-attr]


def test_lock_times_out_while_held(backend: Backend) -> None:
    holder, waiter = backend.make(), backend.make()
    with holder.lock(GRANT, timeout=1):
        with pytest.raises(StoreLockTimeout, match="'default'") as info:
            waiter.lock(GRANT, timeout=0.05).acquire()
        assert info.value.retryable
        with pytest.raises(StoreLockTimeout):
            waiter.lock(GRANT, timeout=0).acquire()
    with waiter.lock(GRANT, timeout=0):
        pass  # free again once released


def test_locks_on_different_keys_are_independent(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    with one.lock(GRANT, timeout=1):
        # Another profile is acquirable at once, through the same or another handle.
        with two.lock(OTHER, timeout=0):
            pass
        with one.lock(GrantKey("default", GRANT.issuer, "client-2"), timeout=0):
            pass


def test_lock_waits_until_released(backend: Backend) -> None:
    store = backend.make()
    held = store.lock(GRANT, timeout=1)
    held.acquire()
    got_it = threading.Event()

    def wait_for_it() -> None:
        with backend.make().lock(GRANT, timeout=30):
            got_it.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not got_it.wait(0.2)
    held.release()
    waiter.join(30)
    assert got_it.is_set()


def test_lock_acquired_in_a_worker_thread_released_in_another(store: SealedStore) -> None:
    lock = store.lock(GRANT, timeout=1)
    worker = threading.Thread(target=lock.acquire)
    worker.start()
    worker.join()
    with pytest.raises(StoreLockTimeout):
        store.lock(GRANT, timeout=0).acquire()
    lock.release()  # from the main thread, as an async front end would
    with store.lock(GRANT, timeout=0):
        pass


def test_lock_objects_are_single_use(store: SealedStore) -> None:
    lock = store.lock(GRANT, timeout=1)
    with pytest.raises(RuntimeError, match="not held"):
        lock.release()
    with lock:
        pass
    with pytest.raises(RuntimeError, match="acquired once"):
        lock.acquire()
    with pytest.raises(ValueError, match="timeout"):
        store.lock(GRANT, timeout=-1)


def test_lock_is_released_when_the_body_raises(store: SealedStore) -> None:
    with pytest.raises(KeyError), store.lock(GRANT, timeout=1):
        raise KeyError("boom")
    with store.lock(GRANT, timeout=0):
        pass


# -- single-use records ---------------------------------------------------------------


def test_take_once_returns_the_record_once(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    one.put_once("pkce", "state-1", b"verifier-1", ttl=600)
    one.put_once("pkce", "state-2", b"verifier-2", ttl=600)
    assert two.take_once("pkce", "state-1") == b"verifier-1"
    assert two.take_once("pkce", "state-1") is None
    assert one.take_once("pkce", "state-1") is None
    assert one.take_once("pkce", "missing") is None
    assert one.take_once("other-namespace", "state-2") is None
    assert one.take_once("pkce", "state-2") == b"verifier-2"


def test_take_once_after_the_ttl_is_none(backend: Backend) -> None:
    store = backend.make()
    store.put_once("login", "s", b"data", ttl=60)
    backend.clock.advance(59.9)
    store.put_once("login", "t", b"data", ttl=60)
    assert store.take_once("login", "s") == b"data"
    backend.clock.advance(60)
    assert store.take_once("login", "t") is None


def test_put_once_refuses_a_live_duplicate(store: SealedStore, backend: Backend) -> None:
    store.put_once("login", "s", b"first", ttl=10)
    with pytest.raises(StoreConflict, match="already exists"):
        store.put_once("login", "s", b"second", ttl=10)
    backend.clock.advance(10)
    store.put_once("login", "s", b"third", ttl=10)  # the expired one may be replaced
    assert store.take_once("login", "s") == b"third"


def test_only_one_thread_takes_a_record(backend: Backend) -> None:
    stores = [backend.make() for _ in range(4)]
    stores[0].put_once("login", "race", b"prize", ttl=60)
    barrier = threading.Barrier(8)

    def take(n: int) -> bytes | None:
        barrier.wait()
        return stores[n % 4].take_once("login", "race")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(take, range(8)))
    assert sorted(results, key=lambda r: r or b"") == [None] * 7 + [b"prize"]


def test_single_use_arguments_are_checked(store: SealedStore) -> None:
    with pytest.raises(ValueError, match="ttl"):
        store.put_once("login", "s", b"x", ttl=0)
    with pytest.raises(ValueError, match="namespace and id"):
        store.put_once("", "s", b"x", ttl=1)
    with pytest.raises(ValueError, match="namespace and id"):
        store.take_once("login", "")


# -- rate limits ----------------------------------------------------------------------


def test_acquire_rate_is_a_token_bucket(backend: Backend) -> None:
    # Network backends' clocks are the servers' and run on meanwhile: waits are approximate.
    one, two = backend.make(), backend.make()
    clock = backend.clock
    # A loaded machine stretches the time between two round trips to a server by tens
    # of milliseconds; the semantics (empty, refill, cap) are what is tested here.
    tol = 0.05 if backend.name in ("sqlite", "memory") else 0.2
    assert one.acquire_rate("token-endpoint:c1", rate=1, burst=2) == 0.0
    assert two.acquire_rate("token-endpoint:c1", rate=1, burst=2) == 0.0
    # Empty: the wait is reported and nothing is taken, however often it is asked.
    assert one.acquire_rate("token-endpoint:c1", rate=1, burst=2) == pytest.approx(1.0, abs=tol)
    assert two.acquire_rate("token-endpoint:c1", rate=1, burst=2) == pytest.approx(1.0, abs=tol)
    clock.advance(0.25)
    assert one.acquire_rate("token-endpoint:c1", rate=1, burst=2) == pytest.approx(0.75, abs=tol)
    clock.advance(0.75)
    assert two.acquire_rate("token-endpoint:c1", rate=1, burst=2) == 0.0
    assert one.acquire_rate("token-endpoint:c1", rate=1, burst=2) == pytest.approx(1.0, abs=tol)
    # Another bucket is independent.
    assert one.acquire_rate("token-endpoint:c2", rate=1, burst=1) == 0.0
    # Refill is capped at the burst.
    clock.advance(3600)
    assert [one.acquire_rate("token-endpoint:c1", 1, 2) for _ in range(3)] == [
        0.0,
        0.0,
        pytest.approx(1.0, abs=tol),
    ]


def test_acquire_rate_survives_a_clock_going_back(backend: Backend) -> None:
    store = backend.make()
    assert store.acquire_rate("b", rate=4, burst=1) == 0.0
    backend.clock.advance(-10)
    assert store.acquire_rate("b", rate=4, burst=1) == pytest.approx(0.25, abs=0.05)


def test_acquire_rate_arguments_are_checked(store: SealedStore) -> None:
    with pytest.raises(ValueError, match="rate"):
        store.acquire_rate("b", rate=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        store.acquire_rate("b", rate=1, burst=0.5)


def test_acquire_rate_counts_across_threads(backend: Backend) -> None:
    stores = [backend.make(), backend.make()]
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda n: stores[n % 2].acquire_rate("b", 1, 10), range(40)))
    assert waits.count(0.0) == 10


def test_incr_daily_counts_up_to_the_limit(backend: Backend) -> None:
    one, two = backend.make(), backend.make()
    assert [one.incr_daily("api:c1", "2026-11-30", 3) for _ in range(2)] == [1, 2]
    assert two.incr_daily("api:c1", "2026-11-30", 3) == 3
    assert two.incr_daily("api:c1", "2026-11-30", 3) is None
    assert one.incr_daily("api:c1", "2026-11-30", 3) is None
    assert one.incr_daily("api:c2", "2026-11-30", 3) == 1
    assert one.incr_daily("api:c1", "2026-12-01", 3) == 1  # a new day starts at zero


# -- encryption -----------------------------------------------------------------------


def test_unencrypted_records_are_marked_plain(backend: Backend) -> None:
    store = backend.make()
    store.save(GRANT, TOKEN, expected_version=None)
    assert backend.raw_get(GRANT) == MAGIC + b"\x00" + TOKEN
    info = store.describe()
    assert info.encryption is None
    assert info.backend == backend.name
    if store.at_rest:
        assert any("unencrypted" in w and "CTCT_STORE_KEY" in w for w in info.warnings)


def test_encrypted_records_hide_the_data(backend: Backend, key_a: str) -> None:
    store = backend.make(keys_of(key_a))
    version = store.save(GRANT, TOKEN, expected_version=None)
    raw = backend.raw_get(GRANT)
    assert raw is not None
    assert raw.startswith(MAGIC + b"\x01" + key_id(parse_keys(key_a, source="t")[0]))
    assert b"secret" not in raw
    assert store.load(GRANT) == Record(TOKEN, version)
    # Two saves of the same data never produce the same ciphertext (fresh nonces).
    store.save(GRANT, TOKEN, expected_version=version)
    assert backend.raw_get(GRANT) != raw
    info = store.describe()
    assert info.encryption == "test keys"
    assert not any("unencrypted" in w for w in info.warnings)


def test_single_use_records_are_encrypted(backend: Backend, key_a: str, key_b: str) -> None:
    store = backend.make(keys_of(key_a))
    store.put_once("pkce", "s1", b"verifier-secret", ttl=60)
    assert store.take_once("pkce", "s1") == b"verifier-secret"
    store.put_once("pkce", "s2", b"verifier-secret", ttl=60)
    with pytest.raises(StoreError, match="single-use record pkce/s2") as info:
        backend.make(keys_of(key_b)).take_once("pkce", "s2")
    assert "secret" not in str(info.value)


def test_ciphertext_moved_to_another_grant_fails(backend: Backend, key_a: str) -> None:
    store = backend.make(keys_of(key_a))
    store.save(GRANT, b"grant-a-secret", expected_version=None)
    store.save(OTHER, b"grant-b-secret", expected_version=None)
    a, b = backend.raw_get(GRANT), backend.raw_get(OTHER)
    assert a is not None
    assert b is not None
    backend.raw_set(GRANT, b)
    backend.raw_set(OTHER, a)
    for key in (GRANT, OTHER):
        with pytest.raises(StoreError, match="cannot be decrypted") as info:
            store.load(key)
        assert "secret" not in str(info.value)
        assert key.profile in str(info.value)


def test_tampered_ciphertext_fails(backend: Backend, key_a: str) -> None:
    store = backend.make(keys_of(key_a))
    store.save(GRANT, b"payload", expected_version=None)
    raw = bytearray(backend.raw_get(GRANT) or b"")
    raw[-1] ^= 1
    backend.raw_set(GRANT, bytes(raw))
    with pytest.raises(StoreError, match="cannot be decrypted"):
        store.load(GRANT)


def test_wrong_key_gives_a_clear_error(backend: Backend, key_a: str, key_b: str) -> None:
    backend.make(keys_of(key_a)).save(GRANT, TOKEN, expected_version=None)
    with pytest.raises(StoreError, match="not configured") as info:
        backend.make(keys_of(key_b)).load(GRANT)
    assert "CTCT_STORE_KEY=new,old" in str(info.value)
    assert key_a not in str(info.value)
    assert "secret" not in str(info.value)
    with pytest.raises(StoreError, match="no store key is configured"):
        backend.make().load(GRANT)


def test_key_rotation_and_rekey(backend: Backend, key_a: str, key_b: str) -> None:
    old = backend.make(keys_of(key_a))
    old.save(GRANT, b"grant-1", expected_version=None)
    old.save(OTHER, b"grant-2", expected_version=None)
    rotated = backend.make(keys_of(key_b, key_a))  # new key first, old still readable
    assert rotated.load(GRANT).data == b"grant-1"  # type: ignore[union-attr]
    version = rotated.load(OTHER).version  # type: ignore[union-attr]
    assert rekey(rotated) == 2
    assert rekey(rotated) == 0  # already current: nothing rewritten
    new_id = key_id(parse_keys(key_b, source="t")[0])
    assert all((backend.raw_get(k) or b"")[4:12] == new_id for k in (GRANT, OTHER))
    record = rotated.load(OTHER)
    assert record is not None
    assert record.version > version
    new_only = backend.make(keys_of(key_b))
    assert new_only.load(GRANT).data == b"grant-1"  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="not configured"):
        backend.make(keys_of(key_a)).load(GRANT)


def test_a_keyed_store_refuses_a_plaintext_record(backend: Backend, key_a: str) -> None:
    keyed = backend.make(keys_of(key_a))
    keyed.save(GRANT, b"the-users-grant", expected_version=None)
    # Someone who can write the store plants a plaintext grant (another account's).
    backend.raw_set(GRANT, MAGIC + b"\x00" + b"a-planted-grant")
    for read in (lambda: keyed.load(GRANT), lambda: list(keyed.records())):
        # safety: src/ctct/stores/crypto.py: raise _unreadable(what, _plain_refused(what))
        with pytest.raises(RecordUnreadable) as info:
            read()
        message = str(info.value)
        assert "is not encrypted, but a store key is configured" in message
        assert "planted" in message and "rekey" in message and "--force" in message
        assert "a-planted-grant" not in message
    # Single-use records (a login's state and PKCE verifier) likewise.
    keyed.put_once("pkce", "s1", b"verifier", ttl=60)
    plain_store = backend.make()
    plain_store.put_once("pkce", "s2", b"planted-verifier", ttl=60)
    with pytest.raises(StoreError, match="is not encrypted"):
        keyed.take_once("pkce", "s2")
    # Without a key, plaintext is what the store holds: read as before.
    assert plain_store.load(GRANT).data == b"a-planted-grant"  # type: ignore[union-attr]


def test_rekey_adopts_and_encrypts_records_written_before_the_key(
    backend: Backend, key_a: str
) -> None:
    backend.make().save(GRANT, b"from-before", expected_version=None)
    backend.make().save(OTHER, b"also-before", expected_version=None)
    keyed = backend.make(keys_of(key_a))
    with pytest.raises(RecordUnreadable, match="not encrypted"):
        keyed.load(GRANT)
    assert rekey(keyed) == 2  # the operator's explicit adoption
    for key, data in ((GRANT, b"from-before"), (OTHER, b"also-before")):
        assert data not in (backend.raw_get(key) or data)
        assert keyed.load(key).data == data  # type: ignore[union-attr]


def test_foreign_bytes_in_a_record_are_reported_corrupt(backend: Backend) -> None:
    store = backend.make()
    store.save(GRANT, b"x", expected_version=None)
    backend.raw_set(GRANT, b"not an envelope")
    with pytest.raises(StoreError, match="not in ctct's format"):
        store.load(GRANT)


# -- lifecycle ------------------------------------------------------------------------


def test_closed_store_refuses_work(backend: Backend) -> None:
    store = backend.make()
    store.save(GRANT, b"x", expected_version=None)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.load(GRANT)
    with pytest.raises(StoreError, match="closed"):
        store.lock(GRANT, 1)
    assert backend.make().load(GRANT) is not None  # the data outlives the handle


def test_store_is_a_context_manager(backend: Backend) -> None:
    with backend.make() as store:
        store.save(GRANT, b"x", expected_version=None)
    assert store.closed
