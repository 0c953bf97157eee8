"""The emulated V3 API: every ``/v3/...`` route goes through the gateway
(``gateway.py``: token, limits, scope, privilege, media type), plus control routes that
seed account data (``seed.py``) and drive the bulk-activity worker (``activity_control``).

Modules:

- plumbing: ``gateway``, ``errors`` (CC's error bodies), ``pagination`` (cursors),
  ``params`` (query/path parsing), ``privileges``, ``isotime``;
- endpoints: ``account`` (summary, physical address, account emails), ``contacts``,
  ``contact_extras`` (counts, resubscribe, SMS history), ``xrefs`` (V2 ids), ``signup``
  (sign_up_form), ``lists``, ``segments``, ``custom_fields``, ``tags``, ``imports``
  (JSON/CSV), ``bulk_activities`` (memberships, contact_delete, exports),
  ``bulk_tagging`` (taggings, tag/list/custom-field deletes), ``activities`` (status),
  ``emails`` (campaigns, V2 campaign xrefs), ``email_sending`` (test sends,
  previews, send history), ``abtests``, ``resends`` (to non-openers), ``events``,
  ``social``, ``automations``; reports: ``email_reports``, ``email_stats``,
  ``contact_reports``, ``landing_page_reports``, ``sms_reports``;
- partner endpoints, behind ``partner_gateway`` (partner token + ``x-api-key``):
  ``partners`` (client accounts; ``partner_sync`` runs requests on their behalf) and
  ``partner_webhooks``;
- pure validation and shaping: ``contact_input``, ``contact_model``, ``signup_input``,
  ``import_input``, ``import_rows``, ``export_rows``, ``email_input``, ``selection``,
  ``segment_criteria`` (criteria to SQL);
- database stores: ``contact_store``, ``list_store``, ``custom_field_store``,
  ``tag_store``, ``email_store``, ``activity_store``, ``account_email_store``,
  ``segment_store``, ``email_tracking``, ``event_store``, ``social_store``,
  ``automation_store``, ``partner_store``, ``abtest_store``, ``resend_store``,
  ``email_test_store``, ``landing_page_store``, ``sms_store``; ``seed_areas`` seeds
  what no V3 operation creates;
- simulated tracking (``tracking``: sends, resends, effects on contacts when due):
  ``tracking_config`` (seed and rates, ``tracking_control`` routes), ``tracking_plan``
  (pure planning), ``tracking_store``, ``tracking_effects``, ``report_store`` (the
  queries every report shares) and ``report_common``;
- bulk activities: ``activity_runner`` (worker thread, chunked steps) runs the jobs in
  ``list_jobs``, ``import_job``, ``contact_jobs``, ``tag_store`` and ``tagging_jobs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ctct.emulator.api.gateway import Resource
    from ctct.emulator.app import Emulator


def routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /v3: the resources below, a 501 for each operation of CC's contract
    none of them serves (``routing.complete``, which also orders fixed paths before
    templated ones), the partner endpoints, and a catch-all answering CC's 404 for paths
    outside the contract."""
    from ctct.emulator.api import gateway, partner_gateway, partner_webhooks, partners, routing

    account_resources = resources(emu)
    partner_resources = [
        *partners.resources(emu, account_resources),
        *partner_webhooks.resources(emu),
    ]
    return gateway.build_routes(
        emu,
        routing.complete(account_resources, elsewhere=[r.path for r in partner_resources]),
        partner_gateway.build_routes(emu, partner_resources),
    )


def resources(emu: Emulator) -> list[Resource]:
    """Every /v3 resource that takes a user's access token, in matching order."""
    # Imported here: ``ctct.emulator.accounts`` imports this package's stores, and the
    # endpoint modules import ``accounts`` back.
    from ctct.emulator.api import (
        abtests,
        account,
        activities,
        automations,
        bulk_activities,
        bulk_tagging,
        contact_extras,
        contact_reports,
        contacts,
        custom_fields,
        email_reports,
        email_sending,
        email_stats,
        emails,
        events,
        imports,
        landing_page_reports,
        lists,
        resends,
        segments,
        signup,
        sms_reports,
        social,
        tags,
        xrefs,
    )

    # Fixed paths before templated ones: /contacts/sign_up_form (or counts, or
    # contact_id_xrefs) must not be taken for /contacts/{contact_id}, nor
    # /activities/contacts_json_import for /activities/{id}.
    return [
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
        *email_sending.resources(emu),
        *abtests.resources(emu),
        *resends.resources(emu),
        *email_reports.resources(emu),
        *email_stats.resources(emu),
        *contact_reports.resources(emu),
        *landing_page_reports.resources(emu),
        *sms_reports.resources(emu),
        *events.resources(emu),
        *social.resources(emu),
        *automations.resources(emu),
    ]


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for seeding account data and driving bulk activities."""
    from ctct.emulator.api import (
        account,
        activity_control,
        contact_extras,
        partner_webhooks,
        seed,
        tracking_control,
    )

    return [
        *seed.routes(emu),
        *activity_control.routes(emu),
        *contact_extras.control_routes(emu),
        *account.control_routes(emu),
        *partner_webhooks.control_routes(emu),
        *tracking_control.routes(emu),
    ]
