"""Sans-I/O token-endpoint requests and the one response classifier.

Builders return ``httpx2.Request`` objects; nothing here touches the network. Every
parameter goes in the form body, never the URL (URLs end up in logs, proxies and
browser histories). Client authentication is HTTP Basic with the id and secret each
form-urlencoded before base64 (RFC 6749 section 2.3.1) for confidential clients, and
``client_id`` in the body for public ones.

``oauth_error`` maps an error response to ctct's exception tree:

    400 invalid_grant              -> AuthorizationRequired (code "invalid_grant")
    any invalid_client             -> ClientRejected
    access_denied / expired_token  -> AuthorizationDenied / FlowTimedOut (device flow)
    429, 5xx, garbled or oversized -> TransientProviderError
    3xx (never followed)           -> ProviderError (code "redirect")
    anything else                  -> ProviderError with the provider's code

Every piece of the provider's answer a message shows (``error``, ``error_description``,
``error_uri``, device-flow fields) goes through ``ctct._redact`` first: what the request
carried, the tokens being refreshed and anything JWT-shaped are masked, control
characters escaped and the text cut short, so a provider echoing a secret cannot leak it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeGuard
from urllib.parse import quote_plus

import httpx2

from ctct import __version__, _redact
from ctct._cc import DEVICE_CODE_GRANT
from ctct._provider import Provider
from ctct._redact import server_text
from ctct._secret import MASK, Secret
from ctct._tokens import TokenSet, parse_http_date
from ctct.errors import (
    AuthorizationDenied,
    AuthorizationRequired,
    ClientRejected,
    ConfigError,
    CtctError,
    FlowTimedOut,
    ProviderError,
    TransientProviderError,
)

MAX_RESPONSE_BYTES: Final = 1024 * 1024
_USER_AGENT: Final = f"ctct/{__version__}"
_ERROR_CODE: Final = re.compile(r"[a-z0-9_.:-]{1,64}")


@dataclass(frozen=True, repr=False)
class ClientCredentials:
    """The application's identity. No secret: a public client (PKCE / device flow)."""

    client_id: str
    client_secret: Secret | None = None

    @property
    def confidential(self) -> bool:
        return self.client_secret is not None

    def __repr__(self) -> str:
        secret = MASK if self.client_secret is not None else "None"
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret={secret})"


@dataclass(frozen=True, repr=False)
class DeviceAuthorization:
    """A device authorization response (RFC 8628 section 3.2), times absolute."""

    device_code: Secret
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float

    def __repr__(self) -> str:
        return (
            f"DeviceAuthorization(user_code={self.user_code!r}, "
            f"verification_uri={self.verification_uri!r}, expires_at={self.expires_at!r}, "
            f"interval={self.interval!r})"
        )


@dataclass(frozen=True)
class DevicePending:
    """The person has not finished yet: poll again after ``interval`` (``slow_down``
    means the provider asked for 5 more seconds between polls, RFC 8628 3.5)."""

    slow_down: bool

    @property
    def code(self) -> str:
        return "slow_down" if self.slow_down else "authorization_pending"


# -- builders ---------------------------------------------------------------------------


def refresh_request(
    provider: Provider,
    client: ClientCredentials,
    refresh_token: Secret,
    *,
    scopes: Iterable[str] | None = None,
) -> httpx2.Request:
    """``grant_type=refresh_token`` (RFC 6749 section 6)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
    if scopes is not None:
        form["scope"] = " ".join(scopes)
    return _form_request(provider.token_endpoint, client, form)


def code_exchange_request(
    provider: Provider,
    client: ClientCredentials,
    code: Secret,
    *,
    redirect_uri: str,
    code_verifier: Secret | None = None,
) -> httpx2.Request:
    """``grant_type=authorization_code``, with the PKCE verifier when there is one."""
    form = {
        "grant_type": "authorization_code",
        "code": code.reveal(),
        "redirect_uri": redirect_uri,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier.reveal()
    return _form_request(provider.token_endpoint, client, form)


def device_authorization_request(
    provider: Provider, client: ClientCredentials, scopes: Iterable[str]
) -> httpx2.Request:
    """Start the device flow (RFC 8628 section 3.1)."""
    if provider.device_authorization_endpoint is None:
        raise ConfigError(
            f"The {provider.name} provider has no device authorization endpoint: use "
            "another login method, or configure device_authorization_endpoint."
        )
    return _form_request(
        provider.device_authorization_endpoint, client, {"scope": " ".join(scopes)}
    )


def device_token_request(
    provider: Provider, client: ClientCredentials, device_code: Secret
) -> httpx2.Request:
    """One device-flow poll (RFC 8628 section 3.4)."""
    form = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code.reveal()}
    return _form_request(provider.token_endpoint, client, form)


def revoke_request(
    provider: Provider,
    client: ClientCredentials,
    token: Secret,
    *,
    token_type_hint: Literal["refresh_token", "access_token"] | None = None,
) -> httpx2.Request:
    """Revoke a token (RFC 7009)."""
    if provider.revocation_endpoint is None:
        raise ConfigError(f"The {provider.name} provider has no revocation endpoint.")
    form = {"token": token.reveal()}
    if token_type_hint is not None:
        form["token_type_hint"] = token_type_hint
    return _form_request(provider.revocation_endpoint, client, form)


def basic_authorization(client_id: str, client_secret: Secret) -> str:
    """``Basic`` header value per RFC 6749 2.3.1: form-urlencode each part, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret.reveal())}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def _form_request(url: str, client: ClientCredentials, form: dict[str, str]) -> httpx2.Request:
    headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
    if client.client_secret is not None:
        headers["Authorization"] = basic_authorization(client.client_id, client.client_secret)
    else:
        form = {**form, "client_id": client.client_id}
    return httpx2.Request("POST", url, headers=headers, data=form)


# -- classifier -------------------------------------------------------------------------


def parse_token_response(
    response: httpx2.Response,
    *,
    provider: Provider,
    client_id: str,
    received_at: float,
    requested_scopes: Iterable[str] = (),
    previous: TokenSet | None = None,
    held: object = (),
) -> TokenSet:
    """A token-endpoint response as a ``TokenSet``, or the mapped exception.

    ``received_at`` is the local clock when the response arrived; ``previous`` is the
    set being refreshed (see ``TokenSet.from_token_response``). An error message masks
    what the request carried, ``previous``'s tokens and ``held`` (see ``oauth_error``).
    """
    body = _success_body(response, (_redact.in_tokens(previous), held))
    return TokenSet.from_token_response(
        body,
        issuer=provider.storage_issuer,
        client_id=client_id,
        received_at=received_at,
        date_header=response.headers.get("date"),
        requested_scopes=requested_scopes,
        previous=previous,
    )


def parse_device_poll_response(
    response: httpx2.Response,
    *,
    provider: Provider,
    client_id: str,
    received_at: float,
    requested_scopes: Iterable[str] = (),
    held: object = (),
) -> TokenSet | DevicePending:
    """A device-flow poll: tokens, ``DevicePending``, or an exception
    (``AuthorizationDenied`` for access_denied, ``FlowTimedOut`` for expired_token)."""
    if response.status_code == 400:
        code = _error_code(response)
        if code in ("authorization_pending", "slow_down"):
            return DevicePending(slow_down=code == "slow_down")
    return parse_token_response(
        response,
        provider=provider,
        client_id=client_id,
        received_at=received_at,
        requested_scopes=requested_scopes,
        held=held,
    )


def parse_device_authorization_response(
    response: httpx2.Response, *, received_at: float, held: object = ()
) -> DeviceAuthorization:
    """The device authorization endpoint's answer (RFC 8628 section 3.2).

    The user code and URLs are shown to the person: what the request carried, the
    device code and ``held`` are masked in them and control characters escaped."""
    body = _success_body(response, held)
    device_code, user_code = body.get("device_code"), body.get("user_code")
    uri = body.get("verification_uri")
    complete = body.get("verification_uri_complete")
    expires_in, interval = body.get("expires_in"), body.get("interval", 5)
    if not (
        isinstance(device_code, str)
        and device_code
        and isinstance(user_code, str)
        and isinstance(uri, str)
        and _is_seconds(expires_in)
        and _is_seconds(interval)
    ):
        raise TransientProviderError("The device authorization response is incomplete.")
    shown = _redact.Held(_redact.in_response(response), device_code, held)
    complete = complete if isinstance(complete, str) else None
    # Shown to the person: no secret in them, and nothing that drives a terminal.
    user_code = server_text(user_code, shown, limit=64)
    uri = server_text(uri, shown, limit=None)
    if complete is not None:
        complete = server_text(complete, shown, limit=None)
    return DeviceAuthorization(
        device_code=Secret(device_code),
        user_code=user_code,
        verification_uri=uri,
        verification_uri_complete=complete,
        expires_at=received_at + float(expires_in),
        interval=float(interval),
    )


def check_revoke_response(response: httpx2.Response, *, held: object = ()) -> None:
    """RFC 7009: 200 means revoked (or already invalid). Else raise the mapped error
    (``held``: the grant's other tokens, masked in its message like what was sent)."""
    if response.status_code != 200:
        raise oauth_error(response, held=held)


def retry_after(response: httpx2.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_http_date(value)
    server_now = parse_http_date(response.headers.get("date"))
    if when is None or server_now is None:
        return None
    return max(0.0, when - server_now)


def oauth_error(response: httpx2.Response, *, held: object = ()) -> CtctError:
    """The exception for a non-success token/device/revoke response.

    The provider's ``error``, ``error_description`` and ``error_uri`` appear only
    masked (``ctct._redact``): every secret the request carried, ``held`` (the tokens
    being refreshed, say) and anything JWT-shaped."""
    status = response.status_code
    if len(response.content) > MAX_RESPONSE_BYTES:
        return TransientProviderError(
            f"The provider's answer (HTTP {status}) is larger than {MAX_RESPONSE_BYTES} bytes; "
            "retry later.",
            code="oversized",
        )
    if 300 <= status < 400:
        return ProviderError(
            f"The provider answered HTTP {status} with a redirect; ctct does not follow "
            "redirects on OAuth calls. Check the endpoint URL.",
            code="redirect",
        )
    body = _json_object(response)
    raw = body.get("error") if body is not None else None
    raw = raw if isinstance(raw, str) and raw else None
    secrets = _redact.Held(held)
    # ...and what the request carried.
    secrets = secrets.plus(_redact.in_response(response))
    # The raw code picks the exception; only its masked form is shown or kept.
    code = raw
    code = _shown_code(raw, secrets)
    detail = _describe(body, secrets)
    if status == 429:
        throttled = TransientProviderError(
            f"The provider is rate-limiting token requests (HTTP 429); retry later.{detail}",
            code=code or "rate_limited",
        )
        throttled.rate_limited = True
        throttled.retry_after = retry_after(response)
        return throttled
    if status >= 500:
        return TransientProviderError(
            f"The provider failed (HTTP {status}); retry later.{detail}", code=code
        )
    if raw == "invalid_client":
        return ClientRejected(
            "The provider refused this app's credentials (invalid_client): check the client "
            "ID and secret (CTCT_CLIENT_ID, CTCT_CLIENT_SECRET); a secret regenerated in the "
            "developer portal invalidates the old one. The stored refresh token was kept "
            f"and works again once the credentials are fixed.{detail}",
            code=code,
        )
    if raw == "invalid_grant":
        return AuthorizationRequired(
            "The provider refused the grant (invalid_grant): the refresh token or "
            "authorization code is invalid, expired, revoked or already used. Authorize "
            f"again with `ctct auth login`.{detail}",
            code=code,
        )
    if raw == "access_denied":
        return AuthorizationDenied(
            f"The person declined the authorization request (access_denied).{detail}",
            code=code,
        )
    if raw == "expired_token":
        return FlowTimedOut(
            "The device code expired before the login was completed (expired_token): "
            f"start the login again.{detail}",
            code=code,
        )
    if raw in ("temporarily_unavailable", "server_error"):
        return TransientProviderError(
            f"The provider is temporarily unavailable ({code}); retry later.{detail}", code=code
        )
    if raw is None:
        if status in (404, 405, 410):
            return ProviderError(
                f"The provider answered HTTP {status} without an OAuth error: check the "
                "endpoint URL.",
                code=f"http_{status}",
            )
        return TransientProviderError(
            f"The provider's answer (HTTP {status}) is not an OAuth error body; retry later.",
            code="garbled",
        )
    return ProviderError(
        f"The provider refused the request ({code}, HTTP {status}).{detail}", code=code
    )


def _success_body(response: httpx2.Response, held: object = ()) -> dict[str, Any]:
    if response.status_code != 200:
        raise oauth_error(response, held=held)
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise oauth_error(response, held=held)
    body = _json_object(response)
    if body is None:
        raise TransientProviderError(
            "The provider's answer (HTTP 200) is not a JSON object; retry later.",
            code="garbled",
        )
    return body


def _json_object(response: httpx2.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _error_code(response: httpx2.Response) -> str | None:
    body = _json_object(response)
    code = body.get("error") if body is not None else None
    return code if isinstance(code, str) else None


def _shown_code(raw: str | None, secrets: _redact.Held) -> str | None:
    if raw is None:
        return None
    if _ERROR_CODE.fullmatch(raw) and not secrets.shows(raw):
        return raw
    return _redact.server_text(raw, secrets, limit=64)


def _describe(body: dict[str, Any] | None, secrets: _redact.Held) -> str:
    if body is None:
        return ""
    text = _redact.server_text(body.get("error_description"), secrets)
    uri = _redact.server_text(body.get("error_uri"), secrets)
    detail = f' The provider said: "{text}"' if text.strip() else ""
    return detail + (f" (see {uri})" if uri.strip() else "")


def _is_seconds(value: object) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and value >= 0
