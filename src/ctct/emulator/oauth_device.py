"""The device flow's two ends a person and a device touch: the device authorization
endpoint (RFC 8628 3.1-3.2) and the ``/activate`` page where a person enters the code,
signs in and approves or denies. Polling is in ``oauth_token``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator import pages
from ctct.emulator.oauth_authorize import user_for_login
from ctct.emulator.oauth_client import authenticate, extract_credentials
from ctct.emulator.oauth_common import (
    OAuthError,
    json_response,
    parse_scopes,
    query_and_form,
    request_origin,
)
from ctct.emulator.oauth_device_codes import DeviceCodeUnavailable

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

ACTIVATE_PATH = "/activate"


async def device_authorize_endpoint(emu: Emulator, request: Request) -> Response:
    """Start a device flow: ``client_id`` and ``scope`` in the body or the query."""
    try:
        params = await query_and_form(request)
        creds = extract_credentials(request.headers.get("authorization"), params)
        app = authenticate(emu, creds, allow_none=True)
        if "device_code" not in app.flows:
            raise OAuthError(
                "unauthorized_client", "This application is not enabled for the device flow."
            )
        scopes = parse_scopes(params.get("scope"))
    except OAuthError as exc:
        return exc.response()
    store = emu.grants.devices
    device_code, device = store.start_device(app.client_id, scopes)
    if emu.config.auto_approve:
        store.decide_device(device.user_code, emu.config.default_user.username, approve=True)
    verification_uri = request_origin(request) + ACTIVATE_PATH
    return json_response(
        {
            "device_code": device_code,
            "user_code": device.display_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": verification_uri
            + "?"
            + urlencode({"user_code": device.display_code}),
            "expires_in": emu.config.device_code_ttl,
            "interval": device.interval,
        }
    )


async def activate_get(emu: Emulator, request: Request) -> Response:
    prefill = request.query_params.get("user_code", "")
    return pages.activate_page(action=ACTIVATE_PATH, user_code=prefill)


async def activate_post(emu: Emulator, request: Request) -> Response:
    body = (await request.body()).decode("utf-8", errors="replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    user_code = form.get("user_code", "").strip()
    username = form.get("username", "")
    store = emu.grants.devices

    def again(error: str) -> Response:
        return pages.activate_page(
            action=ACTIVATE_PATH, user_code=user_code, error=error, username=username
        )

    decision = form.get("decision")
    if decision not in ("approve", "deny"):
        return again("Choose Approve or Deny.")
    try:
        device = store.usable_device(user_code)
        if decision == "deny":
            store.decide_device(device.user_code, None, approve=False)
            return pages.device_denied_page()
        user = user_for_login(emu, username, form.get("password", ""))
        if user is None:
            return again("Wrong email or password. Try again.")
        store.decide_device(device.user_code, user.username, approve=True)
    except DeviceCodeUnavailable as exc:
        return again(str(exc))
    app = emu.config.app(device.client_id)
    return pages.device_approved_page(app.name if app else device.client_id, device.scopes)
