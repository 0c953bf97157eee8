"""The emulator's control API under ``/__emulator/``: read counters and events, inject
faults, move the clock, rotate signing keys, reset, and show the configuration.

It is for tests and users' CI, so it has no authentication; the app's Host check
(DNS-rebinding protection) is what keeps browsers on other sites away from it. The
configuration it shows includes the test credentials and passwords: they are test
values, and showing them is the point.

Every route answers JSON. Bad input gets ``400 {"error": "invalid_request",
"error_description": "..."}`` saying what to send instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct.emulator import api, generic, oauth
from ctct.emulator.config import AppConfig, EmulatorConfig
from ctct.emulator.faults import FAULT_KINDS, FaultKind, FaultTarget

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

PREFIX = "/__emulator"
FAULT_TARGETS = ("token", "api")
MAX_FAULT_COUNT = 10_000
MAX_FAULT_DELAY = 3_600.0

# How GET /__emulator/config groups EmulatorConfig's fields; fields not named here
# (added later) are shown under "switches" so nothing is hidden.
_LIFETIMES = (
    "access_token_ttl",
    "authorization_code_ttl",
    "refresh_token_idle_ttl",
    "device_code_ttl",
    "device_poll_interval",
    "pending_login_ttl",
)
_LIMITS = (
    "api_rate_per_second",
    "api_burst",
    "api_daily_quota",
    "token_rate_per_second",
    "token_burst",
)
_SHOWN_ELSEWHERE = ("apps", "users", "partners", "data_path", "allowed_hosts", "default_username")


class BadRequest(Exception):
    """Input the control API cannot act on; the message says what to send instead."""


Handler = Callable[[Request], Awaitable[Response]]


def _json_endpoint(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except BadRequest as exc:
            return JSONResponse(
                {"error": "invalid_request", "error_description": str(exc)}, status_code=400
            )

    return endpoint


async def _body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object (empty body: ``{}``), refusing unknown fields."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('the body must be a JSON object, e.g. {"seconds": 60}') from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object, not " + type(body).__name__)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; this route accepts {', '.join(allowed)}")
    return body


def _number(body: dict[str, Any], name: str, default: float, *, low: float, high: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{name!r} must be a number of seconds, e.g. {{{name!r}: 60}}")
    if not low <= value <= high:
        raise BadRequest(f"{name!r} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        raise BadRequest(f"{name!r} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def routes(emu: Emulator) -> list[BaseRoute]:
    from ctct.emulator import control_fleet  # it builds on this module's helpers

    """All ``/__emulator/`` routes, including those of the OAuth and API modules."""

    async def counters(request: Request) -> Response:
        return JSONResponse(emu.counters.snapshot())

    async def events(request: Request) -> Response:
        kind = request.query_params.get("kind") or None
        return JSONResponse({"events": emu.counters.events(kind)})

    async def faults_pending(request: Request) -> Response:
        return JSONResponse({"pending": emu.faults.pending()})

    async def faults_inject(request: Request) -> Response:
        body = await _body(request, ("target", "kind", "count", "delay"))
        target = _choice(body, "target", FAULT_TARGETS)
        kind = _choice(body, "kind", FAULT_KINDS)
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise BadRequest(f"'count' must be a whole number >= 1, got {count!r}")
        if count > MAX_FAULT_COUNT:
            raise BadRequest(f"'count' must be at most {MAX_FAULT_COUNT}")
        delay = _number(body, "delay", 30.0, low=0.0, high=MAX_FAULT_DELAY)
        if "delay" in body and kind != "timeout":
            raise BadRequest("'delay' only applies to kind 'timeout'")
        emu.faults.inject(cast(FaultTarget, target), cast(FaultKind, kind), count, delay)
        return JSONResponse({"pending": emu.faults.pending()})

    async def faults_clear(request: Request) -> Response:
        emu.faults.reset()
        return JSONResponse({"pending": emu.faults.pending()})

    async def clock(request: Request) -> Response:
        return JSONResponse({"now": emu.clock.now(), "offset": emu.clock.offset})

    async def clock_advance(request: Request) -> Response:
        body = await _body(request, ("seconds",))
        if "seconds" not in body:
            raise BadRequest('send {"seconds": N}: how far to move the clock forward')
        seconds = _number(body, "seconds", 0.0, low=0.0, high=100 * 365 * 86_400)
        offset = emu.clock.advance(seconds)
        return JSONResponse({"now": emu.clock.now(), "offset": offset})

    async def keys_rotate(request: Request) -> Response:
        body = await _body(request, ("retire_old",))
        retire_old = body.get("retire_old", False)
        if not isinstance(retire_old, bool):
            raise BadRequest("'retire_old' must be true or false")
        kid = emu.keys.rotate(retire_old=retire_old)
        published = [k["kid"] for k in emu.keys.jwks()["keys"]]
        return JSONResponse({"kid": kid, "published": published})

    async def reset(request: Request) -> Response:
        emu.reset()
        return JSONResponse({"reset": True})

    async def config(request: Request) -> Response:
        # Where each of CC's hosts is (three origins with split_hosts, else this one).
        origins = emu.host_roles.origins(request)
        return JSONResponse({**describe_config(emu.config), "origins": origins})

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(PREFIX + path, _json_endpoint(handler), methods=[method])

    return [
        route("/counters", counters, "GET"),
        route("/events", events, "GET"),
        route("/faults", faults_pending, "GET"),
        route("/faults", faults_inject, "POST"),
        route("/faults", faults_clear, "DELETE"),
        route("/clock", clock, "GET"),
        route("/clock/advance", clock_advance, "POST"),
        route("/keys/rotate", keys_rotate, "POST"),
        route("/reset", reset, "POST"),
        route("/config", config, "GET"),
        route("/grants/mint", lambda request: control_fleet.mint(emu, request), "POST"),
        route("/rates", lambda request: control_fleet.rates(emu, request), "POST"),
        *oauth.control_routes(emu),
        *api.control_routes(emu),
    ]


def describe_config(config: EmulatorConfig) -> dict[str, Any]:
    """The configuration as JSON: apps with their credentials, users with their logins."""
    settings = {f.name: getattr(config, f.name) for f in fields(config)}
    for name in _SHOWN_ELSEWHERE:
        settings.pop(name)
    lifetimes = {name: settings.pop(name) for name in _LIFETIMES if name in settings}
    limits = {name: settings.pop(name) for name in _LIMITS if name in settings}
    return {
        "apps": [_describe_app(app) for app in config.apps],
        "default_client_id": config.default_app.client_id,
        "users": [asdict(user) for user in config.users],
        "partners": [{**asdict(p), "accounts": list(p.accounts)} for p in config.partners],
        "default_username": config.default_username,
        "lifetimes": lifetimes,
        "switches": {name: _jsonable(value) for name, value in settings.items()},
        "limits": limits,
        "allowed_hosts": list(config.allowed_hosts),
        "persistent": config.data_path is not None,
        "paths": {**generic.paths(config), "control": PREFIX},
        **generic.describe(config),
    }


def _describe_app(app: AppConfig) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "confidential": app.confidential,
        "redirect_uris": list(app.redirect_uris),
        "flows": sorted(app.flows),
        "refresh_token_type": app.refresh_token_type,
        "name": app.name,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    return value
