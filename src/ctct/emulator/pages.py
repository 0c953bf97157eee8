"""The HTML a person sees: the login and consent page, the device activation page,
and error/result pages. Plain HTML forms (no JavaScript) so any browser completes them.

Every value is escaped. Pages are never cached or framed: the forms carry a
one-time request id and take a password.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from starlette.responses import HTMLResponse

SCOPE_DESCRIPTIONS = {
    "account_read": "Read your account details",
    "account_update": "Change your account details",
    "contact_data": "Read and change your contacts, lists, tags and custom fields",
    "campaign_data": "Read and change your email campaigns",
    "offline_access": "Stay connected when you are not using the app",
    "billing_data": "Read or change your billing details",
    "openid": "Confirm who you are",
}

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # No form-action: the consent form's answer redirects to the app's own origin.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f4f6f8; margin: 0; }
main { max-width: 28rem; margin: 3rem auto; background: #fff; padding: 2rem;
       border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
h1 { font-size: 1.3rem; margin-top: 0; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
.buttons { display: flex; gap: 1rem; margin-top: 1.5rem; }
button { flex: 1; padding: .6rem; font-size: 1rem; cursor: pointer; }
button.approve { background: #1856ed; color: #fff; border: none; border-radius: 4px; }
button.deny { background: #fff; border: 1px solid #888; border-radius: 4px; }
.error { background: #fde8e8; color: #8a1414; padding: .75rem; border-radius: 4px; }
.note { color: #555; font-size: .85rem; }
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)} - Constant Contact emulator</title>"
        f"<style>{_STYLE}</style></head><body><main>{body}"
        "<p class='note'>Constant Contact emulator: not the real service.</p>"
        "</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _error_box(error: str | None) -> str:
    return f"<p class='error' role='alert' id='error'>{escape(error)}</p>" if error else ""


def _scope_list(scopes: Iterable[str]) -> str:
    items = "".join(
        f"<li data-scope='{escape(s)}'>{escape(SCOPE_DESCRIPTIONS.get(s, s))} "
        f"<code>({escape(s)})</code></li>"
        for s in scopes
    )
    return f"<ul id='scopes'>{items}</ul>"


def _credentials(username: str) -> str:
    return (
        "<label for='username'>Email</label>"
        f"<input id='username' name='username' type='email' autocomplete='username' "
        f"value='{escape(username)}' required>"
        "<label for='password'>Password</label>"
        "<input id='password' name='password' type='password' "
        "autocomplete='current-password' required>"
    )


def _decision_buttons() -> str:
    # formnovalidate: denying must not require typing credentials.
    return (
        "<div class='buttons'>"
        "<button class='approve' id='approve' type='submit' name='decision' "
        "value='approve'>Approve</button>"
        "<button class='deny' id='deny' type='submit' name='decision' value='deny' "
        "formnovalidate>Deny</button></div>"
    )


def login_page(
    *,
    action: str,
    request_id: str,
    app_name: str,
    scopes: Iterable[str],
    error: str | None = None,
    username: str = "",
) -> HTMLResponse:
    """Sign in and consent: app name, requested scopes, credentials, Approve / Deny."""
    body = (
        "<h1>Sign in to Constant Contact</h1>"
        f"{_error_box(error)}"
        f"<p><strong id='app-name'>{escape(app_name)}</strong> is asking to:</p>"
        f"{_scope_list(scopes)}"
        f"<form method='post' action='{escape(action)}'>"
        f"<input type='hidden' name='request_id' value='{escape(request_id)}'>"
        f"{_credentials(username)}{_decision_buttons()}</form>"
    )
    return _page("Sign in", body)


def activate_page(
    *, action: str, user_code: str = "", error: str | None = None, username: str = ""
) -> HTMLResponse:
    """Device activation: the code shown on the device, credentials, Approve / Deny."""
    body = (
        "<h1>Connect a device</h1>"
        f"{_error_box(error)}"
        "<p>Enter the code shown on your device, sign in, and approve.</p>"
        f"<form method='post' action='{escape(action)}'>"
        "<label for='user_code'>Code</label>"
        f"<input id='user_code' name='user_code' value='{escape(user_code)}' "
        "autocomplete='off' autocapitalize='characters' placeholder='ABCD-EFGH' required>"
        f"{_credentials(username)}{_decision_buttons()}</form>"
    )
    return _page("Connect a device", body)


def device_approved_page(app_name: str, scopes: Iterable[str]) -> HTMLResponse:
    body = (
        "<h1 id='result'>Device connected</h1>"
        f"<p><strong>{escape(app_name)}</strong> can now:</p>{_scope_list(scopes)}"
        "<p>You can close this window and return to your device.</p>"
    )
    return _page("Device connected", body)


def device_denied_page() -> HTMLResponse:
    body = (
        "<h1 id='result'>Access denied</h1>"
        "<p>The device was not connected. You can close this window.</p>"
    )
    return _page("Access denied", body)


def error_page(title: str, message: str, status: int = 400) -> HTMLResponse:
    """An error a person reads, used where redirecting back to the app would be unsafe."""
    body = f"<h1 id='result'>{escape(title)}</h1><p class='error' id='error'>{escape(message)}</p>"
    return _page(title, body, status=status)
