"""Revoking a grant at the provider (RFC 7009), with one verdict: done or why not."""

from __future__ import annotations

import httpx2

from ctct._oauth_http import send
from ctct._oauth_requests import ClientCredentials, check_revoke_response, revoke_request
from ctct._provider import Provider
from ctct._tokens import TokenSet
from ctct.errors import AuthorizationRequired, ClientRejected, ConfigError, CtctError, ProviderError


def revoke_grant(
    provider: Provider,
    client: ClientCredentials,
    http: httpx2.Client,
    tokens: TokenSet,
    timeout: float,
) -> CtctError | None:
    """None when the server revoked the grant or said it was already invalid; else the
    reason it could not (the caller then keeps the tokens, unless told otherwise)."""
    if tokens.refresh_token is not None:
        token, hint = tokens.refresh_token, "refresh_token"
    elif tokens.access_token is not None:
        token, hint = tokens.access_token, "access_token"
    else:
        return None
    try:
        request = revoke_request(provider, client, token, token_type_hint=hint)  # type: ignore[arg-type]
        check_revoke_response(send(http, request, timeout=timeout))
    except ClientRejected as exc:
        return exc  # our credentials were refused: the server said nothing about the token
    except AuthorizationRequired as exc:
        if exc.code in ("invalid_grant", "invalid_token"):
            return None  # already invalid at the server: nothing left to revoke
        return exc
    except ConfigError as exc:
        return exc  # no revocation endpoint
    except ProviderError as exc:
        if exc.code in ("invalid_token", "invalid_grant") and not exc.retryable:
            return None
        return exc
    except CtctError as exc:  # network failures
        return exc
    return None
