"""What the reporting endpoints (``/v3/reports/...``) share: their error bodies, query
parsing, cursors over ``report_store.Position`` and the contact fields of a row.

CC's reporting service answers its own errors (400, 404) with one ``StatsError`` object
``{"error_key": "reportingsvc...", "error_message": ...}`` rather than the array the
other services send (spec section 6.2); the gateway's errors (401, 403, 429...) keep
their usual shapes. Every problem of a request is named in the one message.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any, Final

from starlette.datastructures import QueryParams
from starlette.requests import Request

from ctct.emulator.api import errors, pagination
from ctct.emulator.api.contact_input import is_uuid
from ctct.emulator.api.isotime import format_date, format_datetime, parse_datetime
from ctct.emulator.api.report_store import Position

SCOPE_CAMPAIGNS: Final = ("campaign_data",)
SCOPE_CONTACTS: Final = ("contact_data",)
PRIVILEGE: Final = "ui:campaign:metrics"


def bad_request(*messages: str) -> errors.SingleObjectError:
    return errors.SingleObjectError(
        400, {"error_key": "reportingsvc.validation.error", "error_message": " ".join(messages)}
    )


def not_found(what: str, message: str) -> errors.SingleObjectError:
    return errors.SingleObjectError(
        404, {"error_key": f"reportingsvc.not_found.{what}", "error_message": message}
    )


def path_uuid(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not is_uuid(value):
        raise not_found(f"invalid_path_param.{name}", f"{name} {value!r} is not a valid UUID.")
    return value.lower()


def path_uuids(request: Request, name: str, maximum: int) -> list[str]:
    """A comma-separated list of UUIDs in the path: 404 if any is malformed (CC's rule
    for the stats reports), 400 beyond ``maximum``."""
    values = [v.strip() for v in str(request.path_params[name]).split(",") if v.strip()]
    bad = [v for v in values if not is_uuid(v)]
    if bad or not values:
        raise not_found(
            f"invalid_path_param.{name}",
            f"{name} must be comma-separated UUIDs; not valid: {', '.join(bad) or '(none)'}.",
        )
    if len(values) > maximum:
        raise bad_request(f"{name}: at most {maximum} ids per request; got {len(values)}.")
    return list(dict.fromkeys(v.lower() for v in values))


def limit(query: QueryParams, maximum: int, default: int) -> int:
    try:
        return pagination.parse_limit(query.get("limit"), "reports", maximum, default)
    except errors.ApiError as exc:
        raise bad_request(str(exc)) from None


def position(query: QueryParams, now: float) -> tuple[Position, dict[str, Any]]:
    """Where a walk is (from ``cursor``, else a new walk as of ``now``) and the filters
    the walk began with (kept in the cursor; the query's are read on the first page)."""
    raw = query.get("cursor")
    if not raw:
        return Position(now), {}
    try:
        state, seq = pagination.decode_cursor(raw, "reports")
        as_of, at = _finite(state["t"]), state.get("a")
        filters = state.get("f", {})
        if not isinstance(filters, dict) or not 0 <= seq < 2**63:
            raise ValueError("not one of ours")
        if not all(map(_plain, filters.values())):
            raise ValueError("filters of the wrong kind")
        return Position(as_of, None if at is None else _finite(at), seq), filters
    except (errors.ApiError, KeyError, TypeError, ValueError):
        raise bad_request(
            "cursor is not valid: use the cursor from the previous page's _links.next.href."
        ) from None


def _plain(value: object) -> bool:
    """A filter value as the reports put them in cursors: text, a flag, a number or a
    list of text (so SQL gets nothing else from a hand-made cursor)."""
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | bool | int) and not (
        isinstance(value, int) and abs(value) >= 2**63
    )


def _finite(value: object) -> float:
    """A number from a cursor (a hand-made one may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def next_href(
    request: Request, where: Position, last: sqlite3.Row, size: int, filters: dict[str, Any]
) -> str:
    """The path-relative link to the page after ``last`` (an event row)."""
    state = {"t": where.as_of, "a": last["at"], "f": filters}
    token = pagination.encode_cursor(state, int(last["seq"]))
    return pagination.next_link(request.url.path, token, size)["next"]["href"]


def moment(query: QueryParams, name: str, problems: list[str], required: bool) -> float | None:
    raw = query.get(name)
    if raw is None or raw == "":
        if required:
            problems.append(f"{name} is required: an ISO-8601 date-time.")
        return None
    value = parse_datetime(_colon_offset(raw))
    if value is None:
        problems.append(f"{name} must be an ISO-8601 date-time (e.g. 2024-01-01T00:00:00Z).")
    return value


def _colon_offset(text: str) -> str:
    """``2019-01-01T00:00:00-0500`` (CC's examples) as Python reads offsets: -05:00."""
    text = text.strip().replace(" ", "+")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and "T" in text:
        return f"{text[:-2]}:{text[-2:]}"
    return text


def contact_fields(row: sqlite3.Row) -> dict[str, Any]:
    """``contact_id``, ``email_address`` (as sent), names and ``deleted_at`` of a row."""
    body: dict[str, Any] = {"contact_id": row["contact_id"], "email_address": row["email"]}
    for key in ("first_name", "last_name"):
        if row[key]:
            body[key] = row[key]
    return body


def stamp(row: sqlite3.Row, body: dict[str, Any]) -> dict[str, Any]:
    """Add ``created_time`` (and ``deleted_at`` for a deleted contact)."""
    body["created_time"] = format_datetime(row["at"])
    if row["deleted_at"] is not None:
        body["deleted_at"] = format_date(row["deleted_at"])
    return body


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0
