"""Account Services: ``/v3/account/summary`` (GET, PUT) and ``/v3/account/user/privileges``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.accounts import EDITABLE_FIELDS
from ctct.emulator.api import errors
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.privileges import privilege_resources

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

AREA = "account"
EXTRA_FIELDS = ("physical_address", "company_logo")
_PUT_IGNORED = frozenset({"encoded_account_id", "encoded_partner_id", *EXTRA_FIELDS})
_MAX_LENGTH = {"contact_phone": 25, "organization_phone": 25}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TWO_LETTERS = re.compile(r"^[A-Z]{2}$")


def resources(emu: Emulator) -> list[Resource]:
    async def get_summary(request: Request, caller: Caller) -> Response:
        requested = _extra_fields(request.query_params.get("extra_fields"))
        summary = emu.accounts.summary(caller.account_id) or {}
        body = {k: v for k, v in summary.items() if k not in EXTRA_FIELDS or k in requested}
        return errors.json_response(body)

    async def put_summary(request: Request, caller: Caller) -> Response:
        changes = _validate_put(await read_json(request, AREA))
        summary = emu.accounts.update_summary(caller.account_id, changes)
        body = {k: summary[k] for k in ("encoded_account_id", *EDITABLE_FIELDS) if k in summary}
        return errors.json_response(body)

    async def get_privileges(request: Request, caller: Caller) -> Response:
        return errors.json_response(privilege_resources(caller.user.role))

    return [
        Resource(
            "/account/summary",
            (
                Operation("GET", get_summary, ("account_read", "account_update"), "account:read"),
                Operation("PUT", put_summary, ("account_update",), "account:update"),
            ),
        ),
        Resource("/account/user/privileges", (Operation("GET", get_privileges),)),
    ]


def _extra_fields(raw: str | None) -> set[str]:
    if not raw:
        return set()
    requested = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(requested - set(EXTRA_FIELDS))
    if unknown:
        raise errors.validation(
            AREA,
            f"extra_fields: {', '.join(unknown)} not supported; "
            f"use {' and/or '.join(EXTRA_FIELDS)}.",
        )
    return requested


def _validate_put(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name in _PUT_IGNORED:
            continue  # read-only, or changed through its own endpoint
        if name not in EDITABLE_FIELDS:
            problems.append(f"{name} is not an account property that can be updated.")
            continue
        if not isinstance(value, str):
            problems.append(f"{name} must be a string.")
            continue
        if len(value) > _MAX_LENGTH.get(name, 255):
            problems.append(f"{name} must be at most {_MAX_LENGTH.get(name, 255)} characters.")
        elif name == "contact_email" and not _EMAIL.match(value):
            problems.append(f"contact_email {value!r} is not a valid email address.")
        elif name in ("country_code", "state_code") and not _TWO_LETTERS.match(value):
            problems.append(f"{name} must be a two-letter uppercase code such as US or MA.")
        else:
            changes[name] = value
    if problems:
        raise errors.validation(AREA, *problems)
    return changes
