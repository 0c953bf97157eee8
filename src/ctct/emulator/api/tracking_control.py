"""Control routes for simulated tracking (no token; loopback only, like the rest of
``/__emulator``):

- ``GET /__emulator/tracking``: the switches (``TrackingConfig``: seed, rates, window).
- ``POST /__emulator/tracking``: change some of them, e.g. ``{"seed": 7, "open": 0.5,
  "click": 0.2, "bounce": 0, "window_seconds": 3600}``; sends from then on use them.
- ``DELETE /__emulator/tracking``: back to the defaults.
- ``POST /__emulator/landing_pages``: publish a landing page now, ``{"username" or
  "account_id", "name", "contact_list_ids"?: audience (default: every subscribed
  contact), "list_id"?: the list sign-ups join, "new_contacts"?: how many visitors sign
  up, "links"?: its URLs}``; answers its ``campaign_activity_id`` for the reports.
- ``POST /__emulator/sms_campaigns``: send an SMS campaign now, ``{"username" or
  "account_id", "name", "contact_list_ids"?}`` to the SMS-subscribed contacts.

Errors: 400/404 ``{"error": "invalid_request"|"not_found", "error_description"}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct.emulator.accounts import UnknownAccount
from ctct.emulator.api import tracking_config
from ctct.emulator.api.tracking_config import ConfigError, TrackingConfig

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

PREFIX: Final = "/__emulator"
MAX_NEW_CONTACTS: Final = 10_000
MAX_LINKS: Final = 50
DEFAULT_LINKS: Final = ("https://www.example.com/offer", "https://www.example.com/about")
_ACCOUNT: Final = ("username", "account_id")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _endpoint(
    handler: Callable[[Request], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except (ControlError, ConfigError) as exc:
            status = exc.status if isinstance(exc, ControlError) else 400
            code = "not_found" if status == 404 else "invalid_request"
            return JSONResponse({"error": code, "error_description": str(exc)}, status)

    return endpoint


async def _body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ControlError(400, 'the body must be a JSON object, e.g. {"open": 0.5}') from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object, not " + type(body).__name__)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ControlError(
            400, f"unknown field {unknown[0]!r}; this route accepts {', '.join(allowed)}"
        )
    return body


def routes(emu: Emulator) -> list[BaseRoute]:
    tracking = emu.accounts.tracking

    def account(body: dict[str, Any]) -> str:
        try:
            return emu.accounts.resolve(
                username=body.get("username"), account_id=body.get("account_id")
            )
        except UnknownAccount as exc:
            raise ControlError(404, f"Name a configured username or account_id ({exc}).") from None

    def name_of(body: dict[str, Any]) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ControlError(400, "'name' is required: a string of 1 to 255 characters")
        return name.strip()

    def lists(account_id: str, body: dict[str, Any], key: str) -> list[str] | None:
        ids = body.get(key)
        if ids is None:
            return None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ControlError(400, f"{key!r} must be an array of list ids")
        ids = list(dict.fromkeys(i.lower() for i in ids))
        with emu.db.transaction() as conn:
            missing = emu.accounts.lists.missing_ids(conn, account_id, ids)
        if missing:
            raise ControlError(400, f"{key!r}: the account has no list {missing[0]}")
        return ids

    async def get_config(request: Request) -> dict[str, Any]:
        return tracking.config.to_json()

    async def set_config(request: Request) -> dict[str, Any]:
        body = await _body(request, tracking_config.FIELD_NAMES)
        tracking.configure(tracking_config.changed(tracking.config, body))
        return tracking.config.to_json()

    async def reset_config(request: Request) -> dict[str, Any]:
        tracking.configure(TrackingConfig())
        return tracking.config.to_json()

    async def landing_page(request: Request) -> dict[str, Any]:
        allowed = (*_ACCOUNT, "name", "contact_list_ids", "list_id", "new_contacts", "links")
        body = await _body(request, allowed)
        account_id = account(body)
        name = name_of(body)
        audience = lists(account_id, body, "contact_list_ids")
        given = body.get("list_id")
        if given is not None and not isinstance(given, str):
            raise ControlError(400, "'list_id' must be a list id")
        joined = lists(account_id, {"list_id": [given]}, "list_id") if given else None
        list_id = joined[0] if joined else None
        new = body.get("new_contacts", 0)
        if isinstance(new, bool) or not isinstance(new, int) or not 0 <= new <= MAX_NEW_CONTACTS:
            raise ControlError(
                400, f"'new_contacts' must be a whole number from 0 to {MAX_NEW_CONTACTS}"
            )
        links = body.get("links", list(DEFAULT_LINKS))
        if (
            not isinstance(links, list)
            or len(links) > MAX_LINKS
            or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in links)
        ):
            raise ControlError(400, f"'links' must be an array of up to {MAX_LINKS} http(s) URLs")
        return tracking.publish_landing_page(account_id, name, audience, list_id, new, links)

    async def sms_campaign(request: Request) -> dict[str, Any]:
        body = await _body(request, (*_ACCOUNT, "name", "contact_list_ids"))
        account_id = account(body)
        name = name_of(body)
        return tracking.send_sms(account_id, name, lists(account_id, body, "contact_list_ids"))

    def route(path: str, handler: Callable[[Request], Awaitable[Any]], method: str) -> Route:
        return Route(PREFIX + path, _endpoint(handler), methods=[method])

    return [
        route("/tracking", get_config, "GET"),
        route("/tracking", set_config, "POST"),
        route("/tracking", reset_config, "DELETE"),
        route("/landing_pages", landing_page, "POST"),
        route("/sms_campaigns", sms_campaign, "POST"),
    ]
