"""``WebLogin`` as a Starlette app: ``GET start`` and ``GET callback``."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ctct.errors import CtctError
from ctct.flows._pages import PAGE_HEADERS, Page, failure_page

if TYPE_CHECKING:
    from ctct.flows.web import WebLogin

AsgiProfile = str | Callable[[Request], str | Awaitable[str]]

log = logging.getLogger("ctct.flows.web")


def page_response(page: Page, set_cookie: str | None = None) -> Response:
    response = HTMLResponse(page.html(), status_code=page.status, headers=PAGE_HEADERS)
    if set_cookie is not None:
        response.headers.append("set-cookie", set_cookie)
    return response


def build_asgi_app(
    web: WebLogin, *, profile: AsgiProfile, start_path: str, callback_path: str
) -> Starlette:
    async def profile_of(request: Request) -> str:
        if isinstance(profile, str):
            return profile
        chosen = profile(request)
        if inspect.isawaitable(chosen):
            chosen = await chosen
        return chosen

    async def start(request: Request) -> Response:
        try:
            started = await web.astart(
                await profile_of(request), next=request.query_params.get("next")
            )
        except CtctError as error:
            return page_response(failure_page(error))
        response = RedirectResponse(started.location, status_code=303)
        response.headers.append("set-cookie", started.set_cookie)
        response.headers["cache-control"] = "no-store"
        return response

    async def callback(request: Request) -> Response:
        try:
            done = await web.acomplete(request.url.query, request.headers.get("cookie"))
        except CtctError as error:
            log.info("a web login failed: %s", error.code or type(error).__name__)
            return page_response(failure_page(error), web.clear_cookie)
        response = RedirectResponse(done.location, status_code=303)
        response.headers.append("set-cookie", done.clear_cookie)
        response.headers["cache-control"] = "no-store"
        response.headers["referrer-policy"] = "no-referrer"
        return response

    return Starlette(
        routes=[
            Route(start_path, start, methods=["GET"]),
            Route(callback_path, callback, methods=["GET"]),
        ]
    )
