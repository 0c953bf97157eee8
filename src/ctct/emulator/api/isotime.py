"""ISO-8601 timestamps in CC's style (``2016-01-23T13:48:44.108Z``) from epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def format_datetime(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def parse_datetime(text: str) -> float | None:
    """Epoch seconds for an ISO-8601 date or date-time (no offset means UTC); None if invalid."""
    text = text.strip()
    if "T" in text and " " in text:
        # An unencoded "+" in a query string (``+01:00``) arrives as a space.
        text = text.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
