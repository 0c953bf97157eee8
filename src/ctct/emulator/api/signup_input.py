"""Validating ``POST /contacts/sign_up_form`` bodies (``ContactCreateOrUpdateInput``).

Pure logic: a JSON body in, a ``SignUp`` out, or CC's 400 listing every problem. Unlike
``POST /contacts``, ``email_address`` is a plain string here, ``phone_number`` and
``street_address`` are single values, and ``list_memberships`` (1 to 50) is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import (
    ADDRESS_KINDS,
    AREA,
    SMS_PERMISSIONS,
    is_anniversary,
    is_email,
    is_uuid,
)

MAX_EMAIL: Final = 50  # ContactCreateOrUpdateInput.email_address maxLength
TEXT_FIELDS: Final = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50}
MAX_PHONE: Final = 25
MAX_LISTS: Final = 50
MAX_CUSTOM_FIELDS: Final = 50
_ADDRESS_LIMITS: Final = {
    "street": 255,
    "city": 50,
    "state": 50,
    "postal_code": 50,
    "country": 50,
}
_KNOWN: Final = frozenset(
    {
        "email_address",
        *TEXT_FIELDS,
        "phone_number",
        "list_memberships",
        "custom_fields",
        "anniversary",
        "birthday_month",
        "birthday_day",
        "street_address",
        "sms_channel",
    }
)


@dataclass
class SignUp:
    list_ids: list[str]
    email: str | None = None
    sms: dict[str, Any] | None = None  # contact_model.sms_channel's input
    scalars: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None
    address: dict[str, str] | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)  # id -> value


def parse_signup(body: object) -> SignUp:
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    for key in body:
        if key not in _KNOWN:
            problems.append(f"{key} is not a property of ContactCreateOrUpdateInput.")
    result = SignUp(list_ids=_lists(body.get("list_memberships"), problems))
    email = body.get("email_address")
    if email is not None:
        if not isinstance(email, str) or len(email) > MAX_EMAIL or not is_email(email):
            problems.append(
                f"email_address must be a valid email address of at most {MAX_EMAIL} "
                f"characters (a string here, not an object); got {email!r}."
            )
        else:
            result.email = email
    if body.get("sms_channel") is not None:
        result.sms = _sms(body["sms_channel"], problems)
    if result.email is None and result.sms is None and not problems:
        problems.append("email_address or sms_channel is required.")
    for name, limit in TEXT_FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            problems.append(f"{name} must be a string of at most {limit} characters.")
        else:
            result.scalars[name] = value
    _birthday(body, result, problems)
    anniversary = body.get("anniversary")
    if anniversary is not None:
        if not isinstance(anniversary, str) or not is_anniversary(anniversary):
            problems.append(
                "anniversary must be a date such as YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY or "
                "MM-DD-YYYY."
            )
        else:
            result.scalars["anniversary"] = anniversary
    phone = body.get("phone_number")
    if phone is not None:
        if not isinstance(phone, str) or not phone or len(phone) > MAX_PHONE:
            problems.append(f"phone_number must be a string of 1 to {MAX_PHONE} characters.")
        else:
            result.phone = phone
    if body.get("street_address") is not None:
        result.address = _address(body["street_address"], problems)
    result.custom_fields = _custom_fields(body.get("custom_fields"), problems)
    if problems:
        raise errors.validation(AREA, *problems)
    return result


def _lists(raw: object, problems: list[str]) -> list[str]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LISTS:
        problems.append(f"list_memberships is required: 1 to {MAX_LISTS} list ids.")
        return []
    bad = [i for i in raw if not is_uuid(i)]
    if bad:
        problems.append(f"list_memberships items must be list ids (UUIDs); got {bad[0]!r}.")
        return []
    return list(dict.fromkeys(str(i).lower() for i in raw))


def _birthday(body: dict[str, Any], result: SignUp, problems: list[str]) -> None:
    month, day = body.get("birthday_month"), body.get("birthday_day")
    if month is None and day is None:
        return
    valid = all(isinstance(v, int) and not isinstance(v, bool) for v in (month, day))
    if not valid or not (1 <= month <= 12 and 1 <= day <= 31):  # type: ignore[operator]
        problems.append(
            "birthday_month (1-12) and birthday_day (1-31) are integers, given together."
        )
        return
    result.scalars.update(birthday_month=month, birthday_day=day)


def _address(raw: object, problems: list[str]) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        problems.append("street_address must be an object with a kind.")
        return None
    address: dict[str, str] = {}
    kind = raw.get("kind")
    if kind not in ADDRESS_KINDS:
        problems.append(f"street_address.kind must be one of {', '.join(ADDRESS_KINDS)}.")
    else:
        address["kind"] = kind
    for key, value in raw.items():
        if key == "kind":
            continue
        limit = _ADDRESS_LIMITS.get(key)
        if limit is None:
            problems.append(f"street_address.{key} is not an address property.")
        elif value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.append(f"street_address.{key} must be a string of at most {limit}.")
        elif value is not None:
            address[key] = value
    return address


def _custom_fields(raw: object, problems: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or len(raw) > MAX_CUSTOM_FIELDS:
        problems.append(f"custom_fields must be an array of at most {MAX_CUSTOM_FIELDS} items.")
        return {}
    values: dict[str, str] = {}
    for item in raw:
        field_id = item.get("custom_field_id") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not is_uuid(field_id) or not isinstance(value, str) or len(value) > 255:
            problems.append(
                "custom_fields items are {custom_field_id: <uuid>, value: <string up to 255>}."
            )
            continue
        values[str(field_id).lower()] = value
    return values


def _sms(raw: object, problems: list[str]) -> dict[str, Any] | None:
    """``JmmlSmsChannel``: ``dial_code`` + ``sms_address`` (a US number) and consents."""
    if not isinstance(raw, dict):
        problems.append("sms_channel must be an object.")
        return None
    number = f"{raw.get('dial_code', '')}{raw.get('sms_address', '')}"
    if not (number.isdigit() and len(number) == 11 and number.startswith("1")):
        problems.append(
            "sms_channel: dial_code 1 and a 10-digit sms_address are required (the emulator "
            "knows North American numbers only)."
        )
    consents = raw.get("sms_channel_consents")
    parsed = []
    if not isinstance(consents, list) or not consents:
        problems.append("sms_channel.sms_channel_consents must be a non-empty array.")
        consents = []
    for item in consents:
        permission = item.get("sms_consent_permission") if isinstance(item, dict) else None
        if permission not in SMS_PERMISSIONS:
            problems.append(
                "sms_channel_consents.sms_consent_permission must be one of "
                f"{', '.join(SMS_PERMISSIONS)}."
            )
            continue
        parsed.append({"consent_type": "promotional_sms", "sms_consent_permission": permission})
    return {"full_sms_address": number, "sms_channel_consents": parsed}
