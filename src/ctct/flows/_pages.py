"""The page the loopback callback shows the person: success, or what went wrong.

Plain HTML, every value escaped, nothing loaded from anywhere (the page's own URL
carries the authorization code: no resource may receive it in a Referer).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Final

from ctct.errors import AuthorizationDenied, CtctError

PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0}"
    "main{max-width:30rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.3rem;margin-top:0}"
    ".ok{color:#11683a}.fail{color:#8a1414}"
)


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    message: str
    success: bool

    def html(self) -> bytes:
        css = "ok" if self.success else "fail"
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(self.title)}</title><style>{_STYLE}</style></head><body><main>"
            f"<h1 id='result' class='{css}'>{escape(self.title)}</h1>"
            f"<p id='message'>{escape(self.message)}</p></main></body></html>"
        ).encode()


def success_page(profile: str) -> Page:
    return Page(
        200,
        "Connected",
        f"ctct is now connected (profile {profile!r}). You can close this window.",
        success=True,
    )


def failure_page(error: BaseException) -> Page:
    if isinstance(error, AuthorizationDenied):
        return Page(
            403, "Access denied", "The connection was not made. You can close this window.", False
        )
    # CtctError messages never carry tokens or codes; anything else is summarized.
    message = error.message if isinstance(error, CtctError) else "An unexpected error occurred."
    return Page(400, "Login failed", f"{message} You can close this window.", success=False)


ABANDONED = Page(
    503, "Login stopped", "The application stopped waiting. Return to it and try again.", False
)
