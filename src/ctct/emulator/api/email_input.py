"""Validating email campaign bodies: ``EmailCampaignComplete`` (POST /emails),
``EmailCampaignName`` (PATCH), ``EmailCampaignActivity`` (PUT an activity) and
``EmailScheduleInput``. Pure logic; CC's 400 lists every problem.

``from_email`` and ``reply_to_email`` must be confirmed addresses of the account, as at
CC; the caller passes them in (the emulator counts its users' addresses and the
account's contact email as confirmed).
"""

from __future__ import annotations

from typing import Any, Final

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import is_email, is_uuid
from ctct.emulator.api.isotime import parse_datetime

AREA: Final = "emails"
MAX_NAME: Final = 80
FORMAT_TYPES: Final = (4, 5)  # what the V3 API creates: editor (4) and custom code (5)
_TEXT_LIMITS: Final = {
    "from_name": 100,
    "from_email": 80,
    "reply_to_email": 80,
    "subject": 1_000,  # no limit in the contract; bounded all the same
    "preheader": 200,
    "html_content": 150_000,
}
_REQUIRED: Final = ("from_name", "from_email", "reply_to_email", "subject")
_ADDRESS_REQUIRED: Final = ("address_line1", "country_code", "organization_name")
_ADDRESS_KEYS: Final = frozenset(
    {
        *_ADDRESS_REQUIRED,
        "address_line2",
        "address_line3",
        "address_optional",
        "city",
        "postal_code",
        "state_code",
        "state_non_us_name",
    }
)
# EmailCampaignActivity.document_properties: each property and its maxLength (None: none).
_DOCUMENT_PROPERTIES: Final[dict[str, int | None]] = {
    "style_content": 150_000,
    "letter_format": None,
    "greeting_salutation": 50,
    "greeting_name_type": None,
    "greeting_secondary": 1_500,
    "subscribe_link_enabled": None,
    "subscribe_link_name": 80,
    "text_content": 150_000,
    "permission_reminder_enabled": None,
    "permission_reminder": 1_500,
    "view_as_webpage_enabled": None,
    "view_as_webpage_text": 50,
    "view_as_webpage_link_name": None,
    "forward_email_link_enabled": None,
    "forward_email_link_name": 80,
}
# Read-only EmailCampaignActivity fields a client may echo back from a GET.
_ACTIVITY_READ_ONLY: Final = frozenset(
    {
        "campaign_activity_id",
        "campaign_id",
        "role",
        "current_status",
        "format_type",
        "permalink_url",
    }
)


def campaign_name(body: object, problems: list[str]) -> str:
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems.append(f"name is required: a string of 1 to {MAX_NAME} characters.")
        return ""
    return name.strip()


def parse_campaign(body: object, senders: frozenset[str]) -> tuple[str, dict[str, Any]]:
    """``(name, activity fields)`` from an ``EmailCampaignComplete`` body."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    for key in body:
        if key not in ("name", "email_campaign_activities"):
            problems.append(f"{key} is not a property of EmailCampaignComplete.")
    name = campaign_name(body, problems)
    items = body.get("email_campaign_activities")
    activity: dict[str, Any] = {}
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        problems.append("email_campaign_activities must be an array with one activity object.")
    else:
        given = items[0]
        allowed = {"format_type", *_TEXT_LIMITS, "physical_address_in_footer"}
        for key in given:
            if key not in allowed:
                problems.append(f"email_campaign_activities[0].{key} is not a property here.")
        format_type = given.get("format_type")
        if format_type not in FORMAT_TYPES or isinstance(format_type, bool):
            problems.append("format_type is required: 4 (email editor) or 5 (custom code).")
        activity["format_type"] = format_type
        activity.update(_texts(given, (*_REQUIRED, "html_content"), senders, problems))
        address = given.get("physical_address_in_footer")
        if address is not None:
            activity["physical_address_in_footer"] = _address(address, problems)
    if problems:
        raise errors.validation(AREA, *problems)
    return name, activity


def parse_activity_put(
    body: object, senders: frozenset[str]
) -> tuple[dict[str, Any], list[str] | None]:
    """The fields of a PUT ``EmailCampaignActivity`` and its ``contact_list_ids``
    (None when omitted). Omitted ``physical_address_in_footer``/``html_content`` are
    kept by the caller, as CC keeps omitted sub-resources."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    allowed = {
        *_TEXT_LIMITS,
        "physical_address_in_footer",
        "contact_list_ids",
        "segment_ids",
        "document_properties",
    }
    for key in body:
        if key not in allowed and key not in _ACTIVITY_READ_ONLY:
            problems.append(f"{key} is not a property of EmailCampaignActivity.")
    fields: dict[str, Any] = dict(_texts(body, _REQUIRED, senders, problems))
    if body.get("physical_address_in_footer") is not None:
        fields["physical_address_in_footer"] = _address(
            body["physical_address_in_footer"], problems
        )
    if body.get("document_properties") is not None:
        fields["document_properties"] = document_properties(body["document_properties"], problems)
    lists = body.get("contact_list_ids")
    list_ids: list[str] | None = None
    if lists is not None:
        if not isinstance(lists, list) or len(lists) > 50 or not all(is_uuid(i) for i in lists):
            problems.append("contact_list_ids must be an array of up to 50 list ids.")
        else:
            list_ids = list(dict.fromkeys(str(i).lower() for i in lists))
    segments = body.get("segment_ids")
    if segments:  # CC: an array holding a single segment_id, instead of lists
        if (
            not isinstance(segments, list)
            or len(segments) != 1
            or isinstance(segments[0], bool)
            or not isinstance(segments[0], int)
            or not 0 < segments[0] < 2**63
        ):
            problems.append("segment_ids must be an array holding one segment_id.")
        elif list_ids:
            problems.append("Send to contact_list_ids or to segment_ids, not both.")
        else:
            fields["segment_ids"] = [segments[0]]
    if problems:
        raise errors.validation(AREA, *problems)
    return fields, list_ids


def document_properties(raw: object, problems: list[str]) -> dict[str, str]:
    """The contract's ``document_properties`` (legacy format options): string values
    within their limits. ``letter_format`` is read-only (fixed when the email is
    created), so it is ignored, as CC ignores properties that do not apply."""
    if not isinstance(raw, dict):
        problems.append("document_properties must be an object.")
        return {}
    kept: dict[str, str] = {}
    for key, value in raw.items():
        if key not in _DOCUMENT_PROPERTIES:
            problems.append(f"document_properties.{key} is not a property of document_properties.")
        elif not isinstance(value, str):
            problems.append(f"document_properties.{key} must be a string.")
        elif key == "letter_format":
            continue
        elif (limit := _DOCUMENT_PROPERTIES[key]) is not None and len(value) > limit:
            problems.append(f"document_properties.{key} must be at most {limit} characters.")
        else:
            kept[key] = value
    return kept


def parse_schedule(body: object, now: float) -> float | None:
    """The send time of an ``EmailScheduleInput``: None for ``"0"`` (send now)."""
    date = body.get("scheduled_date") if isinstance(body, dict) else None
    if date == "0":
        return None
    moment = parse_datetime(date) if isinstance(date, str) else None
    if moment is None:
        raise errors.validation(
            AREA, 'scheduled_date is required: an ISO-8601 date or date-time, or "0" for now.'
        )
    if moment <= now:
        raise errors.validation(
            AREA, 'scheduled_date is in the past: give a later time, or "0" to send now.'
        )
    return moment


def _texts(
    given: dict[str, Any], required: tuple[str, ...], senders: frozenset[str], problems: list[str]
) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, limit in _TEXT_LIMITS.items():
        value = given.get(key)
        if value is None:
            if key in required:
                problems.append(f"{key} is required.")
            continue
        if not isinstance(value, str) or (key in required and not value.strip()):
            problems.append(f"{key} must be a non-empty string.")
        elif len(value) > limit:
            problems.append(f"{key} must be at most {limit:,} characters.")
        elif key in ("from_email", "reply_to_email") and (
            not is_email(value) or value.lower() not in senders
        ):
            problems.append(
                f"{key} {value!r} is not a confirmed email address of the account; "
                f"use one of {', '.join(sorted(senders))}."
            )
        else:
            fields[key] = value
    return fields


def _address(raw: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append("physical_address_in_footer must be an object.")
        return {}
    missing = [k for k in _ADDRESS_REQUIRED if not isinstance(raw.get(k), str) or not raw[k]]
    unknown = [k for k in raw if k not in _ADDRESS_KEYS and k not in ("country_name", "state_name")]
    if missing:
        problems.append(f"physical_address_in_footer needs {', '.join(missing)}.")
    if unknown:
        problems.append(f"physical_address_in_footer: {', '.join(unknown)} not allowed.")
    return {k: str(v) for k, v in raw.items() if k in _ADDRESS_KEYS and v is not None}
