"""Technology Partners: ``/v3/partner/accounts`` (GET, POST) and, per client account
(``{encoded_account_id}``), ``/plan`` (GET, PUT), ``/status/cancel`` (PUT),
``/account_operations/sync`` (POST), ``/users/sso`` (POST) and ``/contacts/unsubscribe``
(POST). Authentication: ``partner_gateway`` (partner token + ``x-api-key``).

Provisioning creates an ordinary emulated account (summary from the request, the
default list, no physical address yet) on the ``TRIAL`` plan. Users provisioned with
it, or added with ``/users/sso``, are records only: they cannot sign in to the
emulator's login page (its users come from its config). ``/account_operations/sync``
runs a V3 request as the account's owner, with every scope, and answers what that
request answers (its status and body). Changing a plan to a higher or lower tier, and
cancelling, notify the partner's webhook subscriptions (``partner_webhooks``).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ctct import _cc
from ctct.emulator.accounts import DEFAULT_LIST_NAME, EDITABLE_FIELDS
from ctct.emulator.api import contact_model, errors
from ctct.emulator.api.contact_input import is_email
from ctct.emulator.api.contact_store import encode_document
from ctct.emulator.api.gateway import NO_BODY, Resource, read_json
from ctct.emulator.api.isotime import format_datetime, parse_datetime
from ctct.emulator.api.params import whole_number
from ctct.emulator.api.partner_gateway import (
    PartnerOperation,
    PartnerResource,
    optional_json,
)
from ctct.emulator.api.partner_store import (
    AREA,
    CANCEL_REASONS,
    PLANS,
    TOPICS,
    PartnerStore,
    billing_status,
    last_login,
    plan_body,
)
from ctct.emulator.api.partner_sync import run_on_behalf
from ctct.emulator.config import PartnerConfig

if TYPE_CHECKING:
    import sqlite3

    from ctct.emulator.app import Emulator

DEFAULT_LIMIT: Final = 50
MIN_LIMIT: Final = 10
MAX_UNSUBSCRIBE: Final = 500
SSO_ROLES: Final = ("account_manager", "campaign_creator")
UPDATE_SOURCES: Final = ("Account", "Contact", "System")
_LOGIN = re.compile(r"^[A-Za-z0-9\-_@.+]{1,50}$")
_TWO_LETTERS = re.compile(r"^[A-Z]{2}$")
_PROVISION_TEXT: Final = {
    "contact_email": 80,
    "contact_phone": 25,
    "country_code": 3,
    "organization_name": 50,
    "organization_phone": 25,
    "state_code": 2,
    "time_zone_id": 50,
    "website": 255,
    "login_name": 50,
    "password": 80,
    "first_name": 80,
    "last_name": 80,
    "partner_account_id": 80,
    "billing_locale": 10,
    "external_id": 255,
    "external_provider": 80,
}
_PROVISION_FLAGS: Final = ("managed_site_owner", "enable_single_billing", "gdpr_opt_out")
_SSO_FIELDS: Final = {
    "first_name": 80,
    "last_name": 80,
    "role_name": 50,
    "contact_email": 80,
    "login_name": 50,
    "external_id": 255,
    "external_provider": 80,
}


def resources(emu: Emulator, api_resources: list[Resource]) -> list[PartnerResource]:
    store = emu.accounts.partners

    def client(partner: PartnerConfig, request: Request) -> sqlite3.Row:
        return store.client(partner, str(request.path_params["encoded_account_id"]))

    def contacts_of(account_id: str) -> int:
        row = emu.db.query_one(
            "SELECT COUNT(*) AS n FROM contacts WHERE account_id = ? AND status != 'deleted'",
            (account_id,),
        )
        return int(row["n"]) if row else 0

    def notify(request: Request, partner: PartnerConfig, topic_id: int, account_id: str) -> None:
        hook = store.subscriptions(partner).get(topic_id)
        if hook is not None:
            origin = str(request.base_url).rstrip("/")
            body = notification(origin, partner, topic_id, account_id)
            emu.accounts.webhooks.deliver(hook, topic_id, body)

    async def list_accounts(request: Request, partner: PartnerConfig) -> Response:
        query = request.query_params
        account_type = query.get("account_type") or "all"
        if account_type not in ("all", "managed", "unmanaged"):
            raise errors.validation(AREA, "account_type must be all, managed or unmanaged.")
        # CC: a limit outside 10-50 is ignored (the default is used).
        asked = whole_number(query.get("limit") or "", DEFAULT_LIMIT)
        limit = asked if asked is not None and asked >= MIN_LIMIT else DEFAULT_LIMIT
        offset = whole_number(query.get("offset") or "0", 2**31 - 1)
        if offset is None:
            raise errors.validation(AREA, "offset must be a whole number (from _links.next).")
        rows, more = store.clients(partner, account_type, offset, limit)
        now = emu.clock.now()
        owners = []
        for row in rows:
            summary = emu.accounts.summary(row["account_id"]) or {}
            item: dict[str, Any] = {
                "encoded_account_id": row["account_id"],
                "subscriber_count": contacts_of(row["account_id"]),
                "organization_name": summary.get("organization_name", ""),
                "site_owner_name": row["login_name"] or summary.get("contact_email", ""),
                "billing_status": billing_status(row, now),
            }
            if last_login(row):
                item["last_login_date"] = last_login(row)
            owners.append(item)
        body: dict[str, Any] = {"site_owner_list": owners}
        if more:
            link = urlencode(
                {"offset": offset + limit, "limit": limit, "account_type": account_type}
            )
            body["_links"] = {"next": {"href": f"{request.url.path}?{link}"}}
        return errors.json_response(body)

    async def provision(request: Request, partner: PartnerConfig) -> Response:
        given = _provision(await read_json(request, AREA))
        now = emu.clock.now()
        provision_uuid = str(uuid.uuid4())
        with emu.db.transaction() as conn:
            if PartnerStore.login_taken(conn, given["login_name"]):
                raise errors.conflict(AREA, f"The login name {given['login_name']!r} is taken.")
            account_id = PartnerStore.new_account_id(conn)
            summary = {k: given[k] for k in EDITABLE_FIELDS if given.get(k)}
            summary["encoded_account_id"] = account_id
            summary["encoded_partner_id"] = partner.partner_client_id
            summary.setdefault("time_zone_id", "US/Eastern")
            conn.execute(
                "INSERT INTO accounts(account_id, summary) VALUES (?, ?)",
                (account_id, json.dumps(summary)),
            )
            emu.accounts.lists.ensure(conn, account_id, DEFAULT_LIST_NAME, now)
            data = {
                "currency_code": "GBP" if given.get("billing_locale") == "en_GB" else "USD",
                "partner_account_id": given.get("partner_account_id"),
                "single_billing": bool(given.get("enable_single_billing")),
                "gdpr_opt_out": bool(given.get("gdpr_opt_out")),
            }
            conn.execute(
                "INSERT INTO partner_accounts(account_id, partner_client_id, managed, plan_type, "
                "login_name, sso, provision_uuid, data, created_at) "
                "VALUES (?, ?, ?, 'TRIAL', ?, ?, ?, ?, ?)",
                (
                    account_id,
                    partner.partner_client_id,
                    # CC: a managed client stays managed whatever the request says.
                    0 if given.get("managed_site_owner") is False else 1,
                    given["login_name"],
                    1 if given.get("external_id") else 0,
                    provision_uuid,
                    json.dumps(data),
                    now,
                ),
            )
        return errors.json_response(
            {"encoded_account_id": account_id, "provision_uuid": provision_uuid}, 201
        )

    async def get_plan(request: Request, partner: PartnerConfig) -> Response:
        row = client(partner, request)
        return errors.json_response(plan_body(row, contacts_of(row["account_id"]), emu.clock.now()))

    async def set_plan(request: Request, partner: PartnerConfig) -> Response:
        row = client(partner, request)
        body = await optional_json(request, AREA)
        plan, group, day = _plan_info(body)
        now = emu.clock.now()
        if billing_status(row, now) == "Canceled":
            raise errors.validation(AREA, "The account is canceled: its plan cannot change.")
        current = row["plan_type"]
        if plan == "TRIAL" and current != "TRIAL":
            raise errors.validation(AREA, "A plan cannot change back to TRIAL.")
        changes: dict[str, Any] = {}
        if plan is not None:
            changes["plan_type"] = plan
            if current == "TRIAL" and plan != "TRIAL":
                # The billing day is set (default: today) only when leaving the trial.
                changes["billing_day_of_month"] = day or int(format_datetime(now)[8:10])
        if group is not None:
            changes["plan_group_id"] = group
        if changes:
            store.update(row["account_id"], **changes)
        updated = client(partner, request)
        if plan is not None and plan != current:
            up = PLANS.index(plan) > PLANS.index(current)
            notify(request, partner, 1 if up else 2, row["account_id"])
        return errors.json_response(plan_body(updated, contacts_of(row["account_id"]), now))

    async def cancel(request: Request, partner: PartnerConfig) -> Response:
        row = client(partner, request)
        body = await optional_json(request, AREA)
        now = emu.clock.now()
        reason, effective = _cancellation(body, now)
        if row["cancel_at"] is not None:
            raise errors.validation(AREA, "The account is already canceled (or about to be).")
        store.update(row["account_id"], cancel_at=effective, cancel_reason=reason)
        notify(request, partner, 3, row["account_id"])
        answer: dict[str, Any] = {"effective_date": format_datetime(effective)}
        if reason is not None:
            answer = {"reason_id": reason, **answer}
        return errors.json_response(answer)

    async def sync(request: Request, partner: PartnerConfig) -> Response:
        row = client(partner, request)
        if not row["managed"]:
            raise errors.validation(
                AREA, "account_operations/sync acts only on managed client accounts."
            )
        body = await optional_json(request, AREA)
        return await run_on_behalf(emu, api_resources, partner, row["account_id"], body)

    async def sso_user(request: Request, partner: PartnerConfig) -> Response:
        row = client(partner, request)
        user = _sso_user(await read_json(request, AREA))
        if not row["sso"]:
            raise errors.validation(
                AREA,
                "The account is not set up for single sign-on: provision it with "
                "external_id and external_provider.",
            )
        with emu.db.transaction() as conn:
            if PartnerStore.login_taken(conn, user["login_name"]):
                raise errors.conflict(AREA, f"The login name {user['login_name']!r} is taken.")
            conn.execute(
                "INSERT INTO partner_sso_users(login_name, account_id, data) VALUES (?, ?, ?)",
                (user["login_name"], row["account_id"], json.dumps(user)),
            )
        return Response(status_code=201)

    async def unsubscribe(request: Request, partner: PartnerConfig) -> Response:
        row = client(partner, request)
        addresses, source, reason, delete, everywhere = _unsubscribe(await read_json(request, AREA))
        accounts = [row["account_id"]]
        if everywhere:
            accounts = [r["account_id"] for r in store.clients(partner, "all", 0, 1_000_000)[0]]
        now = emu.clock.now()
        count = 0
        with emu.db.transaction() as conn:
            for account_id in accounts:
                count += _unsubscribe_in(conn, account_id, addresses, source, reason, delete, now)
        return errors.json_response({"unsubscribed_count": count})

    base = "/partner/accounts/{encoded_account_id}"
    return [
        PartnerResource(
            "/partner/accounts",
            (
                PartnerOperation("GET", list_accounts),
                PartnerOperation("POST", provision),
            ),
        ),
        PartnerResource(
            f"{base}/plan",
            (
                PartnerOperation("GET", get_plan),
                PartnerOperation("PUT", set_plan, NO_BODY),
            ),
        ),
        PartnerResource(f"{base}/status/cancel", (PartnerOperation("PUT", cancel, NO_BODY),)),
        PartnerResource(
            f"{base}/account_operations/sync", (PartnerOperation("POST", sync, NO_BODY),)
        ),
        PartnerResource(f"{base}/users/sso", (PartnerOperation("POST", sso_user),)),
        PartnerResource(f"{base}/contacts/unsubscribe", (PartnerOperation("POST", unsubscribe),)),
    ]


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    return body


def _provision(body: object) -> dict[str, Any]:
    """A ``Provision`` request, or CC's 400 naming every problem."""
    data = _object(body)
    problems: list[str] = []
    given: dict[str, Any] = {}
    for key, value in data.items():
        if key in _PROVISION_TEXT:
            if not isinstance(value, str):
                problems.append(f"{key} must be a string.")
            elif len(value) > _PROVISION_TEXT[key]:
                problems.append(f"{key} must be at most {_PROVISION_TEXT[key]} characters.")
            else:
                given[key] = value
        elif key in _PROVISION_FLAGS:
            if not isinstance(value, bool):
                problems.append(f"{key} must be true or false.")
            else:
                given[key] = value
        else:
            problems.append(f"{key} is not a property of a Provision request.")
    for key in ("contact_email", "country_code", "login_name", "state_code"):
        if key not in given and key not in {p.split()[0] for p in problems}:
            problems.append(f"{key} is required.")
    if "contact_email" in given and not is_email(given["contact_email"]):
        problems.append("contact_email must be a valid email address.")
    country = given.get("country_code")
    if country is not None and not _TWO_LETTERS.match(country):
        problems.append("country_code must be a two-letter code such as US.")
    state = given.get("state_code", "")
    if country in ("US", "CA") and not _TWO_LETTERS.match(state):
        problems.append("US and CA accounts need a two-letter state_code such as MA.")
    if country not in ("US", "CA") and state:
        problems.append("Leave state_code blank outside the US and Canada.")
    if "login_name" in given and not _LOGIN.match(given["login_name"]):
        problems.append("login_name may only contain letters, digits and - _ @ . +")
    external = bool(given.get("external_id") or given.get("external_provider"))
    if external and not (given.get("external_id") and given.get("external_provider")):
        problems.append("external_id and external_provider go together.")
    if external and "password" in given:
        problems.append("Do not send a password with an external authenticator.")
    if not external and not 8 <= len(given.get("password", "")) <= 80:
        problems.append("password is required (8 to 80 characters) without external_id.")
    if given.get("website") and not str(given["website"]).startswith(("http://", "https://")):
        problems.append("website must start with http:// or https://.")
    if given.get("billing_locale") not in (None, "en_US", "en_GB"):
        problems.append("billing_locale must be en_US or en_GB.")
    if problems:
        raise errors.validation(AREA, *problems)
    return given


def _plan_info(body: object) -> tuple[str | None, int | None, int | None]:
    if body is None:
        return None, None, None
    data = _object(body)
    problems: list[str] = []
    for key in data:
        if key not in ("plan_type", "plan_group_id", "billing_day_of_month"):
            problems.append(f"{key} is not a plan property.")
    plan = data.get("plan_type")
    if plan is not None and plan not in PLANS:
        problems.append(f"plan_type must be one of {', '.join(PLANS)}.")
    group = data.get("plan_group_id")
    if group is not None and (isinstance(group, bool) or not isinstance(group, int) or group < 1):
        problems.append("plan_group_id must be a positive integer.")
    day = data.get("billing_day_of_month")
    if day is not None and (
        isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31
    ):
        problems.append("billing_day_of_month must be a day from 1 to 31.")
    if problems:
        raise errors.validation(AREA, *problems)
    return plan, group, day


def _cancellation(body: object, now: float) -> tuple[int | None, float]:
    if body is None:
        return None, now
    data = _object(body)
    problems: list[str] = [
        f"{k} is not a cancellation property."
        for k in data
        if k not in ("reason_id", "effective_date")
    ]
    reason = data.get("reason_id")
    if reason is not None and reason not in CANCEL_REASONS:
        problems.append(f"reason_id must be one of {', '.join(map(str, CANCEL_REASONS))}.")
    effective = now
    if data.get("effective_date") is not None:
        moment = parse_datetime(str(data["effective_date"]))
        if moment is None:
            problems.append("effective_date must be an ISO-8601 date-time.")
        else:
            effective = max(moment, now)
    if problems:
        raise errors.validation(AREA, *problems)
    return reason, effective


def _sso_user(body: object) -> dict[str, str]:
    data = _object(body)
    problems = [f"{k} is not a property of an SSO user." for k in data if k not in _SSO_FIELDS]
    for key, limit in _SSO_FIELDS.items():
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key} is required.")
        elif len(value) > limit:
            problems.append(f"{key} must be at most {limit} characters.")
    if data.get("role_name") not in SSO_ROLES:
        problems.append(f"role_name must be one of {', '.join(SSO_ROLES)}.")
    if isinstance(data.get("contact_email"), str) and not is_email(data["contact_email"]):
        problems.append("contact_email must be a valid email address.")
    if isinstance(data.get("login_name"), str) and not _LOGIN.match(data["login_name"]):
        problems.append("login_name may only contain letters, digits and - _ @ . +")
    if problems:
        raise errors.validation(AREA, *problems)
    return {k: str(data[k]) for k in _SSO_FIELDS}


def _unsubscribe(body: object) -> tuple[list[str], str, str | None, bool, bool]:
    data = _object(body)
    problems = [
        f"{k} is not a property here."
        for k in data
        if k
        not in (
            "email_addresses",
            "update_source",
            "opt_out_reason",
            "delete_contacts",
            "global_unsubscribe",
        )
    ]
    addresses = data.get("email_addresses")
    if (
        not isinstance(addresses, list)
        or not 1 <= len(addresses) <= MAX_UNSUBSCRIBE
        or not all(is_email(a) for a in addresses)
    ):
        problems.append(f"email_addresses must list 1 to {MAX_UNSUBSCRIBE} email addresses.")
        addresses = []
    source = data.get("update_source")
    if source not in UPDATE_SOURCES:
        problems.append(f"update_source is required: one of {', '.join(UPDATE_SOURCES)}.")
    reason = data.get("opt_out_reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        problems.append("opt_out_reason must be a string of at most 255 characters.")
    flags = {}
    for key in ("delete_contacts", "global_unsubscribe"):
        flags[key] = data.get(key, False)
        if not isinstance(flags[key], bool):
            problems.append(f"{key} must be true or false.")
    if flags["global_unsubscribe"] is True and len(addresses) != 1:
        problems.append("global_unsubscribe takes exactly one address in email_addresses.")
    if problems:
        raise errors.validation(AREA, *problems)
    return (
        [str(a).lower() for a in addresses],
        str(source),
        reason,
        bool(flags["delete_contacts"]),
        bool(flags["global_unsubscribe"]),
    )


def _unsubscribe_in(
    conn: sqlite3.Connection,
    account_id: str,
    addresses: list[str],
    source: str,
    reason: str | None,
    delete: bool,
    now: float,
) -> int:
    marks = ",".join("?" * len(addresses))
    rows = conn.execute(
        f"SELECT contact_id, data, deleted_at FROM contacts WHERE account_id = ? "  # noqa: S608
        f"AND email_key IN ({marks})",
        (account_id, *addresses),
    ).fetchall()
    count = 0
    for row in rows:
        data = json.loads(row["data"])
        email = data.get("email_address")
        if not email:
            continue
        changed = contact_model.with_permission(email, "unsubscribed", source, now)
        if reason:
            changed = {**changed, "opt_out_reason": reason}
        data["email_address"] = changed
        deleted = delete or row["deleted_at"] is not None
        conn.execute(
            "UPDATE contacts SET data = ?, status = ?, updated_at = ?, deleted_at = ? "
            "WHERE contact_id = ?",
            (
                encode_document(data),
                "deleted" if deleted else "unsubscribed",
                now,
                (row["deleted_at"] or now) if deleted else None,
                row["contact_id"],
            ),
        )
        count += 1
    return count


def notification(
    origin: str, partner: PartnerConfig, topic_id: int, account_id: str
) -> dict[str, str]:
    """The body CC POSTs to a webhook subscription (the contract's example)."""
    return {
        "url": f"{origin}{_cc.API_BASE_PATH}/partner/accounts/{account_id}/plan",
        "api_key": partner.api_key,
        "event_type": TOPICS[topic_id][2],
    }
