"""The emulator's authorization server on CC's paths, and its control routes.

The handlers live in ``oauth_*`` modules, one per endpoint family; this module only
binds them to paths. All state is in ``emu.grants`` (see ``grants``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct import _cc
from ctct.emulator import generic, partner_auth
from ctct.emulator import oauth_control as control
from ctct.emulator.oauth_authorize import authorize_get, authorize_post
from ctct.emulator.oauth_device import (
    ACTIVATE_PATH,
    activate_get,
    activate_post,
    device_authorize_endpoint,
)
from ctct.emulator.oauth_revoke import revoke_endpoint
from ctct.emulator.oauth_token import token_endpoint

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

Handler = Callable[["Emulator", Request], Awaitable[Response]]


def _bind(emu: Emulator, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(emu, request)

    endpoint.__name__ = handler.__name__
    return endpoint


def routes(emu: Emulator) -> list[BaseRoute]:
    """CC's authorization-server paths plus the device verification page and the
    technology partners' token endpoint (in the generic provider mode: that mode's
    paths and discovery instead)."""
    if generic.enabled(emu.config):
        return generic.routes(emu)

    async def jwks(request: Request) -> Response:
        return JSONResponse(emu.keys.jwks(), headers={"Cache-Control": "max-age=300"})

    return [
        Route(_cc.AUTHORIZE_PATH, _bind(emu, authorize_get), methods=["GET"]),
        Route(_cc.AUTHORIZE_PATH, _bind(emu, authorize_post), methods=["POST"]),
        Route(_cc.TOKEN_PATH, _bind(emu, token_endpoint), methods=["POST"]),
        Route(_cc.TOKEN_ALIAS_PATH, _bind(emu, token_endpoint), methods=["POST"]),
        Route(_cc.DEVICE_AUTHORIZE_PATH, _bind(emu, device_authorize_endpoint), methods=["POST"]),
        Route(_cc.REVOKE_PATH, _bind(emu, revoke_endpoint), methods=["POST"]),
        Route(_cc.JWKS_PATH, jwks, methods=["GET"]),
        Route(ACTIVATE_PATH, _bind(emu, activate_get), methods=["GET"]),
        Route(ACTIVATE_PATH, _bind(emu, activate_post), methods=["POST"]),
        *partner_auth.routes(emu),
    ]


def control_routes(emu: Emulator) -> list[BaseRoute]:
    """Routes under /__emulator/ for approving logins and managing grants."""
    return [
        Route("/__emulator/pending", _bind(emu, control.pending), methods=["GET"]),
        Route("/__emulator/device/approve", _bind(emu, control.device_approve), methods=["POST"]),
        Route(
            "/__emulator/authorizations/{request_id}/{decision:str}",
            _bind(emu, control.authorization_decide),
            methods=["POST"],
        ),
        Route("/__emulator/grants", _bind(emu, control.grants_list), methods=["GET"]),
        Route(
            "/__emulator/grants/{grant_id}/revoke",
            _bind(emu, control.grant_revoke),
            methods=["POST"],
        ),
    ]
