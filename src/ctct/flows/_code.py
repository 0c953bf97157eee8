"""The authorization code flow's pieces, free of I/O: PKCE and state, the authorization
URL, checking what comes back (a callback query or a pasted URL), and the exchange.

Used by the loopback browser flow, the paste flow and the web callback alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from ctct._oauth_requests import code_exchange_request, parse_token_response, retry_after
from ctct._provider import PkceMode, Provider
from ctct._redact import Held
from ctct._secret import Secret
from ctct._tokens import TokenSet
from ctct.errors import (
    AuthorizationDenied,
    AuthorizationRequired,
    ClientRejected,
    ConfigError,
    FlowError,
)
from ctct.flows._common import FlowContext, sanitize, take_rate
from ctct.flows._run import Flow, Send, Sleep

DEFAULT_REDIRECT_URI: Final = "http://127.0.0.1/callback"
"""The redirect URI used when none is configured: a loopback URI on any port (RFC 8252
7.3), as registered for the emulator's default app. Register it for your CC app too."""

_CODE_CHARS: Final = re.compile(r"[A-Za-z0-9._~+/=-]{4,2048}")
_ERROR_CODE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, repr=False)
class AuthorizationRequest:
    """One authorization request: what goes in the URL, and what the exchange needs."""

    url: str
    redirect_uri: str
    state: str
    code_verifier: Secret | None

    def __repr__(self) -> str:
        return f"AuthorizationRequest(redirect_uri={self.redirect_uri!r})"


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> Secret:
    """An RFC 7636 verifier: 64 characters of ``[A-Za-z0-9_-]`` (384 random bits)."""
    return Secret(secrets.token_urlsafe(48))


def s256_challenge(verifier: Secret) -> str:
    digest = hashlib.sha256(verifier.reveal().encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


PkceChoice = bool | PkceMode | None
"""A flow's ``pkce`` option: None follows the provider profile's ``pkce`` (CC: ``auto``);
``True`` is ``always``; ``False`` is ``auto`` (PKCE for public clients only, which
cannot do without it); or a ``PkceMode`` by name."""


def uses_pkce(provider: Provider, confidential: bool, pkce: PkceChoice = None) -> bool:
    """Whether this client's authorization requests carry PKCE S256.

    RFC 9700 2.1.1 recommends PKCE for confidential clients too, but a strict provider
    (CC may be one: its server flow authenticates with the secret alone) refuses it from
    a client that has a secret; the provider profile's ``pkce`` says which it is.
    """
    if pkce is None:
        return provider.uses_pkce(confidential)
    if pkce is True or pkce == "always":
        return True
    if pkce is False or pkce == "auto":
        return not confidential
    return False  # "never"


def authorization_request(
    provider: Provider,
    client_id: str,
    *,
    redirect_uri: str,
    scopes: Iterable[str],
    pkce: bool,
    state: str | None = None,
    code_verifier: Secret | None = None,
) -> AuthorizationRequest:
    """Build the authorization URL (scopes joined by spaces, encoded as ``+``)."""
    endpoint = provider.authorization_endpoint
    if endpoint is None:
        raise ConfigError(
            f"The {provider.name} provider has no authorization endpoint: use the device "
            "flow, or configure authorization_endpoint."
        )
    state = state or new_state()
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes),
        "state": state,
    }
    verifier = None
    if pkce:
        verifier = code_verifier or new_code_verifier()
        params["code_challenge"] = s256_challenge(verifier)
        params["code_challenge_method"] = "S256"
    separator = "&" if urlsplit(endpoint).query else "?"
    return AuthorizationRequest(
        url=endpoint + separator + urlencode(params),
        redirect_uri=redirect_uri,
        state=state,
        code_verifier=verifier,
    )


def code_from_query(query: str, expected_state: str) -> Secret:
    """The code in a redirect's query string, after checking it belongs to this login.

    Order: ``state`` first (constant-time), so nothing from another login or a forged
    request is acted on; then ``error`` (``access_denied`` is ``AuthorizationDenied``);
    then ``code``.
    """
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in params and name in ("code", "state", "error"):
            raise FlowError(
                f"The redirect repeats the parameter {name!r}, which a provider never does: "
                "it was tampered with. Start the login again.",
                code="invalid_callback",
            )
        params.setdefault(name, value)
    state = params.get("state")
    if not state:
        raise FlowError(
            "The redirect has no state parameter, so it cannot be matched to this login "
            "(it did not come from this login's authorization URL). Start the login again "
            "and use the URL it shows.",
            code="missing_state",
        )
    if not hmac.compare_digest(state.encode("utf-8"), expected_state.encode("utf-8")):
        raise FlowError(
            "The redirect's state does not match this login: it belongs to another login "
            "attempt (or was forged). Start again from the URL this login shows, and finish "
            "in the browser tab that URL opened.",
            code="state_mismatch",
        )
    error = params.get("error")
    if error is not None:
        described = sanitize(params.get("error_description"), Held(expected_state))
        detail = f" The provider said: {described!r}" if described else ""
        if error == "access_denied":
            raise AuthorizationDenied(
                f"The authorization request was declined (access_denied).{detail}",
                code="access_denied",
            )
        shown = error if _ERROR_CODE.fullmatch(error) else "unknown"
        raise FlowError(
            f"The provider refused the authorization request ({shown}).{detail} Check the "
            "app's registration (redirect URI, enabled flows, scopes) and try again.",
            code=shown,
        )
    code = params.get("code")
    if not code:
        raise FlowError(
            "The redirect has no authorization code. Approve the request in the browser, "
            "then use the address it lands on.",
            code="missing_code",
        )
    return Secret(code)


def pasted_response(text: str, request: AuthorizationRequest) -> Secret:
    """The code in what the person pasted: the redirected URL (checked like a
    callback), its query string, or the bare code."""
    text = text.strip().strip("'\"<>").strip()
    if not text:
        raise FlowError(
            "Nothing was pasted. Open the URL above, approve, and paste the full address of "
            "the page the browser lands on (it contains code=...).",
            code="empty_paste",
        )
    if "://" in text:
        parts, expected = urlsplit(text), urlsplit(request.redirect_uri)
        if not _same_endpoint(parts, expected):
            if _same_endpoint(parts, urlsplit(request.url)):
                raise FlowError(
                    "That is the authorization URL itself: open it in a browser, approve, "
                    "then paste the address the browser lands on.",
                    code="wrong_url",
                )
            raise FlowError(
                f"The pasted URL is not this login's redirect URI ({request.redirect_uri}): "
                "it comes from another app or flow. Paste the address the browser lands on "
                "after approving this login.",
                code="wrong_url",
            )
        return code_from_query(parts.query or parts.fragment, request.state)
    if text.startswith("?") or "=" in text:
        return code_from_query(text.lstrip("?"), request.state)
    if _CODE_CHARS.fullmatch(text):
        # A bare code cannot carry state; PKCE still binds it to this login's verifier.
        return Secret(text)
    raise FlowError(
        "The pasted text is neither the redirected URL nor an authorization code. Paste "
        "the full address of the page the browser lands on after approving.",
        code="bad_paste",
    )


def _same_endpoint(a: SplitResult, b: SplitResult) -> bool:
    try:
        a_port = a.port or _DEFAULT_PORTS.get(a.scheme.lower())
        b_port = b.port or _DEFAULT_PORTS.get(b.scheme.lower())
    except ValueError:
        return False
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.hostname or "") == (b.hostname or "")
        and a_port == b_port
        and (a.path or "/") == (b.path or "/")
    )


RATE_RETRIES = 4


def exchange(
    ctx: FlowContext, code: Secret, redirect_uri: str, code_verifier: Secret | None
) -> Flow[TokenSet]:
    """Redeem the code at once (CC's codes live 5 minutes, single use).

    A 429 is retried after ``Retry-After`` (at most ``RATE_RETRIES`` times): the limit is
    checked before the code is looked at, so a throttled code is still unused. Our shared
    bucket keeps processes of one app apart, but the server counts arrivals, and a
    request delayed on its way can still arrive inside another's second.
    """
    request = code_exchange_request(
        ctx.provider, ctx.client, code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    for _ in range(RATE_RETRIES):
        yield from take_rate(ctx)
        response = yield Send(request)
        if response.status_code != 429:
            break
        yield Sleep(min(ctx.max_rate_wait, retry_after(response) or 1.0))
    try:
        return parse_token_response(
            response,
            provider=ctx.provider,
            client_id=ctx.client.client_id,
            received_at=ctx.clock(),
            requested_scopes=ctx.scopes,
        )
    except ClientRejected:
        raise
    except AuthorizationRequired as error:
        raise FlowError(
            "The provider refused the authorization code (invalid_grant): it expired "
            "(codes live 5 minutes), was already used, or was issued to another login or "
            "redirect URI. Start the login again.",
            code=error.code or "invalid_grant",
        ) from None
