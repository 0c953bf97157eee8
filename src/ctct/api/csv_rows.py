"""Reading a contacts CSV for import, checking every row locally first (pure).

Each data row becomes a ``JsonImportContact`` dict or a ``Rejected`` entry with its CSV
line number and the reason; none is dropped silently. Problems with the file as a
whole (no header, no ``email`` column, unknown or repeated columns) raise
``InputError``. Checked per row: field count, missing or invalid email, text over
Constant Contact's length limits, birthday numbers, invalid UTF-8, malformed quoting,
and repeated emails (the first occurrence is kept).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ctct.api.errors import InputError

EMAIL = re.compile(r"^[^@\s,;<>()\[\]\"]+@[^@\s,;<>()\[\]\"]+\.[^@\s,;<>()\[\]\".]+$")

# JsonImportContact's columns and their maximum lengths (v3-swagger.yml).
_SHORT = 50
_STREET = 255
COLUMNS: dict[str, int] = {
    "email": 50,
    "first_name": _SHORT,
    "last_name": _SHORT,
    "job_title": _SHORT,
    "company_name": _SHORT,
    "birthday_month": 2,
    "birthday_day": 2,
    "anniversary": 10,
    "phone": _SHORT,
    "home_phone": _SHORT,
    "work_phone": _SHORT,
    "mobile_phone": _SHORT,
    "other_phone": _SHORT,
    "street": _STREET,
    "street2": _STREET,
    "city": _SHORT,
    "state": _SHORT,
    "zip": _SHORT,
    "country": _SHORT,
    **{
        f"{kind}_{part}": _STREET
        for kind in ("home", "work", "other")
        for part in ("street", "street2")
    },
    **{
        f"{kind}_{part}": _SHORT
        for kind in ("home", "work", "other")
        for part in ("city", "state", "zip", "country")
    },
}
# Columns a contact export has and a JSON import cannot set: they describe the contact in
# the account it came from (its id, timestamps, consent record, list ids, tags).
EXPORT_ONLY = frozenset(
    {
        "permission_to_send",
        *(f"email_opt{way}_{what}" for way in ("in", "out") for what in ("source", "date")),
        "email_optout_reason",
        *("list_memberships", "taggings", "contact_id", "created_at", "updated_at"),
    }
)
# Delimiters a spreadsheet may save a "CSV" with (Excel in many locales writes ';').
DELIMITERS = ",;\t"
CUSTOM_FIELD_PREFIX = "cf:"
CUSTOM_FIELD_MAX = 255
MAX_CUSTOM_FIELDS = 25


@dataclass(frozen=True)
class Rejected:
    """A row that will not be imported: its line in the file, the reason, its email."""

    line: int
    reason: str
    email: str | None = None


@dataclass
class ContactsCsv:
    """A checked CSV: the contacts to import (with their line numbers) and the rejects;
    ``delimiter`` is the one the file uses, ``ignored`` the columns of a
    ``ctct contacts export`` file that an import cannot set."""

    columns: list[str]
    contacts: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    delimiter: str = ","
    ignored: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.contacts) + len(self.rejected)


def _normalize_header(raw: list[str]) -> list[str]:
    columns: list[str] = []
    unknown: list[str] = []
    for name in raw:
        key = name.strip()
        if key.lower().startswith(CUSTOM_FIELD_PREFIX):
            key = CUSTOM_FIELD_PREFIX + key[len(CUSTOM_FIELD_PREFIX) :].strip()
            if key == CUSTOM_FIELD_PREFIX:
                unknown.append(name)
        else:
            key = key.lower().replace(" ", "_").replace("-", "_")
            if key == "email_address":
                key = "email"
            if key not in COLUMNS and key not in EXPORT_ONLY:
                unknown.append(name)
        columns.append(key)
    if unknown:
        raise InputError(
            f"Line 1: unknown column(s) {', '.join(repr(u) for u in unknown)}. Use email, "
            "first_name, last_name, job_title, company_name, phone, street, city, state, zip, "
            "country (and the other JsonImportContact names), or cf:<custom field name>."
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(f"Line 1: column(s) {', '.join(repeated)} appear more than once.")
    if "email" not in columns:
        raise InputError(
            "Line 1: the header has no email column; the first line must name the columns, "
            "e.g. email,first_name,last_name."
        )
    if sum(c.startswith(CUSTOM_FIELD_PREFIX) for c in columns) > MAX_CUSTOM_FIELDS:
        raise InputError(f"Line 1: at most {MAX_CUSTOM_FIELDS} custom field columns are allowed.")
    return columns


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line (the first line with text): ``,``, ``;`` or a
    tab, as ``csv.Sniffer`` sees it; ``,`` when the line has none (one column). Only
    the header is looked at: column names hold no delimiters, data cells may."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _records(text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str] | None, str | None]]:
    """``(first line, fields, error)`` per record; fields None when it is malformed."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, f"malformed CSV: {exc}"
            continue
        yield start, row, None


def _check_value(column: str, value: str) -> str | None:
    limit = CUSTOM_FIELD_MAX if column.startswith(CUSTOM_FIELD_PREFIX) else COLUMNS[column]
    if len(value) > limit:
        return f"{column} is {len(value)} characters long; Constant Contact allows at most {limit}"
    if column == "birthday_month" and not (value.isdigit() and 1 <= int(value) <= 12):
        return f"birthday_month must be a number from 1 to 12, not {value!r}"
    if column == "birthday_day" and not (value.isdigit() and 1 <= int(value) <= 31):
        return f"birthday_day must be a number from 1 to 31, not {value!r}"
    return None


def parse_contacts_csv(data: bytes | str) -> ContactsCsv:
    """Check a contacts CSV (UTF-8, optional BOM; comma, semicolon or tab separated) and
    split it into contacts and rejects. A ``ctct contacts export`` file is accepted: its
    export-only columns are ignored, and a contact it shows as unsubscribed is rejected
    (an import into another account must not subscribe them again)."""
    text = data.decode("utf-8-sig", errors="surrogateescape") if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    delimiter = sniff_delimiter(text)
    records = _records(text, delimiter)
    header: list[str] | None = None
    for line, row, error in records:
        if error is not None or row is None:
            raise InputError(f"Line {line}: the header row is malformed ({error}).")
        if row and any(cell.strip() for cell in row):
            header = row
            break
    if header is None:
        raise InputError("The CSV file is empty: the first line must name the columns (email,...).")
    if any(_has_bad_bytes(cell) for cell in header):
        raise InputError("Line 1: the header is not valid UTF-8 text; save the file as UTF-8.")
    columns = _normalize_header(header)
    result = ContactsCsv(
        columns=columns,
        delimiter=delimiter,
        ignored=[c for c in columns if c in EXPORT_ONLY],
    )
    seen: dict[str, int] = {}
    for line, row, error in records:
        if row is not None and not any(cell.strip() for cell in row):
            continue  # blank line
        rejected = _check_row(result.columns, line, row, error, seen)
        if isinstance(rejected, Rejected):
            result.rejected.append(rejected)
        else:
            result.contacts.append(rejected)
            result.lines.append(line)
    return result


def _check_row(
    columns: list[str], line: int, row: list[str] | None, error: str | None, seen: dict[str, int]
) -> Rejected | dict[str, Any]:
    if row is None:
        return Rejected(line, error or "malformed CSV")
    values = dict(zip(columns, (cell.strip() for cell in row), strict=False))
    email = values.get("email") or None
    if len(row) != len(columns):
        return Rejected(line, f"has {len(row)} fields; the header has {len(columns)}", email)
    if any(_has_bad_bytes(cell) for cell in row):
        return Rejected(line, "is not valid UTF-8 text (save the file as UTF-8)", None)
    if not email:
        return Rejected(line, "missing email address")
    if not EMAIL.match(email):
        return Rejected(line, f"invalid email address {email!r}", email)
    if values.get("permission_to_send", "").lower() == "unsubscribed":
        return Rejected(
            line, "is unsubscribed in the export; ctct does not subscribe it again", email
        )
    for column, value in values.items():
        problem = _check_value(column, value) if value and column not in EXPORT_ONLY else None
        if problem:
            return Rejected(line, problem, email)
    key = email.lower()
    if key in seen:
        return Rejected(line, f"repeats the email address of line {seen[key]}", email)
    seen[key] = line
    contact: dict[str, Any] = {}
    for column, value in values.items():
        if value and column not in EXPORT_ONLY:
            contact[column] = int(value) if column in ("birthday_month", "birthday_day") else value
    return contact


def _has_bad_bytes(text: str) -> bool:
    # surrogateescape maps undecodable bytes to U+DC80..U+DCFF.
    return any("\udc80" <= ch <= "\udcff" for ch in text)
