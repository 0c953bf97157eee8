"""Validating contact-import requests (JSON ``ContactsJsonImport`` and CSV uploads).

Pure logic. What is checked here, before anything is queued, is what makes the whole
request unusable (CC's 400, listing every problem): size and row limits, unknown
columns, list ids, a CSV header without ``email``/``sms_number``. Problems of single rows
(an invalid email address, a too-long name) are reported later in the activity's
``activity_errors``, as CC does, and the other rows are imported.

CC documents that it *drops* what lies beyond 4 MB or 40,000 rows; the emulator refuses
such requests instead, so a client that would lose contacts learns it at once.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import is_uuid

AREA: Final = "activities"
MAX_BYTES: Final = 4_000_000  # "less than 4 megabytes": the strictest reading
MAX_CONTACTS: Final = 40_000  # JSON: contacts; CSV: lines including the header
MAX_LISTS: Final = 50
SMS_PERMISSIONS: Final = ("not_set", "explicit")

_ADDRESS_PARTS: Final = ("street", "street2", "city", "state", "zip", "country")
COLUMNS: Final = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "job_title",
        "company_name",
        "birthday_month",
        "birthday_day",
        "anniversary",
        "phone",
        "home_phone",
        "work_phone",
        "mobile_phone",
        "other_phone",
        "sms_number",
        "sms_consent_date",
        *_ADDRESS_PARTS,
        *(f"{kind}_{part}" for kind in ("home", "work", "other") for part in _ADDRESS_PARTS),
    }
)
# Spellings accepted for a column: the contract's own typo ("home country") and the
# header a spreadsheet user is likely to write.
_ALIASES: Final = {"home country": "home_country", "email_address": "email"}
CF_PREFIX: Final = "cf:"


@dataclass
class ImportBatch:
    """A validated import: column names, then per row its number (as CC counts it) and
    its values (``None`` for blank cells), aligned with ``columns``."""

    columns: list[str]
    rows: list[list[Any]]
    list_ids: list[str]
    sms_permission: str = "not_set"
    source_file_name: str | None = None
    custom_field_names: list[str] = field(default_factory=list)

    @property
    def header_rows(self) -> int:
        """1 for a CSV file (CC counts its header row among the items), 0 for JSON."""
        return 1 if self.source_file_name is not None else 0


def normalize_column(raw: str) -> str:
    """``cf:<name>`` keeps its name's case; other columns are case-insensitive, and blanks
    count as underscores (``First Name`` is ``first_name``)."""
    text = raw.strip()
    if text.lower().startswith(CF_PREFIX):
        return CF_PREFIX + text[len(CF_PREFIX) :].strip()
    lowered = text.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    key = re.sub(r"\s+", "_", lowered)
    return _ALIASES.get(key, key)


def _check_columns(columns: list[str], where: str, problems: list[str]) -> None:
    unknown = [c for c in columns if c not in COLUMNS and not c.startswith(CF_PREFIX)]
    if unknown:
        problems.append(
            f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; use the contract's "
            "JsonImportContact names (email, first_name, ..., cf:<custom field name>)."
        )
    empty_cf = [c for c in columns if c == CF_PREFIX]
    if empty_cf:
        problems.append(f"{where}: a cf: column needs a custom field name after the prefix.")


def _list_ids(raw: object, problems: list[str]) -> list[str]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"list_ids is required: 1 to {MAX_LISTS} list ids.")
        return []
    if len(raw) > MAX_LISTS:
        problems.append(f"list_ids may have at most {MAX_LISTS} ids; got {len(raw)}.")
    bad = [i for i in raw if not is_uuid(i)]
    if bad:
        problems.append(f"list_ids must be list ids (UUIDs); got {bad[0]!r}.")
        return []
    return list(dict.fromkeys(str(i).lower() for i in raw))


def _sms_permission(raw: object, problems: list[str]) -> str:
    if raw is None or raw == "":
        return "not_set"
    if raw not in SMS_PERMISSIONS:
        problems.append(f"sms_permission_to_send must be one of {', '.join(SMS_PERMISSIONS)}.")
        return "not_set"
    return str(raw)


def _cf_names(columns: list[str]) -> list[str]:
    return [c[len(CF_PREFIX) :] for c in columns if c.startswith(CF_PREFIX) and c != CF_PREFIX]


def _too_big(size: int, what: str) -> errors.ApiError:
    return errors.validation(
        AREA,
        f"The {what} is {size:,} bytes; it must be less than 4 MB ({MAX_BYTES:,} bytes). "
        "Split the contacts over several requests.",
    )


def parse_json_import(raw: bytes, body: object) -> ImportBatch:
    """A ``POST /activities/contacts_json_import`` body (``raw`` is its bytes)."""
    if len(raw) >= MAX_BYTES:
        raise _too_big(len(raw), "request body")
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    unknown = sorted(set(body) - {"import_data", "list_ids", "sms_permission_to_send"})
    if unknown:
        problems.append(f"{', '.join(unknown)}: not a property of ContactsJsonImport.")
    list_ids = _list_ids(body.get("list_ids"), problems)
    sms = _sms_permission(body.get("sms_permission_to_send"), problems)
    data = body.get("import_data")
    if not isinstance(data, list) or not data:
        problems.append("import_data is required: an array of 1 or more contacts.")
        data = []
    elif len(data) > MAX_CONTACTS:
        problems.append(
            f"import_data has {len(data):,} contacts; at most {MAX_CONTACTS:,} per request."
        )
    columns: dict[str, None] = {}
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            problems.append(f"import_data[{index}] must be an object.")
            continue
        for key, value in item.items():
            columns.setdefault(normalize_column(key))
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, str | int | float)
            ):
                problems.append(f"import_data[{index}].{key} must be a string.")
        if len(problems) > 50:
            break  # enough to act on
    names = list(columns)
    _check_columns(names, "import_data", problems)
    if problems:
        raise errors.validation(AREA, *problems)
    rows = []
    for index, item in enumerate(data):
        values = {normalize_column(k): _cell(v) for k, v in item.items()}
        rows.append([index + 1, *(values.get(c) for c in names)])
    return ImportBatch(names, rows, list_ids, sms, None, _cf_names(names))


def _cell(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_csv_import(
    content: bytes, filename: str, list_ids_raw: list[str], sms_raw: str | None
) -> ImportBatch:
    """A ``POST /activities/contacts_file_import`` upload: the file's bytes and name, the
    ``list_ids`` form values (each may be comma-separated) and ``sms_permission_to_send``."""
    if len(content) >= MAX_BYTES:
        raise _too_big(len(content), "file")
    problems: list[str] = []
    ids = [part.strip() for raw in list_ids_raw for part in raw.split(",") if part.strip()]
    list_ids = _list_ids(ids, problems)
    sms = _sms_permission(sms_raw, problems)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise errors.validation(AREA, "The file must be CSV text encoded as UTF-8.") from None
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if len(lines) > MAX_CONTACTS:
        problems.append(
            f"The file has {len(lines):,} lines; at most {MAX_CONTACTS:,} including the "
            "header row (39,999 contacts) per request."
        )
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise errors.validation(AREA, *problems, "The file is empty: it needs a header row.")
    columns = [normalize_column(c) for c in lines[0]]
    if "email" not in columns and "sms_number" not in columns:
        problems.append("The file's header row needs an email or sms_number column.")
    _check_columns(columns, "header row", problems)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        problems.append(f"header row: column(s) {', '.join(duplicated)} appear more than once.")
    rows = []
    for number, line in enumerate(lines[1:], start=2):  # the header is row 1
        if not any(cell.strip() for cell in line):
            continue
        if len(line) > len(columns):
            problems.append(
                f"Row {number} has {len(line)} cells but the header has {len(columns)}."
            )
            if len(problems) > 50:
                break
            continue
        rows.append([number, *(_cell(v) for v in line), *([None] * (len(columns) - len(line)))])
    if not rows and not problems:
        problems.append("The file has a header row but no contacts.")
    if problems:
        raise errors.validation(AREA, *problems)
    return ImportBatch(columns, rows, list_ids, sms, filename, _cf_names(columns))
