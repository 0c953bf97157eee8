"""The two authorization code flows a person drives from a terminal, as sans-I/O flows:

* ``browser_flow``: open the browser at the authorization URL, receive the redirect on
  the loopback receiver, exchange the code the instant it arrives, show a page;
* ``paste_flow``: show the URL; the person opens it anywhere and pastes back the
  address the browser landed on (or the bare code); the exchange follows at once.
"""

from __future__ import annotations

from typing import Final

from ctct.errors import CtctError
from ctct.flows._code import AuthorizationRequest, code_from_query, exchange, pasted_response
from ctct.flows._common import FlowContext, finish
from ctct.flows._events import AuthorizationUrlReady, LoginResult, WaitingForCallback
from ctct.flows._loopback import LoopbackReceiver
from ctct.flows._pages import failure_page, success_page
from ctct.flows._run import Ask, AwaitCallback, Emit, Flow, OpenBrowser, Respond

PASTE_PROMPT: Final = "Paste the address the browser landed on after approving (or the code)"


def browser_flow(
    ctx: FlowContext,
    request: AuthorizationRequest,
    receiver: LoopbackReceiver,
    *,
    timeout: float,
) -> Flow[LoginResult]:
    # The browser gets our loopback start address, which redirects once to the
    # authorization URL: its state and PKCE challenge never reach a command line.
    opened = yield OpenBrowser(receiver.serve_start(request.url))
    yield Emit(AuthorizationUrlReady(request.url, request.redirect_uri, "browser", bool(opened)))
    yield Emit(WaitingForCallback(request.redirect_uri, timeout))
    query = yield AwaitCallback(receiver, timeout)
    try:
        code = code_from_query(query, request.state)
        tokens = yield from exchange(ctx, code, request.redirect_uri, request.code_verifier)
        result = yield from finish(ctx, tokens, "browser")
    except CtctError as error:
        yield Respond(receiver, failure_page(error))
        raise
    yield Respond(receiver, success_page(ctx.profile))
    return result


def paste_flow(ctx: FlowContext, request: AuthorizationRequest) -> Flow[LoginResult]:
    yield Emit(AuthorizationUrlReady(request.url, request.redirect_uri, "paste", None))
    text = yield Ask(PASTE_PROMPT)
    if not isinstance(text, str):
        text = ""
    code = pasted_response(text, request)
    tokens = yield from exchange(ctx, code, request.redirect_uri, request.code_verifier)
    return (yield from finish(ctx, tokens, "paste"))
