"""Validating contact request bodies (``ContactPostRequest``, ``ContactPutRequest``).

Pure logic: a JSON body in, a ``ContactInput`` out, or CC's 400 listing every problem
found (one array entry each). Limits are the contract's (maxLength, maxItems).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.isotime import parse_datetime

AREA: Final = "contacts"

TEXT_FIELDS: Final = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50}
SCALAR_FIELDS: Final = (*TEXT_FIELDS, "birthday_month", "birthday_day", "anniversary")
SUBRESOURCES: Final = (
    "custom_fields",
    "list_memberships",
    "phone_numbers",
    "street_addresses",
    "taggings",
    "notes",
)
SOURCES: Final = ("Contact", "Account")
PERMISSIONS: Final = (
    "explicit",
    "implicit",
    "not_set",
    "pending_confirmation",
    "temp_hold",
    "unsubscribed",
)
PHONE_KINDS: Final = ("home", "work", "mobile", "other")
ADDRESS_KINDS: Final = ("home", "work", "other")
SMS_PERMISSIONS: Final = ("explicit", "unsubscribed", "pending_confirmation", "not_set")

# Read-only ContactResource fields a client may echo back from a GET: ignored, not refused.
_READ_ONLY: Final = frozenset(
    {"contact_id", "created_at", "updated_at", "deleted_at", "create_source", "update_source"}
)
_MAX_ITEMS: Final = {
    "custom_fields": 25,
    "list_memberships": 50,
    "phone_numbers": 3,
    "street_addresses": 3,
    "taggings": 50,
    "notes": 150,
}
_ADDRESS_LIMITS: Final = {
    "street": 255,
    "city": 50,
    "state": 50,
    "postal_code": 50,
    "country": 50,
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ANNIVERSARY = re.compile(
    r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$|^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$"
)


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def is_email(value: object) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def is_anniversary(text: str) -> bool:
    """One of CC's anniversary formats (YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY, MM-DD-YYYY)."""
    match = _ANNIVERSARY.match(text)
    if not match:
        return False
    month, day = (match[1], match[2]) if match[1] else (match[5], match[6])
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


@dataclass
class ContactInput:
    """A validated body. Only what the client sent is present."""

    source: str  # create_source (POST) or update_source (PUT)
    scalars: dict[str, Any] = field(default_factory=dict)
    email: dict[str, str] | None = None
    sms: dict[str, Any] | None = None
    subresources: dict[str, list[Any]] = field(default_factory=dict)


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def text(self, name: str, value: object, limit: int, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.add(f"{name} is required.")
            return None
        if not isinstance(value, str):
            self.add(f"{name} must be a string.")
            return None
        if len(value) > limit:
            self.add(f"{name} must be at most {limit} characters long.")
        return value

    def choice(self, name: str, value: object, allowed: tuple[str, ...]) -> str | None:
        if value not in allowed:
            self.add(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")
            return None
        return str(value)


def parse_contact(body: object, *, put: bool) -> ContactInput:
    """Validate a POST (``put=False``) or PUT body; raise CC's 400 listing all problems."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems = _Problems()
    source_name = "update_source" if put else "create_source"
    source = problems.choice(source_name, body.get(source_name), SOURCES) or ""
    result = ContactInput(source=source)
    for name, value in body.items():
        if value is None or name in _READ_ONLY:
            continue  # null means "not given" (PUT then clears top-level fields)
        if name in TEXT_FIELDS:
            result.scalars[name] = problems.text(name, value, TEXT_FIELDS[name])
        elif name in ("birthday_month", "birthday_day"):
            top = 12 if name == "birthday_month" else 31
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                problems.add(f"{name} must be an integer from 1 to {top}.")
            result.scalars[name] = value
        elif name == "anniversary":
            result.scalars[name] = _anniversary(problems, value)
        elif name == "email_address":
            result.email = _email(problems, value)
        elif name == "sms_channel":
            result.sms = _sms(problems, value)
        elif name in SUBRESOURCES:
            result.subresources[name] = _subresource(problems, name, value)
        else:
            problems.add(f"{name} is not a contact property.")
    if ("birthday_month" in result.scalars) != ("birthday_day" in result.scalars):
        problems.add("birthday_month and birthday_day must be given together.")
    identity = (
        result.email,
        result.sms,
        *(result.scalars.get(n) for n in ("first_name", "last_name")),
    )
    if not put and not any(identity):
        problems.add(
            "A contact needs at least one of email_address, first_name, last_name or sms_channel."
        )
    if problems.messages:
        raise errors.validation(AREA, *problems.messages)
    return result


def _anniversary(problems: _Problems, value: object) -> str | None:
    text = problems.text("anniversary", value, 10)
    if text is None:
        return None
    if is_anniversary(text):
        return text
    problems.add(
        "anniversary must be a date such as YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY or MM-DD-YYYY."
    )
    return None


def _email(problems: _Problems, value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        problems.add("email_address must be an object with an address.")
        return None
    address = problems.text("email_address.address", value.get("address"), 80, required=True)
    if address is not None and not _EMAIL.match(address):
        problems.add(f"email_address.address {address!r} is not a valid email address.")
    result = {"address": address or ""}
    if value.get("permission_to_send") is not None:
        permission = problems.choice(
            "email_address.permission_to_send", value["permission_to_send"], PERMISSIONS
        )
        result["permission_to_send"] = permission or ""
    reason = problems.text("email_address.opt_out_reason", value.get("opt_out_reason"), 255)
    if reason is not None:
        result["opt_out_reason"] = reason
    return result


def _sms(problems: _Problems, value: object) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add("sms_channel must be an object with full_sms_address and consents.")
        return None
    number = value.get("full_sms_address")
    digits = number if isinstance(number, str) else ""
    if not (digits.isdigit() and len(digits) == 11 and digits.startswith("1")):
        # The emulator knows North American numbering only.
        problems.add("sms_channel.full_sms_address must be 1 followed by 10 digits.")
    consents = value.get("sms_channel_consents")
    parsed: list[dict[str, str]] = []
    if not isinstance(consents, list) or not consents:
        problems.add("sms_channel.sms_channel_consents must be a non-empty array.")
        consents = []
    for item in consents:
        if not isinstance(item, dict):
            problems.add("sms_channel.sms_channel_consents items must be objects.")
            continue
        ctype = problems.choice(
            "sms_channel_consents.consent_type", item.get("consent_type"), ("promotional_sms",)
        )
        perm = problems.choice(
            "sms_channel_consents.sms_consent_permission",
            item.get("sms_consent_permission"),
            SMS_PERMISSIONS,
        )
        parsed.append({"consent_type": ctype or "", "sms_consent_permission": perm or ""})
    return {"full_sms_address": digits, "sms_channel_consents": parsed}


def _subresource(problems: _Problems, name: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        problems.add(f"{name} must be an array.")
        return []
    if len(value) > _MAX_ITEMS[name]:
        problems.add(f"{name} may have at most {_MAX_ITEMS[name]} items.")
    if name in ("list_memberships", "taggings"):
        ids = [item for item in value if is_uuid(item)]
        for item in value:
            if not is_uuid(item):
                problems.add(f"{name} items must be UUIDs; got {item!r}.")
        # A repeated id means the same membership. Only the UUIDs: anything else (say a
        # list inside the list, found by the fuzzer) is unhashable and already refused.
        return list(dict.fromkeys(ids))
    items: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            problems.add(f"{name} items must be objects.")
            continue
        items.append(_ITEM_PARSERS[name](problems, item))
    return items


def _custom_field(problems: _Problems, item: dict[str, Any]) -> dict[str, Any]:
    field_id = item.get("custom_field_id")
    if not is_uuid(field_id):
        problems.add(f"custom_fields.custom_field_id must be a UUID; got {field_id!r}.")
    parsed: dict[str, Any] = {"custom_field_id": field_id}
    value = problems.text("custom_fields.value", item.get("value"), 255)
    if value is not None:
        parsed["value"] = value
    choices = item.get("choice_ids")
    if choices is not None:
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            problems.add("custom_fields.choice_ids must be an array of strings.")
        else:
            parsed["choice_ids"] = choices
    return parsed


def _phone(problems: _Problems, item: dict[str, Any]) -> dict[str, Any]:
    number = problems.text("phone_numbers.phone_number", item.get("phone_number"), 25, True)
    kind = item.get("kind", "other")
    return {
        "phone_number": number or "",
        "kind": problems.choice("phone_numbers.kind", kind, PHONE_KINDS) or "",
    }


def _address(problems: _Problems, item: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = {
        "kind": problems.choice("street_addresses.kind", item.get("kind"), ADDRESS_KINDS) or ""
    }
    for key, limit in _ADDRESS_LIMITS.items():
        value = problems.text(f"street_addresses.{key}", item.get(key), limit)
        if value is not None:
            parsed[key] = value
    return parsed


def _note(problems: _Problems, item: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = {
        "content": problems.text("notes.content", item.get("content"), 2000, True) or ""
    }
    if item.get("note_id") is not None:
        if not is_uuid(item["note_id"]):
            problems.add(f"notes.note_id must be a UUID; got {item['note_id']!r}.")
        parsed["note_id"] = item["note_id"]
    if item.get("created_at") is not None:
        created = item["created_at"]
        if not isinstance(created, str) or parse_datetime(created) is None:
            problems.add(f"notes.created_at must be an ISO-8601 date-time; got {created!r}.")
        else:
            parsed["created_at"] = parse_datetime(created)
    return parsed


_ITEM_PARSERS = {
    "custom_fields": _custom_field,
    "phone_numbers": _phone,
    "street_addresses": _address,
    "notes": _note,
}
