"""Technology partners' authentication: the partner token endpoint and its tokens.

CC (spec section 1; CC's "Partner Authentication" guide): a partner POSTs to
``/partners/oauth2/default/v1/token`` (until 2025-09 an AWS Cognito URL, ``/oauth2/token``,
which the emulator answers too) with ``Authorization: Basic
base64(partner_client_id:partner_secret)``, ``Content-Type:
application/x-www-form-urlencoded`` (without it: 415) and ``grant_type=client_credentials``
as a query parameter (the body is empty; a form body is accepted too). The answer is a
one-hour JWT that cannot be refreshed: ``{"access_token", "expires_in": 3600,
"token_type": "Bearer"}``. Partner endpoints take that token together with the API key
in ``x-api-key``.

Tokens are RS256 JWTs signed with the emulator's keys, with Cognito's claims
(``token_use: access``, ``scope``, ``client_id``) and an issuer of their own, so a
partner token is never accepted as a user's access token, nor the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, unquote_plus

from joserfc import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ctct import _cc
from ctct.emulator.config import PartnerConfig

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

PARTNER_SCOPE: Final = "v3api/general.partner"
PARTNER_TOKEN_TTL: Final = 3_600
PARTNER_ISSUER: Final = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_ctctPartners"
COGNITO_TOKEN_PATH: Final = "/oauth2/token"
FORM: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(status: int, error: str, description: str) -> Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="partners"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def mint_partner_token(emu: Emulator, partner: PartnerConfig) -> str:
    now = int(emu.clock.now())
    claims: dict[str, Any] = {
        "sub": partner.partner_client_id,
        "client_id": partner.partner_client_id,
        "token_use": "access",
        "scope": PARTNER_SCOPE,
        "auth_time": now,
        "iss": PARTNER_ISSUER,
        "iat": now,
        "exp": now + PARTNER_TOKEN_TTL,
        "version": 2,
        "jti": secrets.token_urlsafe(16),
    }
    return emu.keys.sign(claims)


def verify_partner_token(emu: Emulator, authorization: str | None) -> PartnerConfig | None:
    """The partner a ``Bearer`` partner token belongs to, or None if it is not a valid,
    unexpired partner token of a configured partner."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        decoded = jwt.decode(token.strip(), emu.keys.key_set(), algorithms=["RS256"])
    except Exception:  # any unreadable or forged token is the same 401
        return None
    claims = decoded.claims
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or emu.clock.now() >= exp:
        return None
    if claims.get("iss") != PARTNER_ISSUER or claims.get("token_use") != "access":
        return None
    if PARTNER_SCOPE not in str(claims.get("scope", "")).split():
        return None
    client_id = claims.get("client_id")
    return emu.config.partner(client_id) if isinstance(client_id, str) else None


def _basic(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


async def partner_token_endpoint(emu: Emulator, request: Request) -> Response:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        return _error(
            415,
            "unsupported_media_type",
            f"Send Content-Type: {FORM} (the parameters go in the query string).",
        )
    params = dict(request.query_params)
    body = (await request.body()).decode("utf-8", "replace")
    params.update({k: v for k, v in parse_qsl(body) if k not in params})
    credentials = _basic(request.headers.get("authorization"))
    if credentials is None:
        return _error(
            401,
            "invalid_client",
            "Authenticate with Authorization: Basic base64(partner_client_id:partner_secret).",
        )
    partner = emu.config.partner(credentials[0])
    if partner is None or not hmac.compare_digest(
        partner.partner_secret.encode(), credentials[1].encode()
    ):
        return _error(401, "invalid_client", "Unknown partner_client_id or wrong partner_secret.")
    grant_type = params.get("grant_type")
    if not grant_type:
        return _error(400, "invalid_request", "grant_type=client_credentials is required.")
    if grant_type != "client_credentials":
        return _error(400, "unsupported_grant_type", "Partners use grant_type=client_credentials.")
    scope = params.get("scope")
    if scope is not None and scope.split() != [PARTNER_SCOPE]:
        return _error(400, "invalid_scope", f"The only partner scope is {PARTNER_SCOPE}.")
    token = mint_partner_token(emu, partner)
    body_out = {"access_token": token, "expires_in": PARTNER_TOKEN_TTL, "token_type": "Bearer"}
    return JSONResponse(body_out, headers=_NO_STORE)


def routes(emu: Emulator) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return await partner_token_endpoint(emu, request)

    return [
        Route(_cc.PARTNER_TOKEN_PATH, endpoint, methods=["POST"]),
        Route(COGNITO_TOKEN_PATH, endpoint, methods=["POST"]),
    ]
