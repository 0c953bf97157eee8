"""Device codes (RFC 8628): issuing, the person's approval by user code, and polling
with ``slow_down``. Device codes are stored by SHA-256 only; user codes as 8 upper-case
letters without the dash. Every expiry reads the emulator's clock.
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

# No vowels (no accidental words) and none of the letters people confuse (I, O, U, V/Y).
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTWXZ"

INVALID_DEVICE_CODE = "The device code is invalid or has expired."

register_schema(
    """
    CREATE TABLE IF NOT EXISTS oauth_device_codes (
        device_sha256 TEXT PRIMARY KEY,
        user_code TEXT NOT NULL UNIQUE,
        client_id TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        interval INTEGER NOT NULL,
        last_poll_at REAL,
        status TEXT NOT NULL,
        username TEXT
    );
    """
)


@dataclass(frozen=True)
class DeviceCode:
    user_code: str  # normalized: 8 letters, no dash
    client_id: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float
    interval: int
    status: str  # pending | approved | denied | used
    username: str | None

    @property
    def display_code(self) -> str:
        return format_user_code(self.user_code)

    def as_json(self) -> dict[str, Any]:
        return {
            "user_code": self.display_code,
            "client_id": self.client_id,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "interval": self.interval,
            "status": self.status,
        }


class DeviceCodeUnavailable(Exception):
    """A user code that cannot be approved; the message tells the person what to do."""


def normalize_user_code(text: str) -> str:
    """Accept ``abcd-efgh``, ``ABCDEFGH`` or with spaces: upper-case letters only."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def format_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def _device(row: sqlite3.Row) -> DeviceCode:
    return DeviceCode(
        user_code=row["user_code"],
        client_id=row["client_id"],
        scopes=tuple(row["scopes"].split()),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        interval=row["interval"],
        status=row["status"],
        username=row["username"],
    )


class DeviceCodeStore:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def reset(self) -> None:
        self.emu.db.clear(["oauth_device_codes"])

    def start_device(self, client_id: str, scopes: tuple[str, ...]) -> tuple[str, DeviceCode]:
        """Create a device code; return the raw device code and its record."""
        config = self.emu.config
        now = self.emu.clock.now()
        raw = secrets.token_urlsafe(32)
        with self.emu.db.transaction() as conn:
            conn.execute("DELETE FROM oauth_device_codes WHERE expires_at < ?", (now - 3600,))
            while True:
                user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
                taken = conn.execute(
                    "SELECT 1 FROM oauth_device_codes WHERE user_code = ?", (user_code,)
                ).fetchone()
                if taken is None:
                    break
            conn.execute(
                "INSERT INTO oauth_device_codes(device_sha256, user_code, client_id, scopes, "
                "created_at, expires_at, interval, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    sha256_hex(raw),
                    user_code,
                    client_id,
                    " ".join(scopes),
                    now,
                    now + config.device_code_ttl,
                    config.device_poll_interval,
                ),
            )
        row = self.emu.db.query_one(
            "SELECT * FROM oauth_device_codes WHERE user_code = ?", (user_code,)
        )
        assert row is not None
        return raw, _device(row)

    def list_devices(self) -> list[DeviceCode]:
        """Device codes still waiting for a person."""
        rows = self.emu.db.query(
            "SELECT * FROM oauth_device_codes WHERE status = 'pending' AND expires_at >= ? "
            "ORDER BY created_at",
            (self.emu.clock.now(),),
        )
        return [_device(r) for r in rows]

    def _usable(self, row: sqlite3.Row | None) -> DeviceCode:
        if row is None:
            raise DeviceCodeUnavailable(
                "That code is not recognised. Check the code shown on your device "
                "and type it again."
            )
        if self.emu.clock.now() > row["expires_at"]:
            raise DeviceCodeUnavailable(
                "That code has expired. Start again on your device to get a new code."
            )
        if row["status"] != "pending":
            raise DeviceCodeUnavailable(
                "That code was already answered. Start again on your device if you need a new one."
            )
        return _device(row)

    def usable_device(self, user_code: str) -> DeviceCode:
        """The device code a person typed, if it can still be answered.

        Raises ``DeviceCodeUnavailable`` with a message for the person otherwise.
        """
        if not normalize_user_code(user_code):
            raise DeviceCodeUnavailable("Enter the code shown on your device.")
        row = self.emu.db.query_one(
            "SELECT * FROM oauth_device_codes WHERE user_code = ?",
            (normalize_user_code(user_code),),
        )
        return self._usable(row)

    def decide_device(self, user_code: str, username: str | None, approve: bool) -> DeviceCode:
        """Approve or deny a device code on behalf of ``username``."""
        code = normalize_user_code(user_code)
        with self.emu.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_device_codes WHERE user_code = ?", (code,)
            ).fetchone()
            device = self._usable(row)
            status = "approved" if approve else "denied"
            conn.execute(
                "UPDATE oauth_device_codes SET status = ?, username = ? WHERE user_code = ?",
                (status, username, code),
            )
        return device

    def poll_device(self, client_id: str, raw: str) -> DeviceCode:
        """One poll of the token endpoint with a device code (RFC 8628 3.5)."""
        now = self.emu.clock.now()
        error: OAuthError | None = None
        with self.emu.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM oauth_device_codes WHERE device_sha256 = ?", (sha256_hex(raw),)
            ).fetchone()
            if row is None or row["client_id"] != client_id or row["status"] == "used":
                raise OAuthError("invalid_grant", INVALID_DEVICE_CODE)
            if now > row["expires_at"]:
                raise OAuthError(
                    "expired_token",
                    "The device code has expired. Start the device authorization again.",
                )
            if row["status"] == "denied":
                raise OAuthError("access_denied", "The user denied the authorization request.")
            if row["status"] == "pending":
                last = row["last_poll_at"]
                interval = row["interval"]
                if last is not None and now - last < interval:
                    interval += 5  # RFC 8628 3.5: slow_down adds 5 seconds for good
                    error = OAuthError(
                        "slow_down",
                        f"Polling too fast. Wait at least {interval} seconds between polls.",
                    )
                else:
                    error = OAuthError(
                        "authorization_pending",
                        "The user has not yet approved the request. Keep polling.",
                    )
                # Committed even though the answer is an error: the poll time and the
                # grown interval must stick.
                conn.execute(
                    "UPDATE oauth_device_codes SET last_poll_at = ?, interval = ? "
                    "WHERE device_sha256 = ?",
                    (now, interval, row["device_sha256"]),
                )
            else:
                conn.execute(
                    "UPDATE oauth_device_codes SET status = 'used' WHERE device_sha256 = ?",
                    (row["device_sha256"],),
                )
        if error is not None:
            raise error
        return _device(row)
