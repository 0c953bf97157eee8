"""The emulated V3 API: every ``/v3/...`` route goes through the gateway
(``gateway.py``: token, limits, scope, privilege, media type), plus control routes that
seed account data (``seed.py``) and drive the bulk-activity worker (``activity_control``).

Modules:

- plumbing: ``gateway``, ``errors`` (CC's error bodies), ``pagination`` (cursors),
  ``params`` (query/path parsing), ``privileges``, ``isotime``;
- endpoints: ``account``, ``contacts``, ``signup`` (sign_up_form), ``lists``,
  ``custom_fields``, ``tags``, ``imports`` (JSON/CSV), ``bulk_activities`` (memberships,
  contact_delete, exports), ``activities`` (status), ``emails`` (campaigns);
- pure validation and shaping: ``contact_input``, ``contact_model``, ``signup_input``,
  ``import_input``, ``import_rows``, ``export_rows``, ``email_input``, ``selection``;
- database stores: ``contact_store``, ``list_store``, ``custom_field_store``,
  ``tag_store``, ``email_store``, ``activity_store``;
- bulk activities: ``activity_runner`` (worker thread, chunked steps) runs the jobs in
  ``list_jobs``, ``import_job``, ``contact_jobs`` and ``tag_store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


def routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /v3: the resources below, a 501 for each operation of CC's contract
    none of them serves (``routing.complete``, which also orders fixed paths before
    templated ones), and a catch-all answering CC's 404 for paths outside the contract."""
    # Imported here: ``ctct.emulator.accounts`` imports this package's stores, and the
    # endpoint modules import ``accounts`` back.
    from ctct.emulator.api import (
        account,
        activities,
        bulk_activities,
        contacts,
        custom_fields,
        emails,
        gateway,
        imports,
        lists,
        routing,
        signup,
        tags,
    )

    resources = [
        *account.resources(emu),
        *signup.resources(emu),
        *contacts.resources(emu),
        *lists.resources(emu),
        *custom_fields.resources(emu),
        *tags.resources(emu),
        *imports.resources(emu),
        *bulk_activities.resources(emu),
        *activities.resources(emu),
        *emails.resources(emu),
    ]
    return gateway.build_routes(emu, routing.complete(resources))


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for seeding account data and driving bulk activities."""
    from ctct.emulator.api import activity_control, seed

    return [*seed.routes(emu), *activity_control.routes(emu)]
