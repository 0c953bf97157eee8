"""Account Services: ``/v3/account/summary`` (GET, PUT), ``/v3/account/summary/physical_address``
(GET, POST, PUT), ``/v3/account/emails`` (GET, POST) and ``/v3/account/user/privileges``.

The physical address is the summary's ``physical_address``: POST adds one where there is
none (409 otherwise), PUT replaces it whole (fields left out are removed), GET shows it.
Without one (an account from ``POST /v3/partner/accounts`` starts so) GET and PUT
answer 400: the contract declares no 404 for them. US and Canadian
addresses take a ``state_code``, others a ``state_name``, as CC's contract says.

Account emails: see ``account_email_store``. ``GET`` filters by one of
``confirm_status``, ``role_code`` or ``email_address`` ("only one query parameter at a
time": two or more are a 400).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct.emulator.accounts import EDITABLE_FIELDS, UnknownAccount
from ctct.emulator.api import errors
from ctct.emulator.api.account_email_store import ROLES, AccountEmailStore
from ctct.emulator.api.contact_input import is_email
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
_READ: Final = ("account_read", "account_update")
_UPDATE: Final = ("account_update",)
STATE_CODE_COUNTRIES: Final = ("US", "CA")
MAX_ADDRESS_LINE: Final = 80
MAX_EMAIL: Final = 80
_ADDRESS_FIELDS: Final = {
    "address_line1": MAX_ADDRESS_LINE,
    "address_line2": MAX_ADDRESS_LINE,
    "address_line3": MAX_ADDRESS_LINE,
    "city": 50,
    "state_code": 2,
    "state_name": 50,
    "postal_code": 25,
    "country_code": 2,
}
_CONFIRM_STATUS: Final = {"CONFIRMED": "CONFIRMED", "C": "CONFIRMED"} | {
    "UNCONFIRMED": "UNCONFIRMED",
    "U": "UNCONFIRMED",
}
_ROLE_CODES: Final = {role: role for role in ROLES} | {role[0]: role for role in ROLES}


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

    async def get_address(request: Request, caller: Caller) -> Response:
        summary = emu.accounts.summary(caller.account_id) or {}
        address = summary.get("physical_address")
        if not address:
            raise errors.validation(AREA, "The account has no physical address yet: POST one.")
        return errors.json_response(address)

    def set_address(exists: bool, status: int) -> Any:
        async def handler(request: Request, caller: Caller) -> Response:
            address = validate_address(await read_json(request, AREA))
            emu.accounts.set_physical_address(caller.account_id, address, exists=exists)
            return errors.json_response(address, status)

        return handler

    async def list_emails(request: Request, caller: Caller) -> Response:
        wanted = _email_filter(request)
        store = emu.accounts.addresses(caller.account_id)
        bodies = [store.resource(r) for r in store.rows(caller.account_id)]
        if wanted is not None:
            name, value = wanted
            bodies = [b for b in bodies if _matches(b, name, value)]
        return errors.json_response(bodies)

    async def add_email(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        address = body.get("email_address") if isinstance(body, dict) else None
        if not isinstance(address, str) or not is_email(address) or len(address) > MAX_EMAIL:
            raise errors.validation(
                AREA, f"email_address is required: a valid address of at most {MAX_EMAIL} chars."
            )
        if isinstance(body, dict) and set(body) - {"email_address"}:
            extra = sorted(set(body) - {"email_address"})[0]
            raise errors.validation(AREA, f"{extra} is not a property here; send email_address.")
        row = emu.accounts.addresses(caller.account_id).add(caller.account_id, address)
        created = {k: row[k] for k in ("email_address", "email_id", "confirm_status")}
        return errors.json_response(created, 201)

    return [
        Resource(
            "/account/summary",
            (
                Operation("GET", get_summary, _READ, "account:read"),
                Operation("PUT", put_summary, _UPDATE, "account:update"),
            ),
        ),
        Resource(
            "/account/summary/physical_address",
            (
                Operation("GET", get_address, _READ, "account:read"),
                Operation("POST", set_address(False, 201), _UPDATE, "account:update"),
                Operation("PUT", set_address(True, 200), _UPDATE, "account:update"),
            ),
        ),
        Resource(
            "/account/emails",
            (
                Operation("GET", list_emails, _READ, "account:read"),
                Operation("POST", add_email, _UPDATE, "account:update"),
            ),
        ),
        Resource("/account/user/privileges", (Operation("GET", get_privileges),)),
    ]


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """``POST /__emulator/account_emails/confirm``: play the owner clicking the link CC
    emails to a new account address (``{"username"|"account_id", "email_address"}``)."""

    async def confirm(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("email_address"), str):
            return _control_error(
                400, 'send {"username": "alice@example.com", "email_address": "..."}'
            )
        try:
            account_id = emu.accounts.resolve(
                username=body.get("username"), account_id=body.get("account_id")
            )
        except UnknownAccount as exc:
            return _control_error(404, f"Name a configured username or account_id ({exc}).")
        row = emu.accounts.addresses(account_id).confirm(account_id, body["email_address"])
        if row is None:
            return _control_error(
                404, f"{body['email_address']} is not an address of the account: POST it first."
            )
        return JSONResponse(AccountEmailStore.resource(row))

    return [Route("/__emulator/account_emails/confirm", confirm, methods=["POST"])]


def _control_error(status: int, message: str) -> Response:
    code = "invalid_request" if status == 400 else "not_found"
    return JSONResponse({"error": code, "error_description": message}, status_code=status)


def validate_address(body: object) -> dict[str, str]:
    """An ``AccountPhysicalAddress``, or CC's 400 naming every problem."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    address: dict[str, str] = {}
    for name, value in body.items():
        limit = _ADDRESS_FIELDS.get(name)
        if limit is None:
            problems.append(f"{name} is not a physical address property.")
        elif not isinstance(value, str):
            problems.append(f"{name} must be a string.")
        elif len(value) > limit:
            problems.append(f"{name} must be at most {limit} characters.")
        elif value.strip():
            address[name] = value.strip()
    for name in ("address_line1", "city", "country_code"):
        if name not in address and not any(name in p for p in problems):
            problems.append(f"{name} is required.")
    country = address.get("country_code")
    if country is not None and not _TWO_LETTERS.match(country):
        problems.append("country_code must be a two-letter uppercase code such as US.")
    elif country in STATE_CODE_COUNTRIES:
        if not _TWO_LETTERS.match(address.get("state_code", "")):
            problems.append(f"{country} addresses need a two-letter state_code such as MA.")
        if "state_name" in address:
            problems.append(f"{country} addresses use state_code, not state_name.")
    elif country is not None and "state_code" in address:
        problems.append(
            "state_code is only for US and CA addresses; use state_name for other countries."
        )
    if problems:
        raise errors.validation(AREA, *problems)
    # CC's order of properties.
    return {k: address[k] for k in _ADDRESS_FIELDS if k in address}


def _email_filter(request: Request) -> tuple[str, str] | None:
    query = request.query_params
    given = [k for k in ("confirm_status", "role_code", "email_address") if query.get(k)]
    unknown = [k for k in query if k not in ("confirm_status", "role_code", "email_address")]
    if unknown:
        raise errors.validation(AREA, f"{unknown[0]} is not a filter of /account/emails.")
    if len(given) > 1:
        raise errors.validation(
            AREA, f"Filter by one query parameter at a time; got {', '.join(given)}."
        )
    if not given:
        return None
    name, raw = given[0], query[given[0]]
    if name == "confirm_status":
        if raw.upper() not in _CONFIRM_STATUS:
            raise errors.validation(
                AREA, "confirm_status must be CONFIRMED (C) or UNCONFIRMED (U)."
            )
        return name, _CONFIRM_STATUS[raw.upper()]
    if name == "role_code":
        if raw.upper() not in _ROLE_CODES:
            raise errors.validation(AREA, f"role_code must be one of {', '.join(ROLES)}.")
        return name, _ROLE_CODES[raw.upper()]
    return name, raw.lower()


def _matches(body: dict[str, Any], name: str, value: str) -> bool:
    if name == "confirm_status":
        return bool(body["confirm_status"] == value)
    if name == "role_code":
        return value in body["roles"] or value in body["pending_roles"]
    return bool(str(body["email_address"]).lower() == value)


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
