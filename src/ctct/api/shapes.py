"""The fixed shapes of what the resources return, as ``TypedDict``s.

They are plain dicts at run time (``summary["organization_name"]`` works as before); the
types only tell a checker and an editor which keys to expect. Keys Constant Contact
always sends are required; the rest (optional properties, sub-resources that appear only
when asked for with ``include``) are ``NotRequired``: read them with ``.get()``.
Constant Contact may add properties at any time, so a result can hold more keys than
listed here. Field lists follow the V3 reference (spec section 7).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class PhysicalAddress(TypedDict, total=False):
    address_line1: str
    address_line2: str
    address_line3: str
    city: str
    state_code: str
    state_name: str
    postal_code: str
    country_code: str


class AccountSummary(TypedDict):
    """``GET /account/summary`` (CC's ``Customer``)."""

    contact_email: str
    encoded_account_id: str
    first_name: str
    last_name: str
    organization_name: str
    contact_phone: NotRequired[str]
    country_code: NotRequired[str]
    encoded_partner_id: NotRequired[str]
    organization_phone: NotRequired[str]
    state_code: NotRequired[str]
    time_zone_id: NotRequired[str]
    website: NotRequired[str]
    physical_address: NotRequired[PhysicalAddress]  # extra_fields=["physical_address"]
    company_logo: NotRequired[dict[str, Any]]  # extra_fields=["company_logo"]


class EmailAddress(TypedDict):
    address: str
    permission_to_send: NotRequired[str]  # explicit, implicit, unsubscribed, ...
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    opt_in_source: NotRequired[str]
    opt_in_date: NotRequired[str]
    opt_out_source: NotRequired[str]
    opt_out_date: NotRequired[str]
    opt_out_reason: NotRequired[str]
    confirm_status: NotRequired[str]


class Contact(TypedDict):
    """A contact (``ContactResource``); sub-resources only with ``include=[...]``."""

    contact_id: str
    email_address: NotRequired[EmailAddress]  # absent for SMS-only contacts
    first_name: NotRequired[str]
    last_name: NotRequired[str]
    job_title: NotRequired[str]
    company_name: NotRequired[str]
    birthday_month: NotRequired[int]
    birthday_day: NotRequired[int]
    anniversary: NotRequired[str]
    create_source: NotRequired[str]
    update_source: NotRequired[str]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    deleted_at: NotRequired[str]
    custom_fields: NotRequired[list[dict[str, Any]]]
    phone_numbers: NotRequired[list[dict[str, Any]]]
    street_addresses: NotRequired[list[dict[str, Any]]]
    list_memberships: NotRequired[list[str]]
    taggings: NotRequired[list[str]]
    notes: NotRequired[list[dict[str, Any]]]
    sms_channel: NotRequired[dict[str, Any]]


class SignUpResult(TypedDict):
    """``contacts.create_or_update()``: which contact, and whether it was new."""

    contact_id: str
    action: str
    created: bool


class ContactList(TypedDict):
    list_id: str
    name: str
    description: NotRequired[str]
    favorite: NotRequired[bool]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    deleted_at: NotRequired[str]
    membership_count: NotRequired[int]


class CustomField(TypedDict):
    custom_field_id: str
    label: str
    type: str
    name: NotRequired[str]
    metadata: NotRequired[dict[str, Any]]
    version: NotRequired[int]
    choices: NotRequired[list[dict[str, Any]]]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]


class Tag(TypedDict):
    tag_id: str
    name: str
    contacts_count: NotRequired[int]
    tag_source: NotRequired[str]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]


class ActivityStatus(TypedDict, total=False):
    items_total_count: int
    items_completed_count: int
    person_count: int
    error_count: int
    correctable_count: int
    cannot_add_to_list_count: int
    list_count: int


class Activity(TypedDict):
    """A bulk activity and how far it got (``state``: initialized, processing,
    completed, cancelled, failed or timed_out)."""

    activity_id: str
    state: str
    percent_done: NotRequired[int]
    started_at: NotRequired[str]
    completed_at: NotRequired[str]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    source_file_name: NotRequired[str]
    activity_errors: NotRequired[list[Any]]
    status: NotRequired[ActivityStatus]
    _links: NotRequired[dict[str, Any]]


class EmailCampaign(TypedDict):
    campaign_id: str
    name: str
    current_status: NotRequired[str]  # Draft, Scheduled, Executing, Done, Error, Removed
    type: NotRequired[str]
    type_code: NotRequired[int]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    campaign_activities: NotRequired[list[dict[str, Any]]]


__all__ = [
    "AccountSummary",
    "Activity",
    "ActivityStatus",
    "Contact",
    "ContactList",
    "CustomField",
    "EmailAddress",
    "EmailCampaign",
    "PhysicalAddress",
    "SignUpResult",
    "Tag",
]
