"""Access tokens of the generic provider mode (see ``generic``).

``jwt`` (the default): RFC 9068 access tokens, RS256 with the emulator's keys, header
``typ: at+jwt``, claims ``iss`` (the issuer), ``aud`` (the V3 API at that origin), ``sub``
(the user's login), ``client_id``, ``scope`` (space-separated), ``iat``, ``exp``,
``jti`` and ``auth_time``.

``opaque``: 43 random URL-safe characters that carry nothing; the client learns the
expiry only from ``expires_in``. The emulator keeps their SHA-256 (never the token)
with the user and scopes, and files them in ``access_tokens`` under the ``jti``
``opaque:<sha256>`` so revocation and resets treat them like any other access token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc import jwt

from ctct.emulator import generic
from ctct.emulator.config import UserConfig
from ctct.emulator.db import register_schema
from ctct.emulator.oauth_common import sha256_hex

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

OPAQUE_JTI_PREFIX = "opaque:"
JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 section 2.1

register_schema(
    """
    CREATE TABLE IF NOT EXISTS generic_opaque_tokens (
        jti TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        scopes TEXT NOT NULL
    );
    """
)


@dataclass(frozen=True)
class Holder:
    """Who an access token was issued to, as the resource server learns it."""

    client_id: str
    username: str
    scopes: frozenset[str]
    jti: str


def mint(
    emu: Emulator,
    *,
    client_id: str,
    user: UserConfig,
    scopes: tuple[str, ...],
    now: int,
    lifetime: int,
) -> tuple[str, str]:
    """A new access token and its ``jti`` (the caller files it in ``access_tokens``)."""
    if emu.config.access_token_format == "opaque":
        token = secrets.token_urlsafe(32)  # no dots: nobody mistakes it for a JWS
        jti = OPAQUE_JTI_PREFIX + sha256_hex(token)
        with emu.db.transaction() as conn:
            # Rows whose access token expired (and was dropped from access_tokens) go too.
            conn.execute(
                "DELETE FROM generic_opaque_tokens WHERE jti NOT IN (SELECT jti FROM access_tokens)"
            )
            conn.execute(
                "INSERT INTO generic_opaque_tokens(jti, username, scopes) VALUES (?, ?, ?)",
                (jti, user.username, " ".join(scopes)),
            )
        return token, jti
    jti = secrets.token_urlsafe(24)
    claims: dict[str, Any] = {
        "iss": generic.issuer(),
        "aud": generic.audience(),
        "sub": user.username,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + lifetime,
        "jti": jti,
        "auth_time": now,
    }
    return emu.keys.sign(claims, typ="at+jwt"), jti


def verify(emu: Emulator, token: str) -> Holder | None:
    """The holder of a valid access token of this provider, or None (the API's 401)."""
    from ctct.emulator.tokens import access_token_active

    if token.count(".") != 2:
        return _opaque_holder(emu, token)
    claims = _signed_claims(emu, token, require_type=True)
    if claims is None:
        return None
    exp, aud = claims.get("exp"), claims.get("aud")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or emu.clock.now() >= exp:
        return None
    audiences = aud if isinstance(aud, list) else [aud]
    if claims.get("iss") != generic.issuer() or generic.audience() not in audiences:
        return None
    jti, client_id, sub, scope = (claims.get(k) for k in ("jti", "client_id", "sub", "scope"))
    if not all(isinstance(v, str) for v in (jti, client_id, sub, scope)):
        return None
    assert isinstance(jti, str) and isinstance(client_id, str)
    assert isinstance(sub, str) and isinstance(scope, str)
    if not access_token_active(emu, jti):
        return None
    return Holder(client_id, sub, frozenset(scope.split()), jti)


def identify(emu: Emulator, token: str) -> tuple[str, str] | None:
    """``(jti, client_id)`` of an access token this provider issued (expired or not)."""
    if token.count(".") != 2:
        row = emu.db.query_one(
            "SELECT jti, client_id FROM access_tokens WHERE jti = ?",
            (OPAQUE_JTI_PREFIX + sha256_hex(token),),
        )
        return None if row is None else (str(row["jti"]), str(row["client_id"]))
    claims = _signed_claims(emu, token, require_type=False)
    jti, client_id = (claims.get("jti"), claims.get("client_id")) if claims else (None, None)
    if isinstance(jti, str) and isinstance(client_id, str):
        return jti, client_id
    return None


def _signed_claims(emu: Emulator, token: str, *, require_type: bool) -> dict[str, Any] | None:
    try:
        decoded = jwt.decode(token, emu.keys.key_set(), algorithms=["RS256"])
    except Exception:  # every way a token can be unreadable or forged means the same
        return None
    header = decoded.header
    if "kid" not in header:
        return None
    if require_type and str(header.get("typ", "")).lower() not in JWT_TYPES:
        return None  # e.g. an ID token presented as an access token
    return dict(decoded.claims)


def _opaque_holder(emu: Emulator, token: str) -> Holder | None:
    row = emu.db.query_one(
        "SELECT a.jti, a.client_id, a.expires_at, a.revoked, o.username, o.scopes "
        "FROM access_tokens a JOIN generic_opaque_tokens o ON o.jti = a.jti WHERE a.jti = ?",
        (OPAQUE_JTI_PREFIX + sha256_hex(token),),
    )
    if row is None or row["revoked"] or emu.clock.now() >= row["expires_at"]:
        return None
    return Holder(
        str(row["client_id"]), str(row["username"]), frozenset(row["scopes"].split()), row["jti"]
    )
