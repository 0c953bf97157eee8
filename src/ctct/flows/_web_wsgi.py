"""``WebLogin`` as a WSGI application: ``GET start`` and ``GET callback``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ctct.errors import CtctError
from ctct.flows._pages import PAGE_HEADERS, Page, failure_page

if TYPE_CHECKING:
    from ctct.flows.web import WebLogin

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
WsgiProfile = str | Callable[[Environ], str]

log = logging.getLogger("ctct.flows.web")

_REASONS = {
    303: "See Other",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}


def build_wsgi_app(
    web: WebLogin, *, profile: WsgiProfile, start_path: str, callback_path: str
) -> WsgiApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING", "")
        if path not in (start_path, callback_path):
            return _page(start_response, Page(404, "Not found", "No such page.", False))
        if environ.get("REQUEST_METHOD", "GET") != "GET":
            return _page(start_response, Page(405, "Method not allowed", "Use GET.", False))
        if path == start_path:
            from ctct.flows.web import query_pairs

            try:
                chosen = profile if isinstance(profile, str) else profile(environ)
                started = web.start(chosen, next=query_pairs(query).get("next"))
            except CtctError as error:
                return _page(start_response, failure_page(error))
            return _redirect(start_response, started.location, started.set_cookie)
        try:
            done = web.complete(query, environ.get("HTTP_COOKIE"))
        except CtctError as error:
            log.info("a web login failed: %s", error.code or type(error).__name__)
            return _page(start_response, failure_page(error), web.clear_cookie)
        return _redirect(start_response, done.location, done.clear_cookie)

    return app


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Error')}"


def _redirect(start_response: StartResponse, location: str, cookie: str) -> list[bytes]:
    start_response(
        _status(303),
        [
            ("Location", location),
            ("Set-Cookie", cookie),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Length", "0"),
        ],
    )
    return [b""]


def _page(start_response: StartResponse, page: Page, cookie: str | None = None) -> list[bytes]:
    body = page.html()
    headers = [
        *PAGE_HEADERS.items(),
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    if cookie is not None:
        headers.append(("Set-Cookie", cookie))
    start_response(_status(page.status), headers)
    return [body]
