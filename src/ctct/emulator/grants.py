"""Grants and their refresh tokens: issuing, rotating, reuse detection, idle expiry
and revocation, all kept in the emulator's database so a restart keeps them.

A grant is one user's consent to one application for some scopes; every token the
emulator issues belongs to one. Refresh tokens are stored by SHA-256 only, except the
grant's *current* one, kept raw because the rotation grace period hands it to a
second caller who presents the immediately previous token (an emulator may do that;
a real server would keep a hash and re-issue instead).

Pending logins and authorization codes live in ``oauth_requests`` (``GrantStore.requests``),
device codes in ``oauth_device_codes`` (``GrantStore.devices``); ``reset`` clears them all.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ctct.emulator import tokens
from ctct.emulator.db import register_schema
from ctct.emulator.oauth_common import OAuthError, sha256_hex
from ctct.emulator.oauth_device_codes import DeviceCodeStore
from ctct.emulator.oauth_requests import RequestStore

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

GrantFlow = Literal["authorization_code", "device_code"]

INVALID_REFRESH = "The refresh token is invalid or expired."

register_schema(
    """
    CREATE TABLE IF NOT EXISTS oauth_grants (
        grant_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        username TEXT NOT NULL,
        scopes TEXT NOT NULL,
        flow TEXT NOT NULL,
        refresh_token_type TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0,
        rotations INTEGER NOT NULL DEFAULT 0,
        current_refresh_token TEXT,
        rotated_at REAL,
        previous_refresh_sha256 TEXT
    );
    CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
        token_sha256 TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES oauth_grants(grant_id) ON DELETE CASCADE,
        issued_at REAL NOT NULL,
        state TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS oauth_refresh_tokens_grant ON oauth_refresh_tokens(grant_id);
    """
)


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    username: str
    scopes: tuple[str, ...]
    flow: str
    refresh_token_type: str
    created_at: float
    last_used_at: float
    revoked: bool
    rotations: int
    refresh_token_sha256: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "grant_id": self.grant_id,
            "client_id": self.client_id,
            "username": self.username,
            "scopes": list(self.scopes),
            "flow": self.flow,
            "refresh_token_type": self.refresh_token_type,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked": self.revoked,
            "refresh_token_sha256": self.refresh_token_sha256,
            "rotations": self.rotations,
        }


@dataclass(frozen=True)
class Refreshed:
    """A refresh answered: the grant and the refresh token to hand back."""

    grant: Grant
    presented_sha256: str
    refresh_token: str


def _grant(row: sqlite3.Row) -> Grant:
    current = row["current_refresh_token"]
    return Grant(
        grant_id=row["grant_id"],
        client_id=row["client_id"],
        username=row["username"],
        scopes=tuple(row["scopes"].split()),
        flow=row["flow"],
        refresh_token_type=row["refresh_token_type"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked=bool(row["revoked"]),
        rotations=row["rotations"],
        refresh_token_sha256=sha256_hex(current) if current else None,
    )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)  # opaque, 43 characters, like CC's


class GrantStore:
    """All OAuth state of the emulator. One per ``Emulator``."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.requests = RequestStore(emu)
        self.devices = DeviceCodeStore(emu)

    def reset(self) -> None:
        self.emu.db.clear(["oauth_refresh_tokens", "oauth_grants"])
        self.requests.reset()
        self.devices.reset()

    def create(
        self,
        *,
        client_id: str,
        username: str,
        scopes: tuple[str, ...],
        flow: GrantFlow,
        with_refresh_token: bool,
    ) -> tuple[Grant, str | None]:
        """Record a new grant; return it with its first refresh token (if any)."""
        app = self.emu.config.app(client_id)
        token_type = app.refresh_token_type if app else "rotating"
        now = self.emu.clock.now()
        grant_id = "grant_" + secrets.token_hex(8)
        raw = new_refresh_token() if with_refresh_token else None
        with self.emu.db.transaction() as conn:
            conn.execute(
                "INSERT INTO oauth_grants(grant_id, client_id, username, scopes, flow, "
                "refresh_token_type, created_at, last_used_at, current_refresh_token) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (grant_id, client_id, username, " ".join(scopes), flow, token_type, now, now, raw),
            )
            if raw is not None:
                conn.execute(
                    "INSERT INTO oauth_refresh_tokens(token_sha256, grant_id, issued_at, state) "
                    "VALUES (?, ?, ?, 'current')",
                    (sha256_hex(raw), grant_id, now),
                )
        grant = self.get(grant_id)
        assert grant is not None
        return grant, raw

    def get(self, grant_id: str) -> Grant | None:
        row = self.emu.db.query_one("SELECT * FROM oauth_grants WHERE grant_id = ?", (grant_id,))
        return None if row is None else _grant(row)

    def list(self) -> list[Grant]:
        rows = self.emu.db.query("SELECT * FROM oauth_grants ORDER BY created_at, grant_id")
        return [_grant(r) for r in rows]

    def grant_of_refresh_token(self, raw: str) -> Grant | None:
        row = self.emu.db.query_one(
            "SELECT g.* FROM oauth_refresh_tokens t JOIN oauth_grants g USING (grant_id) "
            "WHERE t.token_sha256 = ?",
            (sha256_hex(raw),),
        )
        return None if row is None else _grant(row)

    def refresh(self, client_id: str, raw: str) -> Refreshed:
        """Answer a refresh: rotate or keep the token per the grant's type.

        Raises ``OAuthError("invalid_grant")`` for an unknown, expired, revoked or
        reused token; under the "grant" reuse policy a reuse also revokes the grant.
        """
        presented = sha256_hex(raw)
        config = self.emu.config
        now = self.emu.clock.now()
        revoke_grant: str | None = None
        with self.emu.db.transaction() as conn:
            row = conn.execute(
                "SELECT t.state, g.* FROM oauth_refresh_tokens t JOIN oauth_grants g "
                "USING (grant_id) WHERE t.token_sha256 = ?",
                (presented,),
            ).fetchone()
            if row is None or row["client_id"] != client_id or row["revoked"]:
                raise OAuthError("invalid_grant", INVALID_REFRESH)
            grant_id: str = row["grant_id"]
            if now > row["last_used_at"] + config.refresh_token_idle_ttl:
                raise OAuthError("invalid_grant", INVALID_REFRESH)
            if row["state"] == "current":
                issued = raw
                if row["refresh_token_type"] == "rotating":
                    issued = new_refresh_token()
                    self._rotate(conn, grant_id, presented, issued, now)
                conn.execute(
                    "UPDATE oauth_grants SET last_used_at = ? WHERE grant_id = ?", (now, grant_id)
                )
            elif (
                config.refresh_token_grace_seconds > 0
                and row["previous_refresh_sha256"] == presented
                and row["rotated_at"] is not None
                and now - row["rotated_at"] <= config.refresh_token_grace_seconds
                and row["current_refresh_token"]
            ):
                # Grace: a second caller racing the rotation gets the live token too.
                issued = row["current_refresh_token"]
                conn.execute(
                    "UPDATE oauth_grants SET last_used_at = ? WHERE grant_id = ?", (now, grant_id)
                )
            else:
                if config.refresh_token_reuse == "grant":
                    self._mark_revoked(conn, grant_id)
                    revoke_grant = grant_id
                else:
                    raise OAuthError("invalid_grant", INVALID_REFRESH)
        if revoke_grant is not None:
            # Outside the transaction: tokens.py opens its own.
            tokens.revoke_grant_access_tokens(self.emu, revoke_grant)
            raise OAuthError("invalid_grant", INVALID_REFRESH)
        grant = self.get(grant_id)
        assert grant is not None
        return Refreshed(grant, presented, issued)

    @staticmethod
    def _rotate(
        conn: sqlite3.Connection, grant_id: str, presented: str, issued: str, now: float
    ) -> None:
        # Every earlier token of the grant dies with the rotation, not only the presented one.
        conn.execute(
            "UPDATE oauth_refresh_tokens SET state = 'rotated' WHERE grant_id = ?", (grant_id,)
        )
        conn.execute(
            "INSERT INTO oauth_refresh_tokens(token_sha256, grant_id, issued_at, state) "
            "VALUES (?, ?, ?, 'current')",
            (sha256_hex(issued), grant_id, now),
        )
        conn.execute(
            "UPDATE oauth_grants SET current_refresh_token = ?, rotated_at = ?, "
            "previous_refresh_sha256 = ?, rotations = rotations + 1 WHERE grant_id = ?",
            (issued, now, presented, grant_id),
        )

    @staticmethod
    def _mark_revoked(conn: sqlite3.Connection, grant_id: str) -> None:
        conn.execute(
            "UPDATE oauth_grants SET revoked = 1, current_refresh_token = NULL WHERE grant_id = ?",
            (grant_id,),
        )
        conn.execute(
            "UPDATE oauth_refresh_tokens SET state = 'revoked' WHERE grant_id = ?", (grant_id,)
        )

    def revoke(self, grant_id: str) -> bool:
        """Revoke a grant with all its refresh and access tokens; False if unknown."""
        with self.emu.db.transaction() as conn:
            exists = conn.execute(
                "SELECT 1 FROM oauth_grants WHERE grant_id = ?", (grant_id,)
            ).fetchone()
            if exists is None:
                return False
            self._mark_revoked(conn, grant_id)
        tokens.revoke_grant_access_tokens(self.emu, grant_id)
        return True

    def revoke_refresh_token(self, client_id: str, raw: str) -> bool:
        """RFC 7009: revoking a refresh token revokes its grant. False if not ours."""
        grant = self.grant_of_refresh_token(raw)
        if grant is None or grant.client_id != client_id:
            return False
        return self.revoke(grant.grant_id)
