"""Client authentication at the token and revocation endpoints (RFC 6749 2.3).

Three methods: HTTP Basic (what CC documents; id and secret are form-urlencoded
before base64, RFC 6749 2.3.1, so they are decoded with ``unquote_plus``),
``client_secret`` in the parameters (unless the emulator is told to refuse it), and
none (``client_id`` only) where the caller allows it: public clients and CC's device
flow, which has no secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote_plus

from ctct.emulator.config import AppConfig
from ctct.emulator.oauth_common import OAuthError

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

AuthMethod = Literal["basic", "post", "none"]

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="authz.constantcontact.com"'}


@dataclass(frozen=True)
class ClientCredentials:
    """What the request claims. ``secret`` is never logged or put in a message."""

    client_id: str
    secret: str | None
    method: AuthMethod

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, method={self.method!r})"


def _invalid_client(description: str, method: AuthMethod) -> OAuthError:
    headers = BASIC_CHALLENGE if method == "basic" else None
    return OAuthError("invalid_client", description, status=401, headers=headers)


def extract_credentials(authorization: str | None, params: Mapping[str, str]) -> ClientCredentials:
    """Read the client's credentials from the Authorization header or the parameters."""
    body_id = params.get("client_id")
    body_secret = params.get("client_secret")
    if authorization:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise _invalid_client(
                "Authenticate the client with HTTP Basic (Authorization: Basic ...).", "basic"
            )
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid_client(
                "The Basic credentials are not valid base64 of 'client_id:client_secret'.",
                "basic",
            ) from None
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep:
            raise _invalid_client(
                "The Basic credentials must be 'client_id:client_secret'.", "basic"
            )
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if body_secret is not None:
            raise OAuthError(
                "invalid_request",
                "The client authenticated twice (Basic header and client_secret); use one.",
            )
        if body_id is not None and body_id != client_id:
            raise _invalid_client(
                "The client_id parameter differs from the one in the Basic header.", "basic"
            )
        return ClientCredentials(client_id, secret or None, "basic")
    if not body_id:
        raise _invalid_client(
            "Client authentication failed: send HTTP Basic credentials or a client_id.", "none"
        )
    if body_secret is not None:
        return ClientCredentials(body_id, body_secret, "post")
    return ClientCredentials(body_id, None, "none")


def client_id_hint(authorization: str | None, params: Mapping[str, str]) -> str | None:
    """The client_id the request names, before any checking (for rate limiting)."""
    try:
        return extract_credentials(authorization, params).client_id
    except OAuthError:
        return params.get("client_id") or None


def authenticate(emu: Emulator, creds: ClientCredentials, *, allow_none: bool) -> AppConfig:
    """Check the credentials against the registered applications.

    ``allow_none``: a confidential client may omit its secret here (device flow).
    Public clients never need one, and must not send one.
    """
    app = emu.config.app(creds.client_id)
    if app is None:
        raise _invalid_client("Client authentication failed: unknown client_id.", creds.method)
    if creds.method == "post" and not emu.config.allow_client_secret_post:
        raise _invalid_client(
            "This server does not accept client_secret in the request parameters; "
            "authenticate with HTTP Basic instead.",
            "post",
        )
    if app.client_secret is None:
        if creds.secret is not None:
            raise _invalid_client(
                "This is a public client: send only client_id, no client secret.", creds.method
            )
        return app
    if creds.secret is None:
        if allow_none:
            return app
        raise _invalid_client(
            "Client authentication failed: this client must send its client secret (HTTP Basic).",
            creds.method,
        )
    if not hmac.compare_digest(creds.secret.encode("utf-8"), app.client_secret.encode("utf-8")):
        raise _invalid_client("Client authentication failed: wrong client secret.", creds.method)
    return app
