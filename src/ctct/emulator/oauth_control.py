"""The control API's OAuth part (JSON under ``/__emulator/``): answer pending logins
and device codes without a browser, list and revoke grants.

``approve`` answers with the redirect URL *including the code*: handing it to the
test or script driving the flow is this API's purpose (it is the emulator's
stand-in for a person clicking Approve).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ctct.emulator.oauth_authorize import approve_redirect, deny_redirect
from ctct.emulator.oauth_device_codes import DeviceCodeUnavailable

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": message}, status_code=status)


class _BadBody(Exception):
    pass


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _BadBody("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _BadBody("The body must be a JSON object.")
    return body


def _username(emu: Emulator, body: dict[str, Any]) -> str:
    name = body.get("username") or emu.config.default_user.username
    user = emu.config.user(str(name))
    if user is None:
        known = ", ".join(u.username for u in emu.config.users)
        raise _BadBody(f"Unknown username {name!r}; configured users: {known}.")
    return user.username


async def pending(emu: Emulator, request: Request) -> Response:
    return JSONResponse(
        {
            "device_codes": [d.as_json() for d in emu.grants.devices.list_devices()],
            "authorizations": [p.as_json() for p in emu.grants.requests.list_pending()],
        }
    )


async def device_approve(emu: Emulator, request: Request) -> Response:
    try:
        body = await _json_body(request)
        user_code = body.get("user_code")
        if not isinstance(user_code, str) or not user_code:
            raise _BadBody("Send {'user_code': 'ABCD-EFGH'} (from GET /__emulator/pending).")
        deny = bool(body.get("deny", False))
        username = None if deny else _username(emu, body)
        device = emu.grants.devices.decide_device(user_code, username, approve=not deny)
    except _BadBody as exc:
        return _error(400, "invalid_request", str(exc))
    except DeviceCodeUnavailable as exc:
        return _error(404, "unavailable_user_code", str(exc))
    return JSONResponse(
        {
            "user_code": device.display_code,
            "status": "denied" if deny else "approved",
            "username": username,
        }
    )


async def authorization_decide(emu: Emulator, request: Request) -> Response:
    request_id = request.path_params["request_id"]
    approve = request.path_params["decision"] == "approve"
    try:
        body = await _json_body(request)
        username = _username(emu, body) if approve else None
    except _BadBody as exc:
        return _error(400, "invalid_request", str(exc))
    taken = emu.grants.requests.take_pending(request_id)
    if taken is None:
        return _error(
            404,
            "unknown_request",
            "No pending authorization with that request_id (expired or already answered).",
        )
    target = approve_redirect(emu, taken, username) if username else deny_redirect(taken)
    return JSONResponse({"redirect_to": target})


async def grants_list(emu: Emulator, request: Request) -> Response:
    return JSONResponse({"grants": [g.as_json() for g in emu.grants.list()]})


async def grant_revoke(emu: Emulator, request: Request) -> Response:
    grant_id = request.path_params["grant_id"]
    if not emu.grants.revoke(grant_id):
        return _error(404, "unknown_grant", f"No grant {grant_id!r}.")
    return JSONResponse({"grant_id": grant_id, "revoked": True})
