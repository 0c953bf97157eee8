"""The V3 API's errors as exceptions, mapped from CC's error bodies.

CC answers most errors with a JSON *array* of ``{"error_key", "error_message"}``; the
401 and both 429s are single objects. ``error_from_response`` turns any of them into
one of these (all under ``ctct.errors.ApiError``, so ``except ApiError`` catches all)::

    ApiError (ctct.errors)     exit 14   any other status (405, 406, 415, a redirect...)
    ├── BadRequest             exit 14   400; .error_keys lists every key CC sent
    ├── Unauthorized           exit 4    401 even after a refresh: log in again
    ├── Forbidden              exit 14   403; .missing_scope / .missing_privilege
    ├── NotFound               exit 14   404
    ├── Conflict               exit 14   409 (duplicate name or email)
    ├── Throttled              exit 14   429 throttled (retryable; retried by the client)
    ├── QuotaExceeded          exit 15   429 quota_exceeded or the local daily count; .reset_at
    ├── ServerError            exit 14   5xx (retryable)
    └── ActivityFailed         exit 14   a bulk activity ended failed/cancelled/timed_out
    InputError (ctct.errors.CtctError)  exit 2   bad local input (a CSV, a JSON argument)
    └── RefusedUrl                       exit 2   a path or link outside the API base

Messages carry CC's own error messages and say what to do. What CC sent (``error_key``,
``error_message``, the reason phrase, a redirect's target) is shown and kept only after
``ctct._redact`` masked the bearer token the request carried and anything JWT-shaped;
``Client`` masks the grant's other tokens and the client secret on top.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx2

from ctct import _cc, _redact
from ctct._wording import duration, plural
from ctct.errors import ApiError, CtctError

__all__ = [
    "ActivityFailed",
    "ApiError",
    "BadRequest",
    "Conflict",
    "ErrorItem",
    "Forbidden",
    "InputError",
    "NotFound",
    "QuotaExceeded",
    "RefusedUrl",
    "Requirement",
    "ServerError",
    "Throttled",
    "Unauthorized",
    "error_from_response",
    "next_utc_midnight",
]


@dataclass(frozen=True)
class ErrorItem:
    """One entry of CC's error body."""

    error_key: str
    error_message: str


@dataclass(frozen=True)
class Requirement:
    """What an operation needs of the caller: any one of ``scopes`` and ``privilege``."""

    scopes: tuple[str, ...] = ()
    privilege: str | None = None


class InputError(CtctError):
    """Local input ctct will not send: fix it and try again."""

    exit_code = 2


class RefusedUrl(InputError):
    """A path or ``next`` link that does not resolve inside the API base: the bearer
    token is never sent there."""


def _describe(status: int, errors: tuple[ErrorItem, ...], fallback: str) -> str:
    if errors:
        detail = "; ".join(
            f"{e.error_message} ({e.error_key})" if e.error_key else e.error_message for e in errors
        )
    else:
        detail = fallback
    return f"HTTP {status}: {detail}"


class _ApiErrorBase(ApiError):
    def __init__(
        self,
        message: str,
        *,
        status: int,
        errors: tuple[ErrorItem, ...] = (),
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, status=status, code=errors[0].error_key if errors else None)
        self.errors = errors
        self.method = method
        self.url = url  # without query: cursors and filters can be long


class BadRequest(_ApiErrorBase):
    """400: malformed JSON or a validation error; ``error_keys`` lists CC's keys."""

    @property
    def error_keys(self) -> list[str]:
        return [e.error_key for e in self.errors]


class Unauthorized(_ApiErrorBase):
    """401 although the token was refreshed and the request replayed: log in again."""

    exit_code = 4


class Forbidden(_ApiErrorBase):
    """403: the token lacks a scope, the user's role lacks a privilege, or the app is
    deactivated. ``missing_scope``/``missing_privilege`` say which, when known."""

    def __init__(
        self,
        message: str,
        *,
        missing_scope: str | None = None,
        missing_privilege: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.missing_scope = missing_scope
        self.missing_privilege = missing_privilege


class NotFound(_ApiErrorBase):
    """404: no such resource (CC also answers 404 for malformed ids)."""


class Conflict(_ApiErrorBase):
    """409: a duplicate (email, list or tag name, campaign name) or a concurrent update."""


class Throttled(_ApiErrorBase):
    """429 ``throttled``: over the per-second rate. Retried; raised when retries run out."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class QuotaExceeded(_ApiErrorBase):
    """429 ``quota_exceeded`` (or the local daily count reached the quota): stop until
    ``reset_at`` (epoch seconds of the next 00:00 UTC). Never retried."""

    exit_code = 15

    def __init__(self, message: str, *, reset_at: float, local: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.reset_at = reset_at
        self.local = local  # True: stopped by ctct's own count, the server was not asked


class ServerError(_ApiErrorBase):
    """5xx: CC's service failed. Retried for idempotent requests."""

    retryable = True


class ActivityFailed(_ApiErrorBase):
    """A bulk activity ended in ``failed``, ``cancelled`` or ``timed_out``, or did not
    finish in time; ``activity`` is its last known state."""

    def __init__(self, message: str, *, activity: dict[str, Any]) -> None:
        super().__init__(message, status=200)
        self.activity = activity
        self.state = activity.get("state")


def next_utc_midnight(now: float) -> float:
    """Epoch seconds of the first 00:00 UTC after ``now``: when CC's daily quota resets."""
    return float((int(now // 86_400) + 1) * 86_400)


def format_reset(reset_at: float, now: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset_at))
    left = max(0, int(reset_at - now))
    return f"{stamp} (in {duration(left)})"


def quota_exceeded(
    now: float, *, local: bool, limit: int | None = None, method: str = "", url: str = ""
) -> QuotaExceeded:
    reset_at = next_utc_midnight(now)
    if local:
        what = f"ctct counted {plural(limit, 'request')} today for this API key" if limit else ""
        message = (
            f"The daily API quota is used up ({what}); it resets at "
            f"{format_reset(reset_at, now)}. Stopping instead of retrying."
        )
    else:
        message = (
            "HTTP 429: Constant Contact says the daily API quota of this API key is used up "
            f"(quota_exceeded); it resets at {format_reset(reset_at, now)}. "
            "Stopping instead of retrying."
        )
    errors = () if local else (ErrorItem("quota_exceeded", "Limit Exceeded"),)
    return QuotaExceeded(
        message,
        status=429,
        reset_at=reset_at,
        local=local,
        errors=errors,
        method=method,
        url=url,
    )


def parse_error_body(content: bytes) -> tuple[ErrorItem, ...]:
    """CC's error entries from a body (array or single object); empty if it has none."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ()
    items = body if isinstance(body, list) else [body]
    found: list[ErrorItem] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        key, message = item.get("error_key"), item.get("error_message")
        if isinstance(key, str) or isinstance(message, str):
            found.append(ErrorItem(str(key or ""), str(message or "")))
        elif isinstance(item.get("message"), str):  # the gateway's {"message": "Forbidden"}
            found.append(ErrorItem("", str(item["message"])))
    return tuple(found)


_PRIVILEGE = re.compile(r"\b([a-z_]+(?::[a-z_]+)+)\b")


def _forbidden(
    status: int,
    errors: tuple[ErrorItem, ...],
    requirement: Requirement | None,
    granted: Iterable[str] | None,
    **kwargs: Any,
) -> Forbidden:
    text = " ".join(e.error_message for e in errors)
    named_scopes = [s for s in sorted(_cc.SCOPES) if re.search(rf"\b{s}\b", text)]
    named_privileges = _PRIVILEGE.findall(text)
    scope = named_scopes[0] if named_scopes else None
    privilege = named_privileges[0] if named_privileges else None
    if scope is None and privilege is None and requirement is not None:
        # CC's wording is not published: decide from what the operation needs and what
        # the grant holds.
        held = None if granted is None else frozenset(granted)
        if requirement.scopes and held is not None and not held.intersection(requirement.scopes):
            scope = requirement.scopes[0]
        elif requirement.privilege is not None:
            privilege = requirement.privilege
    message = _describe(status, errors, "Forbidden")
    if scope is not None:
        message += (
            f". The access token lacks the {scope} scope: log in again asking for it "
            f"(e.g. `ctct auth login --scopes {scope}`)."
        )
    elif privilege is not None:
        message += (
            f". The user's role lacks the {privilege} privilege: log in as a user whose "
            "role has it (an account owner or manager)."
        )
    return Forbidden(
        message,
        missing_scope=scope,
        missing_privilege=privilege,
        status=status,
        errors=errors,
        **kwargs,
    )


def error_from_response(
    response: httpx2.Response,
    *,
    now: float,
    requirement: Requirement | None = None,
    granted_scopes: Iterable[str] | None = None,
    retry_after: float | None = None,
) -> ApiError:
    """The exception for an error response (status >= 300)."""
    status = response.status_code
    held = _redact.NOTHING
    # CC's text may echo the Authorization header it received: mask before use.
    held = held.plus(_redact.in_response(response))
    errors = tuple(
        ErrorItem(
            _redact.server_text(e.error_key, held, limit=100),
            _redact.server_text(e.error_message, held, limit=500),
        )
        for e in parse_error_body(response.content)
    )
    request = response.request
    where = {"method": request.method, "url": _without_query(str(request.url))}
    keys = {e.error_key for e in errors}
    if status == 429 and "quota_exceeded" in keys:
        return quota_exceeded(now, local=False, method=where["method"], url=where["url"])
    if 300 <= status < 400:
        target = _redact.server_text(
            _without_query(response.headers.get("location", "(no Location)")), held
        )
        return ApiError(
            f"HTTP {status}: the API answered with a redirect to {target}; "
            "ctct never follows redirects with the access token.",
            status=status,
        )
    reason = _redact.server_text(response.reason_phrase, held, limit=100)
    message = _describe(status, errors, reason or "error")
    kwargs: dict[str, Any] = {"status": status, "errors": errors, **where}
    if status == 400:
        return BadRequest(message, **kwargs)
    if status == 401:
        return Unauthorized(
            message + ". The access token was refused even after a refresh: "
            "log in again (`ctct auth login`).",
            **kwargs,
        )
    if status == 403:
        return _forbidden(status, errors, requirement, granted_scopes, **where)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 409:
        return Conflict(message, **kwargs)
    if status == 429:
        return Throttled(
            message + ". Over the per-second rate limit.", retry_after=retry_after, **kwargs
        )
    if status >= 500:
        return ServerError(
            message + ". Constant Contact's service failed; try again later.", **kwargs
        )
    return _ApiErrorBase(message, **kwargs)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]
