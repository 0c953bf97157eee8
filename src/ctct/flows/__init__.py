"""Authorization flows: obtain a grant once, store it, and let ``TokenManager`` keep it.

Every flow is a library call first (the CLI's ``ctct auth login`` is a thin layer over
it), sync and async, reporting progress through one ``on_event`` callable::

    from ctct.flows import Login, DeviceCodeIssued, qr_text

    def show(event):
        if isinstance(event, DeviceCodeIssued):
            print(f"Open {event.verification_uri} and enter {event.user_code}")
            print(qr_text(event.verification_uri_complete or event.verification_uri))

    with Login.from_settings(on_event=show) as login:
        result = login.device()          # or .browser(), .paste(ask), .import_tokens(rt)
    print(result.granted_scopes)

Without an ``on_event``, a ``Login`` shows the person what to do on stderr, as
``ctct auth login`` does (``EventPrinter``: the device code and URL,
the QR code when stderr is a terminal); ``show=False`` makes it silent, ``show=True``
shows it beside ``on_event``.

Flows:

* ``Login.device()`` - RFC 8628; works from any machine (the person approves on a phone).
* ``Login.browser()`` - authorization code + PKCE with a loopback redirect on 127.0.0.1.
* ``Login.paste(ask)`` - no browser here: show the URL, the person pastes back where the
  browser landed (or the bare code).
* ``Login.import_tokens(refresh_token)`` - tokens the person already has, verified by
  one refresh.
* ``WebLogin`` (``ctct.flows.web``) - for web apps with a public redirect URI: a
  ``start`` helper and a callback endpoint, ASGI (Starlette) and WSGI, with state and
  verifier in the shared store so it works behind several workers.
* ``choose_flow()`` - device or browser, from the environment.

Each returns a ``LoginResult`` after the grant is durably stored; ``offline_access`` is
always requested and a difference between requested and granted scopes is both
returned and emitted (``ScopesDiffer``). Two logins of one profile never run at once:
the second waits (``WaitingForOtherLogin``) and reuses what the first stored.
"""

from __future__ import annotations

from ctct.flows._browser import PASTE_PROMPT
from ctct.flows._choose import BrowserEnvironment, FlowChoice, choose_flow
from ctct.flows._code import DEFAULT_REDIRECT_URI, AuthorizationRequest
from ctct.flows._events import (
    AuthorizationUrlReady,
    DeviceCodeIssued,
    EventHandler,
    FlowName,
    LoginCompleted,
    LoginEvent,
    LoginResult,
    OtherLoginFinished,
    PollingSlowedDown,
    ScopesDiffer,
    WaitingForCallback,
    WaitingForOtherLogin,
    requested_scopes,
)
from ctct.flows._gate import login_lock_key
from ctct.flows._login import DEFAULT_BROWSER_TIMEOUT, Login
from ctct.flows._qr import qr_text
from ctct.flows._run import Opener
from ctct.flows._show import EventPrinter
from ctct.flows.web import WebDone, WebLogin, WebStart

__all__ = [
    "DEFAULT_BROWSER_TIMEOUT",
    "DEFAULT_REDIRECT_URI",
    "PASTE_PROMPT",
    "AuthorizationRequest",
    "AuthorizationUrlReady",
    "BrowserEnvironment",
    "DeviceCodeIssued",
    "EventHandler",
    "EventPrinter",
    "FlowChoice",
    "FlowName",
    "Login",
    "LoginCompleted",
    "LoginEvent",
    "LoginResult",
    "Opener",
    "OtherLoginFinished",
    "PollingSlowedDown",
    "ScopesDiffer",
    "WaitingForCallback",
    "WaitingForOtherLogin",
    "WebDone",
    "WebLogin",
    "WebStart",
    "choose_flow",
    "login_lock_key",
    "qr_text",
    "requested_scopes",
]
