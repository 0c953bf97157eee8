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
    """Routes under /v3, ending with a catch-all that answers CC's 404 for unknown paths
    (so add new /v3 resources to the list below, not after these routes)."""
    # Imported here: ``ctct.emulator.accounts`` imports this package's stores, and the
    # endpoint modules import ``accounts`` back.
    from ctct.emulator.api import (
        account,
        activities,
        automations,
        bulk_activities,
        bulk_tagging,
        contact_extras,
        contacts,
        custom_fields,
        emails,
        events,
        gateway,
        imports,
        lists,
        segments,
        signup,
        social,
        tags,
        xrefs,
    )

    # Fixed paths before templated ones: /contacts/sign_up_form (or counts, or
    # contact_id_xrefs) must not be taken for /contacts/{contact_id}, nor
    # /activities/contacts_json_import for /activities/{id}.
    resources = [
        *account.resources(emu),
        *xrefs.resources(emu),
        *contact_extras.resources(emu),
        *segments.resources(emu),
        *signup.resources(emu),
        *contacts.resources(emu),
        *lists.resources(emu),
        *custom_fields.resources(emu),
        *tags.resources(emu),
        *imports.resources(emu),
        *bulk_activities.resources(emu),
        *bulk_tagging.resources(emu),
        *activities.resources(emu),
        *emails.resources(emu),
        *events.resources(emu),
        *social.resources(emu),
        *automations.resources(emu),
    ]
    return gateway.build_routes(emu, resources)


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for seeding account data and driving bulk activities."""
    from ctct.emulator.api import account, activity_control, contact_extras, seed

    return [
        *seed.routes(emu),
        *activity_control.routes(emu),
        *contact_extras.control_routes(emu),
        *account.control_routes(emu),
    ]
