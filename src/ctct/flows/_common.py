"""What every login flow shares: its context, the token endpoint's shared rate limit,
and the finish (verify, store durably, report scopes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ctct._jwt import AccessTokenClaims
from ctct._oauth_requests import ClientCredentials
from ctct._provider import Provider
from ctct._redact import NOTHING, Held, server_text
from ctct._tokens import TokenSet
from ctct._wording import duration
from ctct.errors import TransientProviderError
from ctct.flows._events import FlowName, LoginCompleted, LoginResult, ScopesDiffer
from ctct.flows._run import Emit, Flow, Save, Sleep, TakeRate, Verify

DEFAULT_MAX_RATE_WAIT: Final = 30.0
RATE_SAFETY: Final = 0.9
"""Logins take token-endpoint slots at 90% of the provider's rate. The provider counts
at its end, where network jitter can bring two requests sent exactly one second apart
closer than that; a login must never spend a poll on a 429."""


@dataclass(frozen=True)
class FlowContext:
    """The fixed facts of one login."""

    provider: Provider
    client: ClientCredentials
    profile: str
    scopes: tuple[str, ...]
    """Requested scopes, ``offline_access`` included."""
    clock: Callable[[], float]
    verify: bool = True
    max_rate_wait: float = DEFAULT_MAX_RATE_WAIT
    held: Callable[[], Held] = lambda: NOTHING
    """The secrets the provider's text must not show beyond what a request carries (the
    grant being replaced, the client secret): ``TokenManager.held_secrets``."""

    @property
    def rate_bucket(self) -> str:
        # The same bucket the refresh engine uses: logins and refreshes of one client
        # share CC's 1 request/second at the token endpoint, across processes.
        return f"token-endpoint:{self.provider.storage_issuer}:{self.client.client_id}"

    def verifies(self, access_token: str) -> bool:
        provider = self.provider
        if not self.verify or provider.jwks_uri is None:
            return False
        if provider.access_token_format == "opaque":
            return False
        return provider.access_token_format == "jwt" or access_token.count(".") == 2


def take_rate(ctx: FlowContext, *, max_wait: float | None = None) -> Flow[None]:
    """Wait for a token-endpoint slot in the shared bucket (no-op without a limit)."""
    if ctx.provider.token_rate_per_second is None:
        return
    rate = ctx.provider.token_rate_per_second * RATE_SAFETY
    limit = ctx.max_rate_wait if max_wait is None else max_wait
    waited = 0.0
    while True:
        wait = yield TakeRate(ctx.rate_bucket, rate)
        if wait <= 0:
            return
        if waited + wait > limit:
            raise TransientProviderError(
                "The token endpoint's rate limit kept this login waiting more than "
                f"{duration(limit)} (other processes of this app are using it heavily); "
                "try again.",
                code="rate_limited",
            )
        waited += wait
        yield Sleep(wait)


def finish(ctx: FlowContext, tokens: TokenSet, flow: FlowName) -> Flow[LoginResult]:
    """Verify the new access token, store the grant durably, report the scopes."""
    subject = tokens.subject
    access = tokens.access_token.reveal() if tokens.access_token is not None else ""
    if access and ctx.verifies(access):
        claims: AccessTokenClaims = yield Verify(access, tokens.clock_skew)
        subject = claims.subject
        tokens = tokens.with_subject(subject)
    yield Save(tokens)
    result = LoginResult(
        profile=ctx.profile,
        flow=flow,
        tokens=tokens,
        requested_scopes=frozenset(ctx.scopes),
        granted_scopes=tokens.scopes,
        subject=subject,
    )
    difference = result.scope_difference
    if difference is not None:
        yield Emit(ScopesDiffer(difference.requested, difference.granted))
    yield Emit(LoginCompleted(result))
    return result


def sanitize(text: object, held: Held = NOTHING, limit: int = 200) -> str:
    """Provider-supplied text fit for a message: one line, short, ``held`` values and
    JWT-shaped runs masked, control characters escaped (``ctct._redact``)."""
    return server_text(text, held, limit=limit)
