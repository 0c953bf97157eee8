"""Control routes for fleet tests: mint many grants at once, change rates at run time.

``POST /__emulator/grants/mint`` ``{"count": N, "username"?, "client_id"?, "scopes"?}``
creates N grants as N device logins would, without the token endpoint (so without its
rate limit), and answers ``{"tokens": [token response, ...]}``: the same bodies the token
endpoint gives, to store as logins would.

``POST /__emulator/rates`` ``{"token_rate_per_second"?, "api_rate_per_second"?,
"api_daily_quota"?}`` changes the limits from now on (buckets keep their fill) and
answers the limits in force.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ctct.emulator.control import BadRequest, _body, _number
from ctct.emulator.oauth_token import _new_grant

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

MAX_MINT = 10_000


async def mint(emu: Emulator, request: Request) -> Response:
    body = await _body(request, ("count", "username", "client_id", "scopes"))
    count = int(_number(body, "count", 1, low=1, high=MAX_MINT))
    app = emu.config.app(str(body.get("client_id") or emu.config.default_app.client_id))
    if app is None:
        raise BadRequest(f"no app with client_id {body.get('client_id')!r}")
    name = str(body.get("username") or emu.config.default_user.username)
    user = emu.config.user(name)
    if user is None:
        raise BadRequest(f"unknown username {name!r}")
    scopes = body.get("scopes") or ["account_read", "contact_data", "offline_access"]
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise BadRequest("'scopes' must be a list of scope names")
    minted: list[dict[str, Any]] = [
        _new_grant(emu, app, user, tuple(scopes), "device_code", None) for _ in range(count)
    ]
    return JSONResponse({"tokens": minted})


async def rates(emu: Emulator, request: Request) -> Response:
    body = await _body(request, ("token_rate_per_second", "api_rate_per_second", "api_daily_quota"))
    if "token_rate_per_second" in body:
        rate = _number(body, "token_rate_per_second", 1.0, low=0.001, high=1e6)
        emu.token_limiter.rate = emu.token_limiter.burst = rate
    if "api_rate_per_second" in body:
        rate = _number(body, "api_rate_per_second", 4.0, low=0.001, high=1e6)
        emu.api_limiter.rate = emu.api_limiter.burst = rate
    if "api_daily_quota" in body:
        emu.api_quota.limit = int(_number(body, "api_daily_quota", 10_000, low=1, high=1e12))
    return JSONResponse(
        {
            "token_rate_per_second": emu.token_limiter.rate,
            "api_rate_per_second": emu.api_limiter.rate,
            "api_daily_quota": emu.api_quota.limit,
        }
    )
