"""Token revocation (RFC 7009) at ``/oauth2/default/v1/revoke``.

A refresh token revokes its whole grant (every refresh and access token of it); an
access token revokes only itself, by ``jti``. Unknown or foreign tokens still get
200 (RFC 7009 2.2): the answer must not tell a caller which tokens exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from ctct.emulator import generic, generic_tokens, tokens
from ctct.emulator.grants import Grant
from ctct.emulator.oauth_client import authenticate, extract_credentials
from ctct.emulator.oauth_common import NO_STORE, OAuthError, query_and_form

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator


def verified_access_token_claims(emu: Emulator, token: str) -> dict[str, object] | None:
    """The claims of an access token this emulator signed, or None for anything else."""
    try:
        decoded = jwt.decode(token, emu.keys.key_set(), algorithms=["RS256"])
    except (JoseError, ValueError, TypeError):
        return None
    return dict(decoded.claims)


def _access_token(emu: Emulator, token: str) -> tuple[str, str] | None:
    """``(jti, client_id)`` of an access token this emulator issued, else None."""
    if generic.enabled(emu.config):
        return generic_tokens.identify(emu, token)
    claims = verified_access_token_claims(emu, token)
    jti, cid = (claims.get("jti"), claims.get("cid")) if claims else (None, None)
    return (jti, cid) if isinstance(jti, str) and isinstance(cid, str) else None


def _grant_of_token(emu: Emulator, token: str) -> Grant | None:
    grant = emu.grants.grant_of_refresh_token(token)
    if grant is not None:
        return grant
    access = _access_token(emu, token)
    if access is None:
        return None
    row = emu.db.query_one("SELECT grant_id FROM access_tokens WHERE jti = ?", (access[0],))
    return emu.grants.get(row["grant_id"]) if row and row["grant_id"] else None


async def revoke_endpoint(emu: Emulator, request: Request) -> Response:
    try:
        params = await query_and_form(request)
        creds = extract_credentials(request.headers.get("authorization"), params)
        token = params.get("token", "")
        # Like the token endpoint: device-flow grants have no client secret to send.
        grant = _grant_of_token(emu, token) if token else None
        allow_none = (
            grant is not None and grant.flow == "device_code" and grant.client_id == creds.client_id
        )
        app = authenticate(emu, creds, allow_none=allow_none)
        if not token:
            raise OAuthError("invalid_request", "The 'token' parameter is required.")
    except OAuthError as exc:
        return exc.response()
    order = ["refresh_token", "access_token"]
    if params.get("token_type_hint") == "access_token":
        order.reverse()
    for kind in order:
        if kind == "refresh_token" and emu.grants.revoke_refresh_token(app.client_id, token):
            break
        if kind == "access_token":
            access = _access_token(emu, token)
            if access is not None and access[1] == app.client_id:
                tokens.revoke_access_token(emu, access[0])
                break
    return Response(status_code=200, headers=NO_STORE)
