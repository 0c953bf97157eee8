"""Resends to non-openers: ``GET`` and ``POST`` (201)
``/v3/emails/activities/{campaign_activity_id}/non_opener_resends`` and ``DELETE`` (204)
``.../non_opener_resends/{resend_request_id}``, on a primary email activity. Scope
``campaign_data``; privileges ``campaign:read`` / ``campaign:send``.

A resend can be created while the primary email is ``DRAFT``, ``SCHEDULED`` or ``DONE``
(400 otherwise), once per campaign (409), with a delay that still ends in the future.
``GET`` answers ``[]`` when there is none. ``DELETE`` takes the ``resend_request_id``
that ``GET`` shows (``DRAFT`` while the primary is a draft); a resend already sent
cannot be deleted (409). See ``resend_store`` for when it goes out and to whom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import errors, resend_store
from ctct.emulator.api.email_input import AREA
from ctct.emulator.api.emails import primary_activity
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

_SCOPE: Final = ("campaign_data",)


def resources(emu: Emulator) -> list[Resource]:
    emails = emu.accounts.emails
    resends = emu.accounts.tracking.resends

    async def get_resends(request: Request, caller: Caller) -> Response:
        row = primary_activity(emails, request, caller)
        found = resends.for_campaign(row["campaign_id"])
        body = [] if found is None else [resend_store.resource(found, row["status"], True)]
        return errors.json_response(body)

    async def create_resend(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        row = primary_activity(emails, request, caller, resend_store.CREATABLE)
        subject, delay = resend_store.parse(body)
        first = emu.accounts.tracking.store.first_send(row["campaign_activity_id"])
        created = resends.create(row, subject, delay, emu.clock.now(), first)
        return errors.json_response(resend_store.resource(created, row["status"], False), 201)

    async def delete_resend(request: Request, caller: Caller) -> Response:
        row = primary_activity(emails, request, caller)
        found = resends.for_campaign(row["campaign_id"])
        given = str(request.path_params["resend_request_id"])
        if found is None or resend_store.public_id(found, row["status"]) != given:
            raise errors.not_found(
                AREA,
                f"No resend {given!r} for this activity: use the resend_request_id that "
                "GET .../non_opener_resends shows (DRAFT while the email is a draft).",
            )
        if found["sent_at"] is not None:
            raise errors.conflict(AREA, "This resend has been sent: it cannot be deleted.")
        resends.delete(found, emu.clock.now())
        return Response(status_code=204)

    base = "/emails/activities/{campaign_activity_id}/non_opener_resends"
    return [
        Resource(
            base,
            (
                Operation("GET", get_resends, _SCOPE, "campaign:read"),
                Operation("POST", create_resend, _SCOPE, "campaign:send"),
            ),
        ),
        Resource(
            base + "/{resend_request_id}",
            (Operation("DELETE", delete_resend, _SCOPE, "campaign:send"),),
        ),
    ]
