"""The broker's HTTP API.

``GET /v1/token?profile=NAME&min_valid=SECONDS[&rejected=SHA256]`` with the header
``Ctct-Broker: 1`` (and ``Authorization: Bearer KEY`` over TCP) answers::

    {"access_token": "...", "token_type": "Bearer", "expires_at": "2026-12-01T20:00:00Z",
     "expires_in": 86100, "scopes": ["account_read", ...], "profile": "NAME"}

never a refresh token. Errors are ``{"error": CODE, "message": TEXT}``: 400 bad input,
401 no or unknown key, 403 missing header or a profile the policy denies, 404 unknown
profile, 424 the grant needs a new login, 429 a forced refresh too soon, 503 (with
``Retry-After``) no valid token while the token endpoint is down.

The header is what keeps browsers out: a page cannot add a custom header to a
cross-origin request without a CORS preflight, which the broker never approves; a
request forged through an SSRF in some other service rarely controls headers either.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctct.broker.formats import document
from ctct.broker.keys import KeyRing
from ctct.broker.peercred import peer_of
from ctct.broker.policy import Caller, Policy
from ctct.broker.source import BrokerError, TokenSource, parse_fingerprint

log = logging.getLogger("ctct.broker")

HEADER = "ctct-broker"
NO_STORE = {"cache-control": "no-store"}


def missing_header() -> BrokerError:
    return BrokerError(
        403, "missing_header", "Every request to the broker must carry the header 'Ctct-Broker: 1'."
    )


def unknown_key() -> BrokerError:
    return BrokerError(
        401,
        "unauthorized",
        "Send 'Authorization: Bearer KEY' with a key from the broker's key file.",
    )


def unidentified() -> BrokerError:
    return BrokerError(403, "unidentified", "The caller could not be identified.")


def denied(profile: str) -> BrokerError:
    return BrokerError(
        403, "forbidden", f"The broker's policy does not let this caller read {profile!r}."
    )


def error_response(error: BrokerError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))
    if error.status == 401:
        headers["www-authenticate"] = 'Bearer realm="ctct-broker"'
    return JSONResponse(
        {"error": error.error, "message": error.message}, status_code=error.status, headers=headers
    )


def broker_app(
    source: TokenSource,
    policy: Policy,
    *,
    keys: KeyRing | None = None,
    default_profile: str = "default",
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """``keys``: required bearer keys (TCP); None: callers are unix-socket peers."""

    def caller_of(request: Request) -> Caller:
        if keys is not None:
            scheme, _, presented = request.headers.get("authorization", "").partition(" ")
            name = keys.name_for(presented.strip()) if scheme.lower() == "bearer" else None
            if name is None:
                raise unknown_key()
            return Caller(key=name)
        peer = peer_of(request.scope)
        if peer is None:
            raise unidentified()
        return Caller(uid=peer["uid"], gid=peer["gid"], pid=peer["pid"])

    async def token(request: Request) -> Response:
        caller: Caller | None = None
        profile = request.query_params.get("profile") or default_profile
        try:
            caller = caller_of(request)
            if request.headers.get(HEADER) != "1":
                raise missing_header()
            if not policy.allows(caller, profile):
                raise denied(profile)
            min_valid = _min_valid(request.query_params.get("min_valid"))
            rejected = parse_fingerprint(request.query_params.get("rejected"))
            served = await source.get(profile, min_valid=min_valid, rejected=rejected)
        except BrokerError as error:
            log.info(
                "refused profile %r to %s: %d %s",
                profile,
                caller.describe() if caller else "an unidentified caller",
                error.status,
                error.error,
            )
            return error_response(error)
        log.info("served profile %r to %s", profile, caller)
        body = document(
            profile=served.profile,
            access_token=served.access_token,
            token_type=served.token_type,
            expires_at=served.expires_at,
            scopes=served.scopes,
            now=clock(),
        )
        return JSONResponse(body, headers=NO_STORE)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers=NO_STORE)

    return Starlette(routes=[Route("/v1/token", token), Route("/v1/health", health)])


def _min_valid(value: str | None) -> float:
    if value is None or value == "":
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise BrokerError(400, "bad_min_valid", "min_valid must be a number of seconds >= 0.")
    return seconds
