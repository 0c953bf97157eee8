"""Stored times between hosts whose clocks disagree (ctct._store_clock): a record carries
its writer's offset to the store's clock, and a reader moves its times onto its own."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import count

import pytest

from ctct._refresh import decode
from ctct._secret import Secret
from ctct._store_clock import NOISE, OffsetCache, measure, rebase, shift
from ctct._tokens import TokenSet, TokenState
from ctct.keeper.schedule import Policy, Timing, plan
from ctct.stores import GrantKey, MemoryStore, Record, open_store
from tests.servers import fresh_postgres_schema

T = 1_800_000_000.0
KEY = GrantKey("default", "https://issuer.example", "client")


def tokens(received: float, lifetime: float = 600.0) -> TokenSet:
    return TokenSet(
        issuer=KEY.issuer,
        client_id=KEY.client_id,
        access_token=Secret("access"),
        refresh_token=Secret("refresh"),
        expires_at=received + lifetime,
        received_at=received,
        obtained_at=received - 3600,
        last_refresh_at=received,
        refresh_token_used_at=received,
        clock_skew=90.0,
    )


def test_shift_is_the_difference_of_offsets_and_ignores_noise() -> None:
    # The writer 90 s behind the store (offset +90), the reader 90 s ahead (-90): the
    # reader's clock reads 180 s more than the writer's at any instant.
    assert shift(90.0, -90.0) == 180.0
    assert shift(-90.0, 90.0) == -180.0
    assert shift(12.5, 12.5) == 0.0
    assert shift(0.0, NOISE / 2) == 0.0  # a round trip's asymmetry, not a clock
    assert shift(0.0, -NOISE) == NOISE


def test_a_record_of_a_host_behind_is_read_on_the_clock_of_a_host_ahead() -> None:
    # Written on a clock 90 s behind the store's, at its local time T.
    written = tokens(T)
    data = written.to_json(store_offset=90.0)
    assert json.loads(data)["store_offset"] == 90.0
    # A host 90 s ahead: the same instant is T + 180 on its clock.
    # safety: src/ctct/_tokens.py: moved = shift(0.0 if writer is None else _required_time(writer), reader_offset)  # noqa: E501
    read = TokenSet.from_json(data, reader_offset=-90.0)
    assert read.received_at == T + 180 and read.expires_at == T + 780
    assert read.obtained_at == T + 180 - 3600
    assert read.last_refresh_at == read.refresh_token_used_at == T + 180
    assert read.clock_skew == 90.0 - 180  # the provider's clock is behind this one
    assert read.state(T + 181) is TokenState.FRESH  # not "already expired"
    # And the other way: a host behind the writer must not serve it past its expiry.
    behind = TokenSet.from_json(tokens(T).to_json(store_offset=-90.0), reader_offset=90.0)
    assert behind.expires_at == T + 600 - 180
    assert behind.state(T + 500) is TokenState.EXPIRED


def test_the_same_clock_reads_exactly_what_it_wrote() -> None:
    written = tokens(T + 0.123456789)
    for offset in (0.0, 37.25, -900.0):
        read = TokenSet.from_json(written.to_json(store_offset=offset), reader_offset=offset)
        assert read.expires_at == written.expires_at and read.clock_skew == 90.0
        # Noise between two measurements of one host leaves the times untouched.
        near = TokenSet.from_json(written.to_json(offset), reader_offset=offset + 0.01)
        assert near.received_at == written.received_at


def test_a_record_without_an_offset_counts_as_written_at_offset_0() -> None:
    record = json.loads(tokens(T).to_json())
    del record["store_offset"]  # as ctct wrote records before
    old = json.dumps(record).encode()
    assert TokenSet.from_json(old).expires_at == T + 600
    assert TokenSet.from_json(old, reader_offset=-90.0).expires_at == T + 690


def test_records_carry_the_readers_offset_and_snapshots_write_it_back() -> None:
    store = MemoryStore()
    assert store.clock_offset() == 0.0  # a store on this host: one clock
    store.save(KEY, tokens(T).to_json(store_offset=-30.0), expected_version=None)
    record = store.load(KEY)
    assert record is not None and record.clock_offset == 0.0
    snapshot = decode(record)
    assert snapshot.tokens.expires_at == T + 600 - 30 and snapshot.store_offset == 0.0
    # A record's offset is how it was read, not what it holds: equality ignores it.
    assert replace(record, clock_offset=5.0) == record
    # The keeper plans from the converted times, like every other reader.
    timing = Timing(guard=40.0, worker_margin=60.0)
    at_writer = plan(
        tokens(T), ident="a", policy=Policy.KEEP_FRESH, timing=timing, idle_ttl=None, now=T
    )
    at_reader = plan(
        decode(Record(record.data, 1, clock_offset=-60.0)).tokens,
        ident="a",
        policy=Policy.KEEP_FRESH,
        timing=timing,
        idle_ttl=None,
        now=T,
    )
    assert at_writer is not None and at_reader is not None
    assert at_reader.deadline == at_writer.deadline - 30 + 60


def test_the_offset_is_measured_at_the_middle_of_the_round_trip_and_cached() -> None:
    walls = iter([100.0, 100.2])
    assert measure(lambda: 190.1, lambda: next(walls)) == pytest.approx(90.0)
    monotonic = [0.0]
    readings = count()
    cache = OffsetCache(wall=lambda: 0.0, monotonic=lambda: monotonic[0], every=60.0)

    def server() -> float:
        return float(next(readings))

    assert cache.get(server) == 0.0
    monotonic[0] = 59.0
    assert cache.get(server) == 0.0  # cached: no round trip per read
    monotonic[0] = 60.0
    assert cache.get(server) == 1.0


def test_a_server_store_measures_its_offset_once_for_every_handle() -> None:
    url, cleanup = fresh_postgres_schema()
    try:
        first, second = open_store(url), open_store(url)
        try:
            first.save(KEY, tokens(T).to_json(first.clock_offset()), expected_version=None)
            offset = first.clock_offset()
            assert abs(offset) < 1.0  # this machine's clock and its PostgreSQL's agree
            first.time_offset = 3600.0  # the test device moves leases, not this clock
            record = second.load(KEY)
            assert record is not None and record.clock_offset == offset
            assert decode(record).tokens.expires_at == T + 600
        finally:
            first.close()
            second.close()
    finally:
        cleanup()


def test_a_copied_record_is_retold_against_the_new_stores_clock() -> None:
    data = tokens(T).to_json(store_offset=10.0)
    moved = rebase(data, -90.0)  # the new store's clock is 90 s behind the old one's
    assert json.loads(moved)["store_offset"] == -80.0
    # Read against either store by the same host, the times are the same instant.
    old = TokenSet.from_json(data, reader_offset=0.0)
    assert TokenSet.from_json(moved, reader_offset=-90.0).expires_at == old.expires_at
    assert rebase(data, 0.1) is data  # the same clock, to within noise: byte for byte
    assert rebase(b'{"ctct_moved_to":"x","moved_at":1}', 90.0) == (
        b'{"ctct_moved_to":"x","moved_at":1}'
    )
