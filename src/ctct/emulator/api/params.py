"""Small parsers for query parameters and path ids shared by the endpoint modules.

Each collects problems into a list rather than raising, so an endpoint can answer one
400 naming every mistake in the request.
"""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams
from starlette.requests import Request

from ctct.emulator.api import errors
from ctct.emulator.api.contact_input import is_uuid


def boolean(params: QueryParams, name: str, problems: list[str]) -> bool:
    """A ``true``/``false`` query parameter (default false)."""
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        problems.append(f"{name} must be true or false; got {params[name]!r}.")
    return raw == "true"


def choice(
    params: QueryParams, name: str, allowed: tuple[str, ...], problems: list[str]
) -> str | None:
    """An optional query parameter that must be one of ``allowed``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        problems.append(f"{name} must be one of {', '.join(allowed)}; got {raw!r}.")
        return None
    return raw


def csv_values(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def path_uuid(request: Request, name: str, area: str) -> str:
    """A UUID path parameter, lower-cased; CC's 404 when it is not a UUID."""
    value = str(request.path_params[name])
    if not is_uuid(value):
        raise errors.not_found(area, f"{name} is in an invalid format.")
    return value.lower()


def cursor_invalid(area: str) -> errors.ApiError:
    return errors.validation(
        area, "cursor is not valid: use the cursor from the previous page's _links.next.href."
    )


_DIGITS = re.compile(r"[0-9]{1,18}")
SQLITE_MAX: int = 2**63 - 1


def whole_number(text: str, maximum: int = SQLITE_MAX) -> int | None:
    """A whole number written with ASCII digits, at most ``maximum``; None otherwise (so
    "²", "１" or a number SQLite cannot hold never reach ``int`` or a query)."""
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None
