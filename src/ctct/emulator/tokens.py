"""Minting access tokens and knowing whether one is still honoured.

Access tokens are RS256 JWTs with Constant Contact's literal claims (``iss``, ``aud``,
``cid``, ``sub``, ``platform_user_id``, ``scp``, ``iat``, ``exp``, ``jti``). The
``access_tokens`` table maps each ``jti`` to its grant so the gateway can refuse a
token whose grant was revoked (RFC 7009) before it expires.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ctct import _cc
from ctct.emulator.config import UserConfig
from ctct.emulator.db import register_schema

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

register_schema(
    """
    CREATE TABLE IF NOT EXISTS access_tokens (
        jti TEXT PRIMARY KEY,
        grant_id TEXT,
        client_id TEXT NOT NULL,
        expires_at REAL NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS access_tokens_grant ON access_tokens(grant_id);
    """
)


@dataclass(frozen=True)
class MintedToken:
    token: str
    jti: str
    issued_at: int
    expires_at: int
    scopes: tuple[str, ...]


def mint_access_token(
    emu: Emulator,
    *,
    client_id: str,
    user: UserConfig,
    scopes: tuple[str, ...],
    grant_id: str | None,
    ttl: int | None = None,
) -> MintedToken:
    now = int(emu.clock.now())
    lifetime = emu.config.access_token_ttl if ttl is None else ttl
    if emu.config.provider == "generic":
        from ctct.emulator import generic_tokens

        token, jti = generic_tokens.mint(
            emu, client_id=client_id, user=user, scopes=scopes, now=now, lifetime=lifetime
        )
        return _record(
            emu, MintedToken(token, jti, now, now + lifetime, scopes), grant_id, client_id
        )
    jti = "AT." + secrets.token_urlsafe(32)
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": jti,
        "iss": _cc.ISSUER,
        "aud": _cc.AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
        "cid": client_id,
        "uid": user.platform_user_id,
        "scp": list(scopes),
        "auth_time": now,
        "sub": user.username,
        "platform_user_id": user.platform_user_id,
    }
    token = emu.keys.sign(claims)
    return _record(emu, MintedToken(token, jti, now, now + lifetime, scopes), grant_id, client_id)


def _record(
    emu: Emulator, minted: MintedToken, grant_id: str | None, client_id: str
) -> MintedToken:
    with emu.db.transaction() as conn:
        # Expired rows are useless to the gateway; drop them as we go so the table stays small.
        conn.execute("DELETE FROM access_tokens WHERE expires_at < ?", (minted.issued_at - 60,))
        conn.execute(
            "INSERT INTO access_tokens(jti, grant_id, client_id, expires_at) VALUES (?, ?, ?, ?)",
            (minted.jti, grant_id, client_id, minted.expires_at),
        )
    return minted


def access_token_active(emu: Emulator, jti: str) -> bool:
    """False when the token was revoked (itself or through its grant) or is unknown."""
    row = emu.db.query_one("SELECT revoked FROM access_tokens WHERE jti = ?", (jti,))
    return row is not None and not row["revoked"]


def revoke_access_token(emu: Emulator, jti: str) -> bool:
    with emu.db.transaction() as conn:
        cursor = conn.execute("UPDATE access_tokens SET revoked = 1 WHERE jti = ?", (jti,))
        return cursor.rowcount > 0


def revoke_grant_access_tokens(emu: Emulator, grant_id: str) -> None:
    with emu.db.transaction() as conn:
        conn.execute("UPDATE access_tokens SET revoked = 1 WHERE grant_id = ?", (grant_id,))
