"""Short-lived OAuth state of the code flow: pending logins (an authorize request
waiting for a person or the control API) and authorization codes.

Codes are stored by SHA-256 only. Every expiry reads the emulator's clock.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ctct.emulator.db import register_schema
from ctct.emulator.oauth_common import OAuthError, sha256_hex

if TYPE_CHECKING:
    from ctct.emulator.app import Emulator

INVALID_CODE = "The authorization code is invalid or has expired."

register_schema(
    """
    CREATE TABLE IF NOT EXISTS oauth_pending_authorizations (
        request_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        scopes TEXT NOT NULL,
        state TEXT,
        code_challenge TEXT,
        nonce TEXT,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS oauth_codes (
        code_sha256 TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        username TEXT NOT NULL,
        scopes TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        code_challenge TEXT,
        nonce TEXT,
        expires_at REAL NOT NULL,
        used INTEGER NOT NULL DEFAULT 0
    );
    """
)


@dataclass(frozen=True)
class PendingAuthorization:
    request_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    nonce: str | None
    created_at: float
    expires_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class RedeemedCode:
    client_id: str
    username: str
    scopes: tuple[str, ...]
    redirect_uri: str
    code_challenge: str | None
    nonce: str | None


def _pending(row: sqlite3.Row) -> PendingAuthorization:
    return PendingAuthorization(
        request_id=row["request_id"],
        client_id=row["client_id"],
        redirect_uri=row["redirect_uri"],
        scopes=tuple(row["scopes"].split()),
        state=row["state"],
        code_challenge=row["code_challenge"],
        nonce=row["nonce"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


class RequestStore:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def reset(self) -> None:
        self.emu.db.clear(["oauth_pending_authorizations", "oauth_codes"])

    # Pending logins -------------------------------------------------------------

    def create_pending(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        state: str | None,
        code_challenge: str | None,
        nonce: str | None,
    ) -> PendingAuthorization:
        now = self.emu.clock.now()
        request_id = secrets.token_urlsafe(24)  # unguessable: it also guards the form (CSRF)
        expires_at = now + self.emu.config.pending_login_ttl
        with self.emu.db.transaction() as conn:
            conn.execute("DELETE FROM oauth_pending_authorizations WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO oauth_pending_authorizations(request_id, client_id, redirect_uri, "
                "scopes, state, code_challenge, nonce, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    client_id,
                    redirect_uri,
                    " ".join(scopes),
                    state,
                    code_challenge,
                    nonce,
                    now,
                    expires_at,
                ),
            )
        pending = self.pending(request_id)
        assert pending is not None
        return pending

    def pending(self, request_id: str) -> PendingAuthorization | None:
        """The pending login, or None when unknown, answered or expired."""
        row = self.emu.db.query_one(
            "SELECT * FROM oauth_pending_authorizations WHERE request_id = ? AND expires_at >= ?",
            (request_id, self.emu.clock.now()),
        )
        return None if row is None else _pending(row)

    def take_pending(self, request_id: str) -> PendingAuthorization | None:
        """Remove and return a live pending login: each is answered once."""
        with self.emu.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_pending_authorizations WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "DELETE FROM oauth_pending_authorizations WHERE request_id = ?", (request_id,)
            )
        pending = _pending(row)
        return pending if pending.expires_at >= self.emu.clock.now() else None

    def list_pending(self) -> list[PendingAuthorization]:
        rows = self.emu.db.query(
            "SELECT * FROM oauth_pending_authorizations WHERE expires_at >= ? ORDER BY created_at",
            (self.emu.clock.now(),),
        )
        return [_pending(r) for r in rows]

    # Authorization codes --------------------------------------------------------

    def issue_code(self, pending: PendingAuthorization, username: str) -> str:
        raw = secrets.token_urlsafe(32)
        now = self.emu.clock.now()
        with self.emu.db.transaction() as conn:
            # Used and long-expired codes are of no further use; keep the table small.
            conn.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (now - 3600,))
            conn.execute(
                "INSERT INTO oauth_codes(code_sha256, client_id, username, scopes, redirect_uri, "
                "code_challenge, nonce, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sha256_hex(raw),
                    pending.client_id,
                    username,
                    " ".join(pending.scopes),
                    pending.redirect_uri,
                    pending.code_challenge,
                    pending.nonce,
                    now + self.emu.config.authorization_code_ttl,
                ),
            )
        return raw

    def redeem_code(self, client_id: str, raw: str) -> RedeemedCode:
        """Burn a code (single use) and return what it stood for.

        The caller then checks ``redirect_uri`` and PKCE: a code presented with the
        wrong ones is burned all the same, as RFC 6749 10.5 allows.
        """
        now = self.emu.clock.now()
        with self.emu.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_codes WHERE code_sha256 = ?", (sha256_hex(raw),)
            ).fetchone()
            if row is None or row["client_id"] != client_id:
                raise OAuthError("invalid_grant", INVALID_CODE)
            if row["used"] or now > row["expires_at"]:
                raise OAuthError("invalid_grant", INVALID_CODE)
            conn.execute(
                "UPDATE oauth_codes SET used = 1 WHERE code_sha256 = ?", (row["code_sha256"],)
            )
        return RedeemedCode(
            client_id=row["client_id"],
            username=row["username"],
            scopes=tuple(row["scopes"].split()),
            redirect_uri=row["redirect_uri"],
            code_challenge=row["code_challenge"],
            nonce=row["nonce"],
        )
