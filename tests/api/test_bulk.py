"""Splitting bulk work at CC's limits (pure)."""

from __future__ import annotations

import json

import pytest

from ctct.api.bulk import (
    MAX_IMPORT_BYTES,
    csv_chunks,
    id_batches,
    json_import_chunks,
)
from ctct.api.errors import InputError

LIST = "04fe9a97-a579-43c5-bb1a-58ed29bf0a6a"


def rows(n: int) -> list[dict[str, str]]:
    return [
        {"email": f"person{i:06d}@example.com", "first_name": f"First{i}", "last_name": f"Last{i}"}
        for i in range(n)
    ]


def test_100k_contacts_take_three_requests_within_limits() -> None:
    contacts = rows(100_000)
    chunks = list(json_import_chunks(contacts, [LIST]))
    assert [c.count for c in chunks] == [40_000, 40_000, 20_000]
    assert [c.start for c in chunks] == [0, 40_000, 80_000]
    for chunk in chunks:
        assert len(chunk.body) <= MAX_IMPORT_BYTES
        body = json.loads(chunk.body)
        assert body["list_ids"] == [LIST]
        assert body["import_data"] == contacts[chunk.start : chunk.start + chunk.count]


def test_size_limit_splits_before_count_limit() -> None:
    contacts = [{"email": f"p{i}@example.com", "street": "x" * 250} for i in range(100)]
    chunks = list(json_import_chunks(contacts, [LIST], max_bytes=5_000))
    assert sum(c.count for c in chunks) == 100 and len(chunks) > 1
    assert all(len(c.body) <= 5_000 for c in chunks)
    joined = [row for c in chunks for row in json.loads(c.body)["import_data"]]
    assert joined == contacts
    with pytest.raises(InputError, match="alone is"):
        list(json_import_chunks(contacts, [LIST], max_bytes=200))
    with pytest.raises(InputError, match="at least one list"):
        list(json_import_chunks(contacts, []))


def test_csv_chunks_repeat_the_header() -> None:
    text = "email,first_name\n" + "".join(f"p{i}@example.com,N{i}\n" for i in range(10))
    pieces = list(csv_chunks(text, max_rows=4))
    assert [n for _, n in pieces] == [4, 4, 2]
    assert all(p.startswith(b"email,first_name\r\n") for p, _ in pieces)
    assert pieces[2][0].endswith(b"p9@example.com,N9\r\n")


def test_id_batches() -> None:
    assert [len(b) for b in id_batches([str(i) for i in range(1_001)])] == [500, 500, 1]
