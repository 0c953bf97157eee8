"""Email campaign A/B tests: ``GET``, ``POST`` (201) and ``DELETE`` (204)
``/v3/emails/activities/{campaign_activity_id}/abtest`` on a primary email activity.
Scope ``campaign_data``; privileges ``campaign:read`` / ``campaign:write``.

Creating or deleting a test needs the activity in ``DRAFT`` (400 otherwise); a second
test on the same activity is a 409; reading or deleting a test that does not exist is
a 404. The campaign's ``type`` is ``AB_TEST`` (code 57) while it has a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator.api import abtest_store, errors
from ctct.emulator.api.email_input import AREA
from ctct.emulator.api.emails import primary_activity
from ctct.emulator.api.gateway import Caller, Operation, Resource, read_json

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

_SCOPE: Final = ("campaign_data",)


def resources(emu: Emulator) -> list[Resource]:
    emails = emu.accounts.emails
    tests = emu.accounts.tracking.abtests

    def no_test(activity_id: str) -> errors.ApiError:
        return errors.not_found(AREA, f"Email campaign activity {activity_id} has no A/B test.")

    async def get_test(request: Request, caller: Caller) -> Response:
        row = primary_activity(emails, request, caller)
        found = tests.get(row["campaign_activity_id"])
        if found is None:
            raise no_test(row["campaign_activity_id"])
        return errors.json_response(abtest_store.resource(found))

    async def create_test(request: Request, caller: Caller) -> Response:
        body = await read_json(request, AREA)
        row = primary_activity(emails, request, caller, ("DRAFT",))
        fields = abtest_store.parse(body)
        tests.create(row, fields, emu.clock.now())
        created = tests.get(row["campaign_activity_id"])
        assert created is not None  # created above
        return errors.json_response(abtest_store.resource(created), 201)

    async def delete_test(request: Request, caller: Caller) -> Response:
        row = primary_activity(emails, request, caller)
        if tests.get(row["campaign_activity_id"]) is None:
            raise no_test(row["campaign_activity_id"])
        if row["status"] != "DRAFT":
            raise errors.validation(
                AREA, f"The activity is {row['status']}: only a draft's A/B test can be deleted."
            )
        tests.delete(row, emu.clock.now())
        return Response(status_code=204)

    return [
        Resource(
            "/emails/activities/{campaign_activity_id}/abtest",
            (
                Operation("GET", get_test, _SCOPE, "campaign:read"),
                Operation("POST", create_test, _SCOPE, "campaign:write"),
                Operation("DELETE", delete_test, _SCOPE, "campaign:write"),
            ),
        )
    ]
