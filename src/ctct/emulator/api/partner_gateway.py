"""The gateway in front of partner endpoints (``/v3/partner/...``), whose contract
security is ``ctctPartnerAuthorizer`` *and* ``api_key``: a partner token
(``partner_auth``) in ``Authorization`` plus the API key in ``x-api-key``.

Order of checks: the partner token (401, CC's single-object body, as for user tokens;
a user's access token is not a partner token), the ``x-api-key`` (403 unless it is the
partner's configured key), the API key's limits (429, shared with the app whose key it
is, as CC's limits are per key), unknown method (405), media type on bodies (415).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ctct import _cc
from ctct.emulator.api import errors
from ctct.emulator.api.gateway import JSON, NO_BODY, admit, read_json, require_media_type
from ctct.emulator.config import PartnerConfig
from ctct.emulator.partner_auth import verify_partner_token

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

PartnerHandler = Callable[[Request, PartnerConfig], Awaitable[Response]]


@dataclass(frozen=True)
class PartnerOperation:
    method: str
    handler: PartnerHandler
    content_type: str = JSON  # NO_BODY: input from the query, or an optional body


@dataclass(frozen=True)
class PartnerResource:
    path: str
    operations: tuple[PartnerOperation, ...]


class _Endpoint:
    def __init__(self, emu: Emulator, resource: PartnerResource) -> None:
        self.emu = emu
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except errors.ApiError as exc:
            response = exc.response()
        template = _cc.API_BASE_PATH + self.resource.path
        self.emu.counters.api_request(request.method, template, response.status_code)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        partner = verify_partner_token(self.emu, request.headers.get("authorization"))
        if partner is None:
            raise errors.unauthorized()
        if request.headers.get("x-api-key") != partner.api_key:
            raise errors.forbidden(
                "Partner endpoints need the x-api-key header: your application's API key."
            )
        admit(self.emu, partner.api_key)
        # The partner's configured client accounts exist before its first request acts.
        self.emu.accounts.partners.ensure(partner, self.emu.clock.now())
        operation = next((o for o in self.resource.operations if o.method == request.method), None)
        if operation is None:
            allowed = [o.method for o in self.resource.operations]
            raise errors.method_not_allowed(request.method, request.url.path, allowed)
        if operation.content_type != NO_BODY and request.method in ("POST", "PUT", "PATCH"):
            require_media_type(request, operation.content_type)
        return await operation.handler(request, partner)


def build_routes(emu: Emulator, resources: list[PartnerResource]) -> list[BaseRoute]:
    return [Route(_cc.API_BASE_PATH + r.path, _Endpoint(emu, r)) for r in resources]


async def optional_json(request: Request, area: str) -> object:
    """An optional JSON body: None when empty, else it must be JSON (CC's 415 / 400)."""
    if not (await request.body()).strip():
        return None
    require_media_type(request, JSON)
    return await read_json(request, area)
