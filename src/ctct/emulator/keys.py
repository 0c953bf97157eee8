"""RSA signing keys, the JWKS document, and minting RS256 access tokens.

Keys live in the database so tokens stay valid across a restart with ``--data``.
Rotation adds a new active key and keeps the old ones published (tokens already
issued still verify); ``retire`` removes the old ones, as a provider eventually does.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from ctct.emulator.clock import Clock
from ctct.emulator.db import Database, register_schema

register_schema(
    """
    CREATE TABLE IF NOT EXISTS signing_keys (
        kid TEXT PRIMARY KEY,
        pem TEXT NOT NULL,
        created_at REAL NOT NULL,
        active INTEGER NOT NULL
    );
    """
)


class KeyRing:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, RSAKey] = {}
        self._active_kid = ""
        self._load()
        if not self._keys:
            self.rotate()

    def _load(self) -> None:
        rows = self._db.query("SELECT kid, pem, active FROM signing_keys ORDER BY created_at")
        keys = {r["kid"]: RSAKey.import_key(r["pem"], {"kid": r["kid"]}) for r in rows}
        active = [r["kid"] for r in rows if r["active"]]
        with self._lock:
            self._keys = keys
            self._active_kid = active[-1] if active else ""

    def rotate(self, retire_old: bool = False) -> str:
        """Make a new signing key the active one and return its ``kid``."""
        kid = secrets.token_urlsafe(12)
        key = RSAKey.generate_key(2048, parameters={"kid": kid})
        pem = key.as_pem(private=True).decode("ascii")
        with self._db.transaction() as conn:
            if retire_old:
                conn.execute("DELETE FROM signing_keys")
            conn.execute("UPDATE signing_keys SET active = 0")
            conn.execute(
                "INSERT INTO signing_keys(kid, pem, created_at, active) VALUES (?, ?, ?, 1)",
                (kid, pem, self._clock.now()),
            )
        self._load()
        return kid

    def retire(self) -> None:
        """Stop publishing every key but the active one."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM signing_keys WHERE active = 0")
        self._load()

    @property
    def active_kid(self) -> str:
        return self._active_kid

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            keys = list(self._keys.values())
        published = []
        for key in keys:
            jwk = dict(key.as_dict(private=False))
            jwk.update({"alg": "RS256", "use": "sig"})
            published.append(jwk)
        return {"keys": published}

    def key_set(self) -> KeySet:
        with self._lock:
            return KeySet(list(self._keys.values()))

    def sign(self, claims: dict[str, Any], *, typ: str | None = None) -> str:
        with self._lock:
            kid = self._active_kid
            key = self._keys[kid]
        header = {"alg": "RS256", "kid": kid}
        if typ is not None:
            header["typ"] = typ  # e.g. RFC 9068's "at+jwt"
        return jwt.encode(header, claims, key)
