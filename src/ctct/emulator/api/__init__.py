"""The emulated V3 API: every ``/v3/...`` route goes through the gateway
(``gateway.py``: token, limits, scope, privilege, media type), plus control routes that
seed account data (``seed.py``) and drive the bulk-activity worker (``activity_control``).

Modules:

- plumbing: ``gateway``, ``errors`` (CC's error bodies), ``pagination`` (cursors),
  ``params`` (query/path parsing), ``privileges``, ``isotime``;
- endpoints: ``account``, ``contacts``, ``signup`` (sign_up_form), ``lists``,
  ``custom_fields``, ``tags``, ``imports`` (JSON/CSV), ``bulk_activities`` (memberships,
  contact_delete, exports), ``activities`` (status), ``emails`` (campaigns, xrefs),
  ``email_sending`` (test sends, previews, send history), ``abtests``, ``resends``
  (to non-openers), reports: ``email_reports``, ``email_stats``, ``contact_reports``,
  ``landing_page_reports``, ``sms_reports``;
- pure validation and shaping: ``contact_input``, ``contact_model``, ``signup_input``,
  ``import_input``, ``import_rows``, ``export_rows``, ``email_input``, ``selection``;
- database stores: ``contact_store``, ``list_store``, ``custom_field_store``,
  ``tag_store``, ``email_store``, ``activity_store``, ``abtest_store``,
  ``resend_store``, ``email_test_store``, ``landing_page_store``, ``sms_store``;
- simulated tracking (``tracking``: sends, resends, effects on contacts when due):
  ``tracking_config`` (seed and rates, ``tracking_control`` routes), ``tracking_plan``
  (pure planning), ``tracking_store``, ``tracking_effects``, ``report_store`` (the
  queries every report shares) and ``report_common``;
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
        abtests,
        account,
        activities,
        bulk_activities,
        contact_reports,
        contacts,
        custom_fields,
        email_reports,
        email_sending,
        email_stats,
        emails,
        gateway,
        imports,
        landing_page_reports,
        lists,
        resends,
        signup,
        sms_reports,
        tags,
    )

    # Fixed paths before templated ones: /contacts/sign_up_form must not be taken for
    # /contacts/{contact_id}, nor /activities/contacts_json_import for /activities/{id}.
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
        *email_sending.resources(emu),
        *abtests.resources(emu),
        *resends.resources(emu),
        *email_reports.resources(emu),
        *email_stats.resources(emu),
        *contact_reports.resources(emu),
        *landing_page_reports.resources(emu),
        *sms_reports.resources(emu),
    ]
    return gateway.build_routes(emu, resources)


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for seeding account data and driving bulk activities."""
    from ctct.emulator.api import activity_control, seed, tracking_control

    return [*seed.routes(emu), *activity_control.routes(emu), *tracking_control.routes(emu)]
