"""Cursor pagination as CC does it (spec section 7).

A page's ``_links.next.href`` is path-relative (``/v3/contacts?cursor=...&limit=50``) and
absent on the last page. The cursor is opaque to clients; here it is base64url JSON
carrying the query's filters and the position (the last row's sequence number), so a
walk sees every row that existed when it began exactly once, whatever else changes.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode

from ctct.emulator.api import errors

DEFAULT_LIMIT = 50
_CURSOR_VERSION = 1


def parse_limit(raw: str | None, area: str, maximum: int, default: int = DEFAULT_LIMIT) -> int:
    """The ``limit`` query parameter, or CC's 400 when it is not an integer in range."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise errors.validation(area, f"limit must be an integer from 1 to {maximum}; got {raw!r}.")
    return value


def encode_cursor(filters: dict[str, Any], after: int) -> str:
    payload = {"v": _CURSOR_VERSION, "f": filters, "a": after}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, area: str) -> tuple[dict[str, Any], int]:
    """``(filters, after)`` from a cursor made by ``encode_cursor``, or CC's 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        filters, after = payload["f"], payload["a"]
        valid = payload.get("v") == _CURSOR_VERSION and isinstance(filters, dict)
        if not valid or not isinstance(after, int):
            raise ValueError("unexpected cursor content")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.validation(
            area,
            "cursor is not valid: use the cursor from the previous page's _links.next.href.",
        ) from None
    return filters, after


def next_link(path: str, cursor: str, limit: int) -> dict[str, dict[str, str]]:
    """CC's ``PagingLinks`` with a path-relative ``next.href``."""
    return {"next": {"href": f"{path}?{urlencode({'cursor': cursor, 'limit': limit})}"}}
