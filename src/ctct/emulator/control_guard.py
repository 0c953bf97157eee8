"""Cross-site requests to the control API: refused.

The control API has no authentication (it is for tests and CI). The Host check stops
DNS rebinding, but a web page on any other site can still make the browser *send* a
"simple" request to ``http://127.0.0.1:PORT`` - a POST with ``Content-Type: text/plain``
or a form - without reading the answer, and that alone would advance the clock or
reset the emulator. So every control request that changes something must carry what a
page cannot send without the browser asking the server first (a CORS preflight the
emulator never grants): ``Content-Type: application/json`` or an ``X-Requested-With``
header. Otherwise: 415 for a body of another type, 403 for none.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/__emulator/"
CUSTOM_HEADER = b"x-requested-with"
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
_HOW = (
    "send the body as JSON with Content-Type: application/json (curl --json '{}' URL), "
    "or add an X-Requested-With header"
)


def refusal(method: str, headers: list[tuple[bytes, bytes]]) -> JSONResponse | None:
    """The answer to a control request a web page could have sent, or None to serve it."""
    if method in _READ_ONLY:
        return None
    content_type = b""
    for name, value in headers:
        if name == CUSTOM_HEADER and value.strip():
            return None
        if name == b"content-type":
            content_type = value
    media_type = content_type.split(b";", 1)[0].strip().lower()
    if media_type == b"application/json":
        return None
    if media_type:
        return JSONResponse(
            {
                "error": "unsupported_media_type",
                "error_description": f"the control API takes JSON bodies only: {_HOW}",
            },
            status_code=415,
        )
    return JSONResponse(
        {
            "error": "cross_site_refused",
            "error_description": (
                "a control request that changes something must show it is not a web page's "
                f"cross-site request: {_HOW}"
            ),
        },
        status_code=403,
    )


class ControlGuardMiddleware:
    """Applies ``refusal`` to every request under ``/__emulator/``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(CONTROL_PREFIX):
            refused = refusal(str(scope.get("method", "GET")), list(scope.get("headers", [])))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
