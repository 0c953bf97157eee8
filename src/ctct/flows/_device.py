"""The device authorization grant (RFC 8628) as a sans-I/O flow.

The person sees a user code and a URL (``DeviceCodeIssued``) and approves on any
device; meanwhile the flow polls the token endpoint:

* first poll one ``interval`` after the code was issued (at once for an emulator's
  profile, ``Provider.device_poll_at_once``), then one ``interval`` after each answer;
* ``slow_down`` adds 5 seconds to the interval for good (RFC 8628 3.5);
* a transient failure (429, 5xx, timeout, network) doubles it, up to a minute;
* every poll first takes a slot in the shared token-endpoint bucket (CC: 1/second
  per client, shared with refreshes of every process), so polling never trips it;
* ``access_denied`` raises ``AuthorizationDenied``, ``expired_token`` ``FlowTimedOut``;
* the flow gives up with ``FlowTimedOut`` at the earlier of the code's expiry and the
  caller's ``timeout``, without a poll it knows to be too late.
"""

from __future__ import annotations

from typing import Final

from ctct._oauth_requests import (
    DevicePending,
    device_authorization_request,
    device_token_request,
    parse_device_authorization_response,
    parse_device_poll_response,
)
from ctct._wording import duration
from ctct.errors import CtctError, FlowTimedOut
from ctct.flows._common import FlowContext, finish, take_rate
from ctct.flows._events import DeviceCodeIssued, LoginResult, PollingSlowedDown
from ctct.flows._run import Emit, Flow, Send, Sleep

SLOW_DOWN_STEP: Final = 5.0
MAX_TRANSIENT_INTERVAL: Final = 60.0


def device_flow(ctx: FlowContext, *, timeout: float | None = None) -> Flow[LoginResult]:
    """Run a device login to the end: a stored grant, or an exception."""
    response = yield Send(device_authorization_request(ctx.provider, ctx.client, ctx.scopes))
    started = ctx.clock()
    held: object = ()
    # The user code and URLs are shown: mask in them the grant being replaced too.
    held = ctx.held()
    device = parse_device_authorization_response(response, received_at=started, held=held)
    yield Emit(
        DeviceCodeIssued(
            user_code=device.user_code,
            verification_uri=device.verification_uri,
            verification_uri_complete=device.verification_uri_complete,
            expires_at=device.expires_at,
            interval=device.interval,
        )
    )
    expiry_first = timeout is None or device.expires_at <= started + timeout
    deadline = device.expires_at if timeout is None else min(device.expires_at, started + timeout)
    interval = device.interval
    # A real provider answers a poll before the first interval with slow_down (+5 s for
    # good); an emulator measures only between polls, so its first poll goes at once.
    last_poll = started - interval if ctx.provider.device_poll_at_once else started
    while True:
        next_poll = last_poll + interval
        if next_poll > deadline:
            if expiry_first:
                raise FlowTimedOut(
                    f"The device code {device.user_code} expired before the login was "
                    "approved: start the login again and approve it within "
                    f"{duration(device.expires_at - started)}.",
                    code="expired_token",
                )
            raise FlowTimedOut(
                f"The login was not approved within {timeout:g} s; the code "
                f"{device.user_code} is no longer being checked. Start the login again.",
                code="timeout",
            )
        yield Sleep(max(0.0, next_poll - ctx.clock()))
        try:
            yield from take_rate(ctx, max_wait=max(0.0, deadline - ctx.clock()))
            poll = yield Send(device_token_request(ctx.provider, ctx.client, device.device_code))
            # Counted from the answer, not the request: the provider measures between the
            # polls it *processes*, and the next one must never look early to it.
            last_poll = ctx.clock()
            result = parse_device_poll_response(
                poll,
                provider=ctx.provider,
                client_id=ctx.client.client_id,
                received_at=ctx.clock(),
                requested_scopes=ctx.scopes,
            )
        except CtctError as error:
            if not error.retryable:
                raise  # access_denied, expired_token, invalid_client, ...
            last_poll = ctx.clock()
            interval = min(max(interval * 2, 1.0), max(MAX_TRANSIENT_INTERVAL, interval))
            yield Emit(PollingSlowedDown(interval, "transient"))
            continue
        if isinstance(result, DevicePending):
            if result.slow_down:
                interval += SLOW_DOWN_STEP
                yield Emit(PollingSlowedDown(interval, "slow_down"))
            continue
        return (yield from finish(ctx, result, "device"))
