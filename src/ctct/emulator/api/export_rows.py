"""The columns of a contact export and one contact's row. Pure logic.

``contact_exports`` without ``fields`` exports every column (CC: "by default, all
fields are returned"), then one ``cf:<name>`` column per custom field of the account.
The ``email_opt*`` columns need ``email_address`` among the fields, as at CC.
"""

from __future__ import annotations

from typing import Any, Final

from ctct.emulator.api.isotime import format_datetime

FIELDS: Final = (
    "email_address",
    "first_name",
    "last_name",
    "job_title",
    "company_name",
    "birthday_month",
    "birthday_day",
    "anniversary",
    "permission_to_send",
    "email_optin_source",
    "email_optin_date",
    "email_optout_source",
    "email_optout_date",
    "email_optout_reason",
    "home_phone",
    "work_phone",
    "mobile_phone",
    "other_phone",
    "street",
    "city",
    "state",
    "zip",
    "country",
    "list_memberships",
    "taggings",
    "contact_id",
    "created_at",
    "updated_at",
)
EMAIL_DEPENDENT: Final = frozenset(
    {
        "permission_to_send",
        "email_optin_source",
        "email_optin_date",
        "email_optout_source",
        "email_optout_date",
        "email_optout_reason",
    }
)
CF_PREFIX: Final = "cf:"
_EMAIL_KEYS: Final = {
    "email_address": "address",
    "permission_to_send": "permission_to_send",
    "email_optin_source": "opt_in_source",
    "email_optin_date": "opt_in_date",
    "email_optout_source": "opt_out_source",
    "email_optout_date": "opt_out_date",
    "email_optout_reason": "opt_out_reason",
}
_ADDRESS_KEYS: Final = {
    "street": "street",
    "city": "city",
    "state": "state",
    "zip": "postal_code",
    "country": "country",
}


def export_row(
    fields: list[str],
    contact_id: str,
    data: dict[str, Any],
    row: Any,
    custom_fields: dict[str, str],
    lists: dict[str, list[str]],
) -> list[str]:
    """One contact's cells for ``fields``; ``row`` gives the stored timestamps,
    ``custom_fields`` maps ``cf:<name>`` columns to field ids."""
    email = data.get("email_address") or {}
    phones: dict[str, str] = {}
    for phone in data.get("phone_numbers", []):
        phones.setdefault(f"{phone.get('kind')}_phone", phone.get("phone_number", ""))
    address = (data.get("street_addresses") or [{}])[0]
    values = {f["custom_field_id"]: f.get("value", "") for f in data.get("custom_fields", [])}
    cells = []
    for name in fields:
        value: Any
        if name in _EMAIL_KEYS:
            value = email.get(_EMAIL_KEYS[name], "")
        elif name.endswith("_phone"):
            value = phones.get(name, "")
        elif name in _ADDRESS_KEYS:
            value = address.get(_ADDRESS_KEYS[name], "")
        elif name == "list_memberships":
            value = ",".join(lists.get(contact_id, []))
        elif name == "taggings":
            value = ",".join(data.get("taggings", []))
        elif name == "contact_id":
            value = contact_id
        elif name in ("created_at", "updated_at"):
            value = format_datetime(row[name])
        elif name.startswith(CF_PREFIX):
            value = values.get(custom_fields[name], "")
        else:
            value = data.get(name, "")
        cells.append("" if value is None else str(value))
    return cells
