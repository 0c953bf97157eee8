"""One imported row: its problems, and the contact document it makes. Pure logic.

Importing follows CC: a new contact gets ``permission_to_send: implicit`` and
``opt_in_source: Account``; an existing one (same email address) is updated only in the
properties the row gives (blank cells change nothing) and keeps its permission.

Row problems are CC's two kinds. *Correctable* (the row is not imported, CC's UI would
let a person fix it): an invalid email address, a bad birthday or anniversary, no email
address or SMS number. *Errors*: anything else that makes the row unusable (a value too
long, an invalid SMS number, an unknown custom field). Messages start ``Row <n>:`` with
``n`` counted as CC does (a CSV's header is row 1; JSON contacts count from 1).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final

from ctct.emulator.api import contact_model
from ctct.emulator.api.contact_input import is_anniversary, is_email
from ctct.emulator.api.import_input import CF_PREFIX
from ctct.emulator.api.isotime import format_datetime

SOURCE: Final = "Account"
MAX_EMAIL: Final = 50  # JsonImportContact.email maxLength
_TEXT_LIMITS: Final = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50}
# Phone columns and the kind each becomes; stored numbers are at most 25 characters.
PHONE_COLUMNS: Final = {
    "phone": "other",
    "home_phone": "home",
    "work_phone": "work",
    "mobile_phone": "mobile",
    "other_phone": "other",
}
MAX_PHONE: Final = 25
# Address column prefixes and the kind each becomes ("" is the unprefixed set).
ADDRESS_PREFIXES: Final = {"": "other", "home_": "home", "work_": "work", "other_": "other"}
_ADDRESS_FIELDS: Final = {
    "street": ("street", 255),
    "street2": ("street", 255),
    "city": ("city", 50),
    "state": ("state", 50),
    "zip": ("postal_code", 50),
    "country": ("country", 50),
}
MAX_ITEMS: Final = 3  # phone numbers and street addresses per contact
MAX_CUSTOM_VALUE: Final = 255
_SMS_JUNK = re.compile(r"[\s().+-]")
_ADDRESS_COLUMNS: Final = frozenset(p + part for p in ADDRESS_PREFIXES for part in _ADDRESS_FIELDS)
# Longest value per column (checked only for the columns a row has: rows are many).
_LENGTH_LIMITS: Final = {
    **_TEXT_LIMITS,
    **dict.fromkeys(PHONE_COLUMNS, MAX_PHONE),
    **{
        prefix + part: limit
        for prefix in ADDRESS_PREFIXES
        for part, (_, limit) in _ADDRESS_FIELDS.items()
    },
}


def sms_address(raw: str) -> str | None:
    """``1`` + 10 digits for a US number (``1231231234``, ``123-123-1234``...), else None."""
    digits = _SMS_JUNK.sub("", raw)
    if digits.isdigit() and len(digits) == 10:
        return "1" + digits
    if digits.isdigit() and len(digits) == 11 and digits.startswith("1"):
        return digits
    return None


def problems(
    number: int, values: dict[str, str], custom_fields: dict[str, str], sms_permission: str
) -> tuple[list[str], list[str]]:
    """``(correctable, errors)`` messages for one row's non-blank ``values``."""
    correctable: list[str] = []
    fatal: list[str] = []
    prefix = f"Row {number}:"
    email = values.get("email")
    if email is None and "sms_number" not in values:
        correctable.append(f"{prefix} no email address or SMS number; the contact needs one.")
    if email is not None and (len(email) > MAX_EMAIL or not is_email(email)):
        correctable.append(f"{prefix} email address {email!r} is not valid.")
    birthday = [values.get("birthday_month"), values.get("birthday_day")]
    if any(birthday) and not _birthday_ok(*birthday):
        correctable.append(
            f"{prefix} birthday_month and birthday_day must be given together, as 1-12 and 1-31."
        )
    anniversary = values.get("anniversary")
    if anniversary is not None and not is_anniversary(anniversary):
        correctable.append(f"{prefix} anniversary {anniversary!r} is not a valid date.")
    for column, value in values.items():
        limit = _LENGTH_LIMITS.get(column)
        if limit is not None and len(value) > limit:
            fatal.append(f"{prefix} {column} is longer than {limit} characters.")
    sms = values.get("sms_number")
    if sms is not None and sms_address(sms) is None:
        fatal.append(f"{prefix} sms_number {sms!r} is not a valid US phone number.")
    if sms is not None and sms_permission == "explicit" and "sms_consent_date" not in values:
        fatal.append(f"{prefix} sms_consent_date is required with explicit SMS permission.")
    for column, value in values.items():
        if not column.startswith(CF_PREFIX):
            continue
        if column[len(CF_PREFIX) :].lower() not in custom_fields:
            fatal.append(f"{prefix} custom field {column[len(CF_PREFIX) :]!r} does not exist.")
        elif len(value) > MAX_CUSTOM_VALUE:
            fatal.append(f"{prefix} {column} is longer than {MAX_CUSTOM_VALUE} characters.")
    return correctable, fatal


def _birthday_ok(month: str | None, day: str | None) -> bool:
    if month is None or day is None or not month.isdigit() or not day.isdigit():
        return False
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def merge(
    old: dict[str, Any] | None,
    values: dict[str, str],
    custom_fields: dict[str, str],
    sms_permission: str,
    now: float,
    stamp: str | None = None,
) -> dict[str, Any]:
    """The contact document after importing a valid row into ``old`` (None: a new one).
    ``stamp`` is ``now`` formatted (callers merging many rows format it once)."""
    stamp = stamp or format_datetime(now)
    data: dict[str, Any] = dict(old) if old else {"create_source": SOURCE}
    data["update_source"] = SOURCE
    for name in _TEXT_LIMITS:
        if name in values:
            data[name] = values[name]
    if "birthday_month" in values:
        data["birthday_month"] = int(values["birthday_month"])
        data["birthday_day"] = int(values["birthday_day"])
    if "anniversary" in values:
        data["anniversary"] = values["anniversary"]
    email = values.get("email")
    if email is not None and "email_address" not in data:
        data["email_address"] = {
            "address": email,
            "permission_to_send": "implicit",
            "created_at": stamp,
            "updated_at": stamp,
            "opt_in_source": SOURCE,
            "opt_in_date": stamp,
            "confirm_status": "off",
        }
    present = values.keys()
    if not present.isdisjoint(PHONE_COLUMNS):
        for column, kind in PHONE_COLUMNS.items():
            if column in values:
                data["phone_numbers"] = _upsert_phone(
                    data.get("phone_numbers", []), values[column], kind, stamp
                )
    if not present.isdisjoint(_ADDRESS_COLUMNS):
        for prefix, kind in ADDRESS_PREFIXES.items():
            parts = {p: values[prefix + p] for p in _ADDRESS_FIELDS if prefix + p in values}
            if parts:
                data["street_addresses"] = _upsert_address(
                    data.get("street_addresses", []), parts, kind, stamp
                )
    given = {
        custom_fields[c[len(CF_PREFIX) :].lower()]: v
        for c, v in values.items()
        if c.startswith(CF_PREFIX)
    }
    if given:
        kept = [f for f in data.get("custom_fields", []) if f["custom_field_id"] not in given]
        added = [{"custom_field_id": fid, "value": value} for fid, value in given.items()]
        data["custom_fields"] = kept + added
    if "sms_number" in values:
        permission = "explicit" if sms_permission == "explicit" else "not_set"
        channel = {
            "full_sms_address": sms_address(values["sms_number"]),
            "sms_channel_consents": [
                {"consent_type": "promotional_sms", "sms_consent_permission": permission}
            ],
        }
        data["sms_channel"] = contact_model.sms_channel(
            channel, data.get("sms_channel"), SOURCE, now
        )
    return data


def _upsert_phone(
    phones: list[dict[str, Any]], number: str, kind: str, stamp: str
) -> list[dict[str, Any]]:
    result = [dict(p) for p in phones]
    for phone in result:
        if phone.get("kind") == kind:
            if phone.get("phone_number") != number:
                phone.update(phone_number=number, update_source=SOURCE, updated_at=stamp)
            return result
    entry = {
        "phone_number_id": str(uuid.uuid4()),
        "phone_number": number,
        "kind": kind,
        "create_source": SOURCE,
        "update_source": SOURCE,
        "created_at": stamp,
        "updated_at": stamp,
    }
    # At most three: the new number replaces the oldest of the other kinds.
    return [*result, entry][-MAX_ITEMS:]


def _upsert_address(
    addresses: list[dict[str, Any]], parts: dict[str, str], kind: str, stamp: str
) -> list[dict[str, Any]]:
    fields: dict[str, str] = {}
    for part, value in parts.items():
        key = _ADDRESS_FIELDS[part][0]
        # street2 continues the street line (CC's street is one string).
        joined = f"{fields[key]}, {value}" if key in fields else value
        fields[key] = joined[: _ADDRESS_FIELDS[part][1]]
    result = [dict(a) for a in addresses]
    for address in result:
        if address.get("kind") == kind:
            address.update(fields, updated_at=stamp)
            return result
    entry = {
        "street_address_id": str(uuid.uuid4()),
        "kind": kind,
        **fields,
        "created_at": stamp,
        "updated_at": stamp,
    }
    return [*result, entry][-MAX_ITEMS:]
