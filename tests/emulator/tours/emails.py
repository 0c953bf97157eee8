"""Contract tour of Email Campaigns, Email Scheduling and Email Campaigns AB Tests (found
by ``tests.emulator.tours.discover``): the drive functions of ``email_tours``, which
``test_api_email_sending.py`` also runs with its own driver."""

from __future__ import annotations

from tests.emulator.email_tours import EMAIL_TAGS, drive_campaigns, drive_email_sending
from tests.emulator.report_support import Drives

TAGS = EMAIL_TAGS


def tour(t: Drives) -> None:
    drive_email_sending(t)  # first: it expects the emulator's first campaign
    drive_campaigns(t)
