"""Contacts as stored and as returned (``ContactResource``): pure logic.

A stored contact is a JSON document (``data``) plus columns the store filters on
(status, email, timestamps). ``data`` holds the top-level fields, ``email_address``,
``sms_channel`` and the sub-resources, with nested timestamps already in CC's format;
list memberships live in their own table because lists count their members.

PUT follows CC: top-level fields are replaced (omitted means cleared), sub-resource arrays
that are omitted are kept. ``email_address`` and ``sms_channel`` are channels with their
own consent history: omitted, they are kept (clients change consent through
``permission_to_send``, not by dropping the address).
"""

from __future__ import annotations

import uuid
from typing import Any

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import AREA, SUBRESOURCES, ContactInput
from ctct.emulator.api.isotime import format_date, format_datetime

OPTED_IN = frozenset({"explicit", "implicit"})


def new_email(address: str, permission: str, source: str, now: float) -> dict[str, Any]:
    stamp = format_datetime(now)
    email: dict[str, Any] = {
        "address": address,
        "permission_to_send": permission,
        "created_at": stamp,
        "updated_at": stamp,
    }
    _apply_permission(email, permission, source, stamp, None)
    email["confirm_status"] = "off"
    return email


def _apply_permission(
    email: dict[str, Any], permission: str, source: str, stamp: str, reason: str | None
) -> None:
    email["permission_to_send"] = permission
    if permission in OPTED_IN:
        for key in ("opt_out_source", "opt_out_date", "opt_out_reason"):
            email.pop(key, None)
        email["opt_in_source"] = source
        email["opt_in_date"] = stamp
    elif permission == "unsubscribed":
        email["opt_out_source"] = source
        email["opt_out_date"] = stamp
        if reason:
            email["opt_out_reason"] = reason


def with_permission(
    email: dict[str, Any], permission: str, source: str, now: float
) -> dict[str, Any]:
    """A stored ``email_address`` with ``permission_to_send`` set (a copy; unchanged when
    it already had that permission)."""
    if email.get("permission_to_send") == permission:
        return email
    changed = dict(email)
    stamp = format_datetime(now)
    _apply_permission(changed, permission, source, stamp, None)
    changed["updated_at"] = stamp
    return changed


def _updated_email(
    old: dict[str, Any] | None, given: dict[str, str], source: str, now: float
) -> dict[str, Any]:
    if old is None or old["address"].lower() != given["address"].lower():
        return new_email(given["address"], given.get("permission_to_send", "implicit"), source, now)
    email = dict(old)
    permission = given.get("permission_to_send")
    changed = given["address"] != old["address"]
    email["address"] = given["address"]
    if permission and permission != old.get("permission_to_send"):
        _apply_permission(
            email, permission, source, format_datetime(now), given.get("opt_out_reason")
        )
        changed = True
    if changed:
        email["updated_at"] = format_datetime(now)
    return email


def sms_channel(
    given: dict[str, Any], old: dict[str, Any] | None, source: str, now: float
) -> dict[str, Any]:
    """The stored ``sms_channel`` for a validated one (``full_sms_address``: 1 + 10 digits,
    ``sms_channel_consents``), keeping the old channel's id and create source."""
    stamp = format_datetime(now)
    number: str = given["full_sms_address"]
    consents = []
    for consent in given["sms_channel_consents"]:
        item: dict[str, Any] = {**consent, "created_at": stamp, "updated_at": stamp}
        if consent["sms_consent_permission"] == "explicit":
            item["opt_in_date"] = stamp
        elif consent["sms_consent_permission"] == "unsubscribed":
            item["opt_out_date"] = stamp
        consents.append(item)
    return {
        "sms_channel_id": old["sms_channel_id"] if old else str(uuid.uuid4()),
        "dial_code": number[0],
        "country_code": "US",
        "sms_address": number[1:],
        "create_source": old["create_source"] if old else source,
        "update_source": source,
        "sms_channel_consents": consents,
    }


def _subresource(
    name: str, given: list[Any], old: list[Any] | None, source: str, now: float
) -> list[Any]:
    """Build a stored sub-resource array, keeping ids of items that did not change."""
    if name == "taggings":
        return list(given)
    stamp = format_datetime(now)
    previous = {_identity(name, item): item for item in old or []}
    built: list[Any] = []
    for item in given:
        if name == "custom_fields":
            built.append(dict(item))
            continue
        if name == "notes":
            created = item.get("created_at")
            built.append(
                {
                    "note_id": item.get("note_id") or str(uuid.uuid4()),
                    "created_at": stamp if created is None else format_datetime(created),
                    "content": item["content"],
                }
            )
            continue
        kept = previous.pop(_identity(name, item), None)  # reuse each old item once
        if kept is not None:
            built.append(kept)
            continue
        id_key = "phone_number_id" if name == "phone_numbers" else "street_address_id"
        entry: dict[str, Any] = {id_key: str(uuid.uuid4()), **item}
        if name == "phone_numbers":
            entry.update(create_source=source, update_source=source)
        entry.update(created_at=stamp, updated_at=stamp)
        built.append(entry)
    return built


def _identity(name: str, item: dict[str, Any]) -> tuple[Any, ...]:
    if name == "phone_numbers":
        return (item.get("phone_number"), item.get("kind"))
    return tuple(item.get(k) for k in ("kind", "street", "city", "state", "postal_code", "country"))


def new_contact(given: ContactInput, now: float) -> dict[str, Any]:
    """The stored document for a POSTed contact."""
    data: dict[str, Any] = {k: v for k, v in given.scalars.items() if v is not None}
    data["create_source"] = given.source
    data["update_source"] = given.source
    if given.email:
        permission = given.email.get("permission_to_send", "implicit")
        data["email_address"] = new_email(given.email["address"], permission, given.source, now)
    if given.sms:
        data["sms_channel"] = sms_channel(given.sms, None, given.source, now)
    for name, items in given.subresources.items():
        if name != "list_memberships":
            data[name] = _subresource(name, items, None, given.source, now)
    return data


def replaced_contact(old: dict[str, Any], given: ContactInput, now: float) -> dict[str, Any]:
    """The stored document after a PUT (CC's replace semantics, see module docstring)."""
    data: dict[str, Any] = {k: v for k, v in given.scalars.items() if v is not None}
    data["create_source"] = old.get("create_source", "Account")
    data["update_source"] = given.source
    if given.email:
        data["email_address"] = _updated_email(
            old.get("email_address"), given.email, given.source, now
        )
    elif "email_address" in old:
        data["email_address"] = old["email_address"]
    if given.sms:
        data["sms_channel"] = sms_channel(given.sms, old.get("sms_channel"), given.source, now)
    elif "sms_channel" in old:
        data["sms_channel"] = old["sms_channel"]
    for name in SUBRESOURCES:
        if name == "list_memberships":
            continue
        if name in given.subresources:
            data[name] = _subresource(
                name, given.subresources[name], old.get(name), given.source, now
            )
        elif name in old:
            data[name] = old[name]
    if not any(data.get(k) for k in ("email_address", "sms_channel", "first_name", "last_name")):
        raise errors.validation(
            AREA,
            "A contact needs at least one of email_address, first_name, last_name or sms_channel.",
        )
    return data


def email_key(data: dict[str, Any]) -> str | None:
    """The contact's email address as the store compares it (case-insensitively)."""
    email = data.get("email_address")
    return email["address"].lower() if email else None


def status_of(data: dict[str, Any], deleted: bool) -> str:
    """The contact's status as ``GET /contacts?status=`` filters it."""
    if deleted:
        return "deleted"
    permission = (data.get("email_address") or {}).get("permission_to_send", "not_set")
    return "active" if permission in OPTED_IN else str(permission)


def render(
    contact_id: str,
    data: dict[str, Any],
    times: tuple[float, float, float | None],
    include: frozenset[str],
    memberships: list[str],
) -> dict[str, Any]:
    """The ``ContactResource`` body; sub-resources appear only when included."""
    created_at, updated_at, deleted_at = times
    body: dict[str, Any] = {"contact_id": contact_id}
    if "email_address" in data:
        body["email_address"] = data["email_address"]
    for key in (
        "first_name",
        "last_name",
        "job_title",
        "company_name",
        "birthday_month",
        "birthday_day",
        "anniversary",
        "update_source",
        "create_source",
    ):
        if data.get(key) is not None:
            body[key] = data[key]
    body["created_at"] = format_datetime(created_at)
    body["updated_at"] = format_datetime(updated_at)
    if deleted_at is not None:
        body["deleted_at"] = format_date(deleted_at)  # the contract says format: date
    if "sms_channel" in data:
        body["sms_channel"] = data["sms_channel"]
    for name in SUBRESOURCES:
        if name not in include:
            continue
        if name == "list_memberships":
            body[name] = memberships
        elif name == "notes":
            body[name] = sorted(data.get(name, []), key=lambda n: n["created_at"], reverse=True)
        else:
            body[name] = data.get(name, [])
    return body
