"""Email scheduling beyond the schedules themselves:
``POST /v3/emails/activities/{id}/tests`` (test send, 204),
``GET /v3/emails/activities/{id}/previews`` (the HTML and text preview) and
``GET /v3/emails/activities/{id}/send_history``. Scope ``campaign_data``; privileges
``campaign:send`` (tests) and ``campaign:read``.

A test send needs a ``primary_email`` activity and 1 to 5 addresses, and counts
against CC's allowance of 50 test recipients a day; over it the emulator answers 400
(a daily allowance, not a rate limit: retrying soon does not help). The preview removes
the ``[[trackingImage]]`` tag and gives the text without markup; the emulator does not
substitute other variables. The send history lists each send that has happened
(``send_status`` ``COMPLETED``; ``reason_code`` 12 when there was nobody to send to).
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, params
from ctct.emulator.api.contact_input import is_email
from ctct.emulator.api.email_input import AREA
from ctct.emulator.api.email_store import activity_not_found
from ctct.emulator.api.email_test_store import DAILY_RECIPIENTS, EmailTestStore
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json
from ctct.emulator.api.tracking_store import history_item

if TYPE_CHECKING:
    import sqlite3

    from ctct.emulator.app import Emulator

MAX_TEST_ADDRESSES: Final = 5
MAX_PERSONAL_MESSAGE: Final = 1_000
_SCOPE: Final = ("campaign_data",)
_TAG: Final = re.compile(r"<[^>]+>")
_HIDDEN: Final = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.S | re.I)
_TRACKING_IMAGE: Final = "[[trackingImage]]"


def parse_test(body: object) -> tuple[list[str], str | None]:
    """``(email_addresses, personal_message)`` of an ``EmailTestSendInput``."""
    if not isinstance(body, dict):
        raise errors.validation(AREA, "The request body must be a JSON object.")
    problems: list[str] = []
    for key in body:
        if key not in ("email_addresses", "personal_message"):
            problems.append(f"{key} is not a property of EmailTestSendInput.")
    addresses = body.get("email_addresses")
    if (
        not isinstance(addresses, list)
        or not 1 <= len(addresses) <= MAX_TEST_ADDRESSES
        or not all(isinstance(a, str) and is_email(a) for a in addresses)
    ):
        problems.append(
            f"email_addresses is required: 1 to {MAX_TEST_ADDRESSES} email address strings."
        )
        addresses = []
    message = body.get("personal_message")
    if message is not None and (
        not isinstance(message, str) or len(message) > MAX_PERSONAL_MESSAGE
    ):
        problems.append(f"personal_message must be a string of up to {MAX_PERSONAL_MESSAGE:,}.")
    if problems:
        raise errors.validation(AREA, *problems)
    return list(dict.fromkeys(a.lower() for a in addresses)), message


def preview_html(data: dict[str, Any], subject: str) -> str:
    content = data.get("html_content") or f"<html><body><p>{html.escape(subject)}</p></body></html>"
    return str(content).replace(_TRACKING_IMAGE, "")


def preview_text(markup: str) -> str:
    text = _TAG.sub(" ", _HIDDEN.sub(" ", markup))
    return " ".join(html.unescape(text).split())


def resources(emu: Emulator) -> list[Resource]:
    store = emu.accounts.emails
    tests = EmailTestStore(emu.db)

    def activity(request: Request, caller: Caller) -> sqlite3.Row:
        activity_id = params.path_uuid(request, "campaign_activity_id", AREA)
        row = store.activity(caller.account_id, activity_id)
        if row is None:
            raise activity_not_found(activity_id)
        return row

    async def test_send(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        row = activity(request, caller)
        if row["role"] != "primary_email":
            raise errors.validation(
                AREA, f"Only a primary_email activity can be test sent; this is the {row['role']}."
            )
        addresses, message = parse_test(body)
        now = emu.clock.now()
        left = tests.record(caller.account_id, row["campaign_activity_id"], addresses, now)
        if left is None:
            used = tests.used_today(caller.account_id, now)
            raise errors.validation(
                AREA,
                f"The account has sent {used} of its {DAILY_RECIPIENTS} test emails today "
                f"(UTC); {len(addresses)} more would pass the daily limit. Try tomorrow.",
            )
        emu.counters.event(
            "email_test",
            account_id=caller.account_id,
            campaign_activity_id=row["campaign_activity_id"],
            email_addresses=addresses,
            personal_message=message,
            time=now,
        )
        return Response(status_code=204)

    async def preview(request: Request, caller: Caller) -> Response:
        row = activity(request, caller)
        data: dict[str, Any] = json.loads(row["data"])
        markup = preview_html(data, str(data.get("subject", "")))
        body: dict[str, Any] = {"campaign_activity_id": row["campaign_activity_id"]}
        for key in ("from_email", "from_name", "preheader"):
            if key in data:
                body[key] = data[key]
        body["preview_html_content"] = markup
        body["preview_text_content"] = preview_text(markup)
        for key in ("reply_to_email", "subject"):
            if key in data:
                body[key] = data[key]
        return errors.json_response(body)

    async def send_history(request: Request, caller: Caller) -> Response:
        row = activity(request, caller)
        if row["role"] not in ("primary_email", "resend"):
            raise errors.validation(
                AREA,
                f"Send history covers primary_email and resend activities; this is the "
                f"{row['role']}.",
            )
        sends = emu.accounts.tracking.store.history(row["campaign_activity_id"], emu.clock.now())
        return errors.json_response([history_item(s) for s in sends])

    base = "/emails/activities/{campaign_activity_id}"
    return [
        Resource(base + "/tests", (Operation("POST", test_send, _SCOPE, "campaign:send"),)),
        Resource(base + "/previews", (Operation("GET", preview, _SCOPE, "campaign:read"),)),
        Resource(
            base + "/send_history", (Operation("GET", send_history, _SCOPE, "campaign:read"),)
        ),
    ]
