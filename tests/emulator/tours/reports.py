"""Contract tour of Email, Contacts, Landing Pages and SMS Reporting (found by
``tests.emulator.tours.discover``): ``email_tours.drive_reports``. The reporting
service's own 400s and 404s are one ``StatsError`` object, not the error array a tour
checks, so here each operation's 4xx is the gateway's 403; ``test_api_reports.py``
drives the rest."""

from __future__ import annotations

from tests.emulator.email_tours import REPORT_TAGS, drive_reports
from tests.emulator.report_support import Drives

TAGS = REPORT_TAGS


def tour(t: Drives) -> None:
    drive_reports(t, reporting_errors=False)
