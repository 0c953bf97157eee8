"""Pieces every OAuth endpoint of the emulator shares: the protocol error, JSON
responses with the headers RFC 6749 requires, parameter parsing and scope checks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from ctct import _cc

ALLOWED_SCOPES = frozenset(_cc.SCOPES | {"openid"})

# Headers on every token-endpoint answer: RFC 6749 5.1 forbids caching tokens and errors.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An OAuth error answer: ``{"error", "error_description"}`` with an HTTP status.

    The description is shown to developers; it never contains a token, code or secret.
    """

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return json_response(
            {"error": self.error, "error_description": self.description},
            status=self.status,
            headers=self.headers,
        )


def json_response(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(dict(body), status_code=status, headers={**NO_STORE, **(headers or {})})


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def single_valued(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Collapse parameters into a dict; RFC 6749 3.1 forbids repeating one.

    The same value twice is tolerated (a client that sends a parameter in both the
    query string and the body, identically, is not confused about what it means).
    """
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params and params[name] != value:
            raise OAuthError(
                "invalid_request",
                f"The parameter '{name}' was given more than once with different values; "
                "send it once.",
            )
        params[name] = value
    return params


async def query_and_form(request: Request) -> dict[str, str]:
    """Merge the query string and an ``application/x-www-form-urlencoded`` body.

    CC's own examples POST the token request with every parameter in the query
    string and an empty body; most libraries send a form body. Both are accepted.
    """
    pairs = list(request.query_params.multi_items())
    body = await request.body()
    if body:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise OAuthError(
                "invalid_request",
                "Send the parameters as an application/x-www-form-urlencoded body "
                f"(or in the query string), not as {content_type or 'an untyped body'}.",
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise OAuthError("invalid_request", "The request body is not UTF-8.") from None
        pairs.extend(parse_qsl(text, keep_blank_values=True))
    return single_valued(pairs)


def parse_scopes(raw: str | None, *, required: bool = True) -> tuple[str, ...]:
    """Split a space-delimited ``scope`` (already form-decoded) and check each name.

    Order is kept and duplicates dropped, so the granted ``scope`` reads like the request.
    """
    names = tuple(dict.fromkeys((raw or "").split()))
    if not names:
        if not required:
            return ()
        raise OAuthError(
            "invalid_scope",
            "The 'scope' parameter is required, e.g. 'account_read contact_data offline_access'.",
        )
    unknown = [n for n in names if n not in ALLOWED_SCOPES]
    if unknown:
        raise OAuthError(
            "invalid_scope",
            f"Unknown scope(s): {', '.join(unknown)}. "
            f"Allowed scopes: {', '.join(sorted(ALLOWED_SCOPES))} (separate them with spaces).",
        )
    return names


def add_query(uri: str, params: Mapping[str, str | None]) -> str:
    """Append parameters to a URI that may already carry a query string."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query and extra else parts.query or extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def request_origin(request: Request) -> str:
    """The origin the caller used to reach us (scheme and Host), without a trailing slash."""
    return str(request.base_url).rstrip("/")
