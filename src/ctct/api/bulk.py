"""Splitting bulk work at Constant Contact's limits (pure functions).

CC takes at most 40,000 contacts and less than 4 MB per import request (and silently
drops what is over the size), and at most 500 contact ids per membership or delete
activity. Import bodies are serialized here, compactly, so their size is measured
exactly as sent.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ctct.api.errors import InputError

MAX_IMPORT_CONTACTS = 40_000
MAX_CSV_DATA_ROWS = MAX_IMPORT_CONTACTS - 1
"""CC counts the header among a CSV file's 40,000 lines."""
MAX_IMPORT_BYTES = 4_000_000 - 1
"""Under 4 MB ("less than 4 MB"), counted in decimal bytes: the conservative reading."""
MULTIPART_ALLOWANCE = 2_048
"""Room left in a CSV import for the multipart envelope and the list_ids field."""
MAX_IDS_PER_ACTIVITY = 500


def dumps(value: Any) -> bytes:
    """Compact JSON, as ctct sends it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class ImportChunk:
    """One import request: its serialized body and which input rows it carries."""

    body: bytes
    start: int  # index of the first contact in the caller's sequence
    count: int


def json_import_chunks(
    contacts: Sequence[dict[str, Any]],
    list_ids: Sequence[str],
    *,
    max_count: int = MAX_IMPORT_CONTACTS,
    max_bytes: int = MAX_IMPORT_BYTES,
    extra: dict[str, Any] | None = None,
) -> Iterator[ImportChunk]:
    """``ContactsJsonImport`` bodies holding ``contacts`` in order, each within limits."""
    if not list_ids:
        raise InputError("An import needs at least one list: give the list_ids to add to.")
    tail_fields = {"list_ids": list(list_ids), **(extra or {})}
    head = b'{"import_data":['
    tail = b"]," + dumps(tail_fields)[1:]  # '],"list_ids":[...]}'
    fixed = len(head) + len(tail)
    parts: list[bytes] = []
    size, start = fixed, 0
    for index, contact in enumerate(contacts):
        row = dumps(contact)
        added = len(row) + (1 if parts else 0)
        if fixed + len(row) > max_bytes:
            raise InputError(
                f"Contact #{index + 1} alone is {len(row):,} bytes, over the import limit of "
                f"{max_bytes:,} bytes."
            )
        if parts and (len(parts) >= max_count or size + added > max_bytes):
            yield ImportChunk(head + b",".join(parts) + tail, start, len(parts))
            parts, size, start = [], fixed, index
            added = len(row)
        parts.append(row)
        size += added
    if parts:
        yield ImportChunk(head + b",".join(parts) + tail, start, len(parts))


def chunk_starts(
    contacts: Sequence[dict[str, Any]],
    list_ids: Sequence[str],
    *,
    max_count: int = MAX_IMPORT_CONTACTS,
    max_bytes: int = MAX_IMPORT_BYTES,
) -> list[int]:
    """Where each request of ``json_import_chunks`` starts (to map CC's "Row N" back)."""
    return [
        c.start
        for c in json_import_chunks(contacts, list_ids, max_count=max_count, max_bytes=max_bytes)
    ]


def csv_chunks(
    data: str,
    *,
    max_rows: int = MAX_CSV_DATA_ROWS,
    max_bytes: int = MAX_IMPORT_BYTES - MULTIPART_ALLOWANCE,
) -> Iterator[tuple[bytes, int]]:
    """``(csv file bytes, rows)`` pieces of a CSV, each with the header and within limits."""
    reader = csv.reader(io.StringIO(data), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(
            "The CSV file is empty: it needs a header row with an email column."
        ) from None
    except csv.Error as exc:
        raise InputError(f"The CSV header is malformed: {exc}.") from None

    def encode(row: list[str]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(row)
        return out.getvalue().encode("utf-8")

    head = encode(header)
    rows: list[bytes] = []
    size = len(head)
    try:
        for row in reader:
            if not row:
                continue
            line = encode(row)
            if rows and (len(rows) >= max_rows or size + len(line) > max_bytes):
                yield head + b"".join(rows), len(rows)
                rows, size = [], len(head)
            rows.append(line)
            size += len(line)
    except csv.Error as exc:
        raise InputError(
            f"The CSV is malformed at line {reader.line_num}: {exc}. Fix the file, or use "
            "`ctct contacts import`, which reports each bad row."
        ) from None
    if rows:
        yield head + b"".join(rows), len(rows)


def id_batches(ids: Iterable[str], size: int = MAX_IDS_PER_ACTIVITY) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
