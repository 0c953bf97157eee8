"""Error responses as Constant Contact's V3 API sends them (spec section 6.2).

Most errors are a JSON *array* of ``{"error_key", "error_message"}`` objects. Three are
single objects: 401 (``AuthorizationErrorSchema``; CC sends it compactly, Content-Length
59) and the two 429 bodies (spec section 7). Bodies are serialized compactly, as CC does.

Error keys CC documents: ``unauthorized``, ``throttled``, ``quota_exceeded``,
``contacts.api.not_found``, ``contacts.api.validation.error``. The others
(``forbidden``, ``*.api.conflict``, ``unsupported_media_type``, ``method_not_allowed``,
``not_found``) are the emulator's choice: CC's exact strings are not published.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

UNAUTHORIZED_BODY: dict[str, str] = {"error_key": "unauthorized", "error_message": "Unauthorized"}
THROTTLED_BODY: dict[str, str] = {"error_key": "throttled", "error_message": "Too Many Requests"}
QUOTA_BODY: dict[str, str] = {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}

# CC's 401 carries this header (seen in C7); clients key their refresh-on-401 off the status.
WWW_AUTHENTICATE = "Bearer realm=api.cc.email"


def dumps(body: Any) -> bytes:
    """Compact JSON, as CC sends it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(body), status_code, headers, media_type="application/json")


class ApiError(Exception):
    """Raised by handlers and the gateway; turned into CC's error body by ``response``."""

    def __init__(
        self,
        status: int,
        errors: list[tuple[str, str]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__("; ".join(message for _, message in errors))
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> Response:
        body = [{"error_key": key, "error_message": message} for key, message in self.errors]
        return json_response(body, self.status, self.headers)


class SingleObjectError(ApiError):
    """The 401 and 429 errors, whose bodies are one object rather than an array."""

    def __init__(self, status: int, body: dict[str, str], headers: dict[str, str] | None = None):
        super().__init__(status, [(body["error_key"], body["error_message"])], headers)
        self.body = body

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


def unauthorized() -> SingleObjectError:
    return SingleObjectError(401, UNAUTHORIZED_BODY, {"WWW-Authenticate": WWW_AUTHENTICATE})


def throttled() -> SingleObjectError:
    return SingleObjectError(429, THROTTLED_BODY)


def quota_exceeded() -> SingleObjectError:
    # Both 429s share a status; API Gateway names the quota one apart (see ``amzn``).
    return SingleObjectError(429, QUOTA_BODY, {"x-amzn-ErrorType": "LimitExceededException"})


def forbidden(message: str) -> ApiError:
    return ApiError(403, [("forbidden", message)])


def not_found(area: str, message: str) -> ApiError:
    return ApiError(404, [(f"{area}.api.not_found", message)])


def validation(area: str, *messages: str) -> ApiError:
    """400 with one array entry per problem, so a client sees every mistake at once."""
    return ApiError(400, [(f"{area}.api.validation.error", m) for m in messages])


def conflict(area: str, message: str) -> ApiError:
    return ApiError(409, [(f"{area}.api.conflict", message)])


def unsupported_media_type(expected: str = "application/json") -> ApiError:
    if expected == "multipart/form-data":
        advice = (
            "send the CSV as a multipart/form-data upload and let your HTTP library set the "
            "Content-Type header (with its boundary); do not set it yourself."
        )
    else:
        advice = "send the body as JSON with 'Content-Type: application/json'."
    return ApiError(415, [("unsupported_media_type", f"Unsupported Media Type: {advice}")])


def method_not_allowed(method: str, path: str, allowed: list[str]) -> ApiError:
    return ApiError(
        405,
        [("method_not_allowed", f"Method {method} is not allowed on {path}.")],
        {"Allow": ", ".join(allowed)},
    )


def unknown_resource(path: str) -> ApiError:
    return ApiError(404, [("not_found", f"No resource at {path}.")])


def too_many_activities(limit: int) -> ApiError:
    return ApiError(
        429,
        [
            (
                "activities.api.too_many_requests",
                f"Too many requests: this account already has {limit} queued activities; "
                "wait for some to complete (GET /v3/activities?state=processing).",
            )
        ],
    )


def not_acceptable(produces: tuple[str, ...]) -> ApiError:
    return ApiError(
        406,
        [
            (
                "not_acceptable",
                f"Not Acceptable: this operation answers {' or '.join(produces)}; send "
                f"'Accept: {produces[0]}' (or */*, or no Accept header).",
            )
        ],
    )


def not_modelled(method: str, template: str) -> ApiError:
    """An operation of CC's contract the emulator does not serve (yet): 501, never a
    404 that would read as "no such resource" or "malformed id"."""
    return ApiError(
        501,
        [
            (
                "not_implemented",
                f"The emulator does not model {method} /v3{template} yet. It is an operation "
                "of Constant Contact's V3 contract, so the real API serves it; test this call "
                "against Constant Contact, or see docs/emulator.md for what is served.",
            )
        ],
    )
