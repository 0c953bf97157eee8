"""The V3 API gateway: what happens to every ``/v3/...`` request before its handler.

Order of checks (each failure ends the request):

1. Bearer token (401, CC's single-object body and ``WWW-Authenticate``): RS256 only,
   signature against the emulator's keys (unknown ``kid`` fails), ``exp`` against the
   emulator's clock with no leeway, ``aud``/``iss`` equal to CC's literal values, and the
   ``jti`` still honoured (not revoked). In the generic provider mode, that mode's RFC
   9068 or opaque tokens instead (``generic_tokens.verify``).
2. Per-second limit for the token's API key (``cid``): 429 ``throttled``. A request
   refused here does not consume the daily quota.
3. Daily quota for the key: 429 ``quota_exceeded`` (resets 00:00 UTC). Requests refused
   later (403, 404, 405, 415, 400...) have been counted, as a gateway in front of the
   service counts them. Requests refused at step 1 cannot be counted: no key is known.
4. Unknown path (404), method (405), then scope (403), then the user's role privilege (403).
5. The operation's media type on POST/PUT/PATCH (415): ``application/json``, or for the
   CSV import ``multipart/form-data`` with its boundary (a client that sets that header by
   hand, without the boundary its HTTP library would add, gets CC's 415).
6. ``Accept`` (406) when it allows none of the media types the operation produces.

An operation of CC's contract that the emulator does not serve answers 501 after step 4's
route check (``routing.complete`` adds those placeholders).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ctct import _cc
from ctct.emulator import generic, generic_tokens, tokens
from ctct.emulator.api import errors
from ctct.emulator.api.accept import acceptable
from ctct.emulator.api.privileges import privileges_of
from ctct.emulator.config import UserConfig

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


@dataclass(frozen=True)
class Caller:
    """Who is calling: from a verified access token."""

    client_id: str
    user: UserConfig
    scopes: frozenset[str]
    jti: str

    @property
    def account_id(self) -> str:
        return self.user.account_id


Handler = Callable[[Request, Caller], Awaitable[Response]]


JSON = "application/json"
MULTIPART = "multipart/form-data"
NO_BODY = ""  # an operation that takes its input from the query only: no media type check


@dataclass(frozen=True)
class Operation:
    """One method on one resource, with what it requires of the caller."""

    method: str
    handler: Handler
    scopes: tuple[str, ...] = ()  # any one of these suffices; empty: no scope needed
    privilege: str | None = None
    content_type: str = JSON  # NO_BODY: no request media type is checked
    produces: tuple[str, ...] = (JSON,)  # what Accept must allow (406); empty: anything
    modelled: bool = True  # False: a placeholder answering 501 (see ``routing``)


@dataclass(frozen=True)
class Resource:
    """A path under /v3 (e.g. ``/contacts/{contact_id}``) and its operations."""

    path: str
    operations: tuple[Operation, ...]

    def operation(self, method: str) -> Operation | None:
        return next((op for op in self.operations if op.method == method), None)

    @property
    def methods(self) -> list[str]:
        return [op.method for op in self.operations]


def authenticate(emu: Emulator, authorization: str | None) -> Caller:
    """Verify the bearer token as CC's gateway does; raise the 401 on any failure."""
    if not authorization:
        raise errors.unauthorized()
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.unauthorized()
    if generic.enabled(emu.config):
        return _generic_caller(emu, token)
    try:
        decoded = jwt.decode(token, emu.keys.key_set(), algorithms=["RS256"])
    except Exception:  # every way a token can be unreadable or forged means the same 401
        raise errors.unauthorized() from None
    if "kid" not in decoded.header:
        raise errors.unauthorized()
    claims: dict[str, Any] = decoded.claims
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or emu.clock.now() >= exp:
        raise errors.unauthorized()
    if claims.get("iss") != _cc.ISSUER or not _audience_ok(claims.get("aud")):
        raise errors.unauthorized()
    jti, cid, sub, scp = claims.get("jti"), claims.get("cid"), claims.get("sub"), claims.get("scp")
    if not isinstance(jti, str) or not isinstance(cid, str) or not isinstance(sub, str):
        raise errors.unauthorized()
    if not isinstance(scp, list) or not all(isinstance(s, str) for s in scp):
        raise errors.unauthorized()
    user = emu.config.user(sub)
    if user is None or not tokens.access_token_active(emu, jti):
        raise errors.unauthorized()
    return Caller(client_id=cid, user=user, scopes=frozenset(scp), jti=jti)


def _generic_caller(emu: Emulator, token: str) -> Caller:
    """The generic provider mode: this provider's JWT or opaque access tokens."""
    holder = generic_tokens.verify(emu, token)
    user = emu.config.user(holder.username) if holder is not None else None
    if holder is None or user is None:
        raise errors.unauthorized()
    return Caller(client_id=holder.client_id, user=user, scopes=holder.scopes, jti=holder.jti)


def _audience_ok(aud: object) -> bool:
    if isinstance(aud, str):
        return aud == _cc.AUDIENCE
    return isinstance(aud, list) and _cc.AUDIENCE in aud


def admit(emu: Emulator, client_id: str) -> None:
    """Apply CC's per-key limits: the per-second bucket first, then the daily quota."""
    if not emu.api_limiter.try_acquire(client_id):
        raise errors.throttled()
    if not emu.api_quota.try_acquire(client_id):
        raise errors.quota_exceeded()


def authorize(operation: Operation, caller: Caller) -> None:
    """403 when the token lacks the scope or the user's role lacks the privilege."""
    if operation.scopes and not caller.scopes.intersection(operation.scopes):
        needed = " or ".join(operation.scopes)
        raise errors.forbidden(f"The access token lacks the {needed} scope this request needs.")
    if operation.privilege and operation.privilege not in privileges_of(caller.user.role):
        raise errors.forbidden(
            f"The user's role ({caller.user.role}) lacks the {operation.privilege} "
            "privilege this request needs."
        )


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def require_json(request: Request) -> None:
    require_media_type(request, JSON)


def require_media_type(request: Request, expected: str) -> None:
    """CC's 415 unless the body is ``expected`` (multipart also needs its boundary)."""
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    media_type = media_type.strip().lower()
    if media_type != expected:
        raise errors.unsupported_media_type(expected)
    if expected == MULTIPART and "boundary=" not in params.lower():
        raise errors.unsupported_media_type(expected)


async def read_json(request: Request, area: str) -> Any:
    """The request body parsed as JSON, or CC's 400."""
    raw = await request.body()
    if not raw.strip():
        raise errors.validation(area, "The request body is empty: send a JSON object.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.validation(area, f"The request body is not valid JSON ({exc}).") from None


class Gateway:
    """Runs the checks above, then the operation's handler, and counts the answer."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def handle(self, request: Request, resource: Resource | None) -> Response:
        method = request.method
        template = _cc.API_BASE_PATH + (resource.path if resource else "/{unknown}")
        try:
            caller = authenticate(self.emu, request.headers.get("authorization"))
            admit(self.emu, caller.client_id)
            if resource is None:
                raise errors.unknown_resource(request.url.path)
            operation = resource.operation(method)
            if operation is None:
                raise errors.method_not_allowed(method, request.url.path, resource.methods)
            authorize(operation, caller)
            if method in _BODY_METHODS and operation.content_type != NO_BODY:
                require_media_type(request, operation.content_type)
            if operation.produces and not acceptable(
                request.headers.get("accept"), operation.produces
            ):
                raise errors.not_acceptable(operation.produces)
            response = await operation.handler(request, caller)
        except errors.ApiError as exc:
            response = exc.response()
        self.emu.counters.api_request(method, template, response.status_code)
        return response


class _Endpoint:
    """An ASGI endpoint taking every method, so a wrong one gets CC's 405 after the
    token is checked rather than Starlette's plain-text one."""

    def __init__(self, gateway: Gateway, resource: Resource | None) -> None:
        self.gateway = gateway
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.gateway.handle(Request(scope, receive), self.resource)
        await response(scope, receive, send)


def build_routes(
    emu: Emulator, resources: list[Resource], extra: list[BaseRoute] | None = None
) -> list[BaseRoute]:
    """Routes for ``resources`` under /v3, then ``extra`` (routes with a gateway of their
    own: the partner endpoints), then a catch-all answering CC's 404."""
    gateway = Gateway(emu)
    routes: list[BaseRoute] = [
        Route(_cc.API_BASE_PATH + r.path, _Endpoint(gateway, r)) for r in resources
    ]
    routes.extend(extra or [])
    routes.append(Route(_cc.API_BASE_PATH + "/{rest:path}", _Endpoint(gateway, None)))
    return routes
