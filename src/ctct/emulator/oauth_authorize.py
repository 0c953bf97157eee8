"""The authorize endpoint: validate the request, show the login and consent page,
and answer the person's decision with a redirect carrying a code or an error.

Until the client and its redirect_uri are known good, errors are an HTML page and
never a redirect (an open redirector would hand codes to anyone, RFC 6749 4.1.2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ctct.emulator import pages
from ctct.emulator.config import AppConfig, UserConfig
from ctct.emulator.oauth_common import OAuthError, add_query, parse_scopes, single_valued
from ctct.emulator.oauth_requests import PendingAuthorization

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

LOOPBACK_HOSTNAMES = frozenset({"127.0.0.1", "::1", "localhost"})
# S256 challenges are BASE64URL(SHA-256(verifier)) without padding: exactly 43 characters.
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

EXPIRED_REQUEST = (
    "This sign-in request has expired or was already answered. Return to the application "
    "and start connecting again."
)


def redirect_uri_allowed(registered: Iterable[str], given: str, any_port: bool) -> bool:
    """Exact match, or (RFC 8252 7.3) a registered loopback URI on any port."""
    registered = tuple(registered)
    if given in registered:
        return True
    if not any_port:
        return False
    g = urlsplit(given)
    try:
        _ = g.port  # a malformed port raises here; such a URI matches nothing
    except ValueError:
        return False
    if g.scheme != "http" or g.hostname not in LOOPBACK_HOSTNAMES or g.username or g.fragment:
        return False
    for uri in registered:
        r = urlsplit(uri)
        if (
            r.scheme == "http"
            and r.hostname == g.hostname
            and r.path == g.path
            and r.query == g.query
            and not r.username
        ):
            return True
    return False


def user_for_login(emu: Emulator, username: str, password: str) -> UserConfig | None:
    user = emu.config.user(username.strip())
    if user is None or user.password != password:
        return None
    return user


def approve_redirect(emu: Emulator, pending: PendingAuthorization, username: str) -> str:
    """Issue a code for an answered login and return where to send the browser."""
    code = emu.grants.requests.issue_code(pending, username)
    return add_query(pending.redirect_uri, {"code": code, "state": pending.state})


def deny_redirect(pending: PendingAuthorization) -> str:
    return add_query(
        pending.redirect_uri,
        {
            "error": "access_denied",
            "error_description": "The resource owner denied the request.",
            "state": pending.state,
        },
    )


def _check_pkce(emu: Emulator, app: AppConfig, params: dict[str, str]) -> str | None:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise OAuthError("invalid_request", "code_challenge_method needs a code_challenge.")
        if not app.confidential:
            raise OAuthError(
                "invalid_request",
                "PKCE is required for public clients: send code_challenge and "
                "code_challenge_method=S256.",
            )
        return None
    if app.confidential and not emu.config.allow_pkce_for_confidential:
        raise OAuthError(
            "invalid_request",
            "PKCE is not allowed for this confidential client; omit code_challenge and "
            "authenticate with the client secret.",
        )
    if method != "S256":
        raise OAuthError(
            "invalid_request", "code_challenge_method must be S256 (plain is not supported)."
        )
    if not S256_CHALLENGE.match(challenge):
        raise OAuthError(
            "invalid_request",
            "code_challenge must be the unpadded base64url SHA-256 of the verifier "
            "(43 characters).",
        )
    return challenge


async def authorize_get(emu: Emulator, request: Request) -> Response:
    try:
        params = single_valued(request.query_params.multi_items())
    except OAuthError as exc:
        return pages.error_page("Invalid request", exc.description)
    app = emu.config.app(params.get("client_id", ""))
    if app is None:
        return pages.error_page(
            "Unknown application",
            "The client_id in this link is not a registered application. "
            "Check the application's API key.",
        )
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri_allowed(
        app.redirect_uris, redirect_uri, emu.config.loopback_redirect_any_port
    ):
        return pages.error_page(
            "Redirect URI not registered",
            "The redirect_uri in this link is missing or does not exactly match one "
            "registered for this application. Register it, or fix the link.",
        )
    state = params.get("state")
    try:
        if "response_type" not in params:
            raise OAuthError("invalid_request", "response_type is required; use 'code'.")
        if params["response_type"] != "code":
            raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
        if "authorization_code" not in app.flows:
            raise OAuthError(
                "unauthorized_client",
                "This application is not enabled for the authorization code flow.",
            )
        scopes = parse_scopes(params.get("scope"))
        if emu.config.require_state and not state:
            raise OAuthError(
                "invalid_request",
                "The 'state' parameter is required: send an unguessable value and check "
                "it when the redirect comes back (CSRF protection).",
            )
        challenge = _check_pkce(emu, app, params)
    except OAuthError as exc:
        target = add_query(
            redirect_uri,
            {"error": exc.error, "error_description": exc.description, "state": state},
        )
        return RedirectResponse(target, status_code=302)
    pending = emu.grants.requests.create_pending(
        client_id=app.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        code_challenge=challenge,
        nonce=params.get("nonce"),
    )
    if emu.config.auto_approve:
        taken = emu.grants.requests.take_pending(pending.request_id)
        assert taken is not None
        target = approve_redirect(emu, taken, emu.config.default_user.username)
        return RedirectResponse(target, status_code=302)
    return pages.login_page(
        action=request.url.path,
        request_id=pending.request_id,
        app_name=app.name,
        scopes=scopes,
    )


async def authorize_post(emu: Emulator, request: Request) -> Response:
    """The login page's answer: Approve (with credentials) or Deny."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    store = emu.grants.requests
    pending = store.pending(form.get("request_id", ""))
    if pending is None:
        return pages.error_page("Sign-in expired", EXPIRED_REQUEST)
    app = emu.config.app(pending.client_id)
    app_name = app.name if app else pending.client_id
    decision = form.get("decision")
    if decision == "deny":
        taken = store.take_pending(pending.request_id)
        if taken is None:
            return pages.error_page("Sign-in expired", EXPIRED_REQUEST)
        return RedirectResponse(deny_redirect(taken), status_code=303)
    if decision != "approve":
        return pages.error_page("Invalid request", "Choose Approve or Deny.")
    username = form.get("username", "")
    user = user_for_login(emu, username, form.get("password", ""))
    if user is None:
        return pages.login_page(
            action=request.url.path,
            request_id=pending.request_id,
            app_name=app_name,
            scopes=pending.scopes,
            error="Wrong email or password. Try again.",
            username=username,
        )
    taken = store.take_pending(pending.request_id)
    if taken is None:
        return pages.error_page("Sign-in expired", EXPIRED_REQUEST)
    return RedirectResponse(approve_redirect(emu, taken, user.username), status_code=303)
