"""What guards the status page: operator login, sessions, CSRF tokens, Host allow-list.

The page shows customer data, and loopback is no boundary (other local users,
cross-site forms, DNS rebinding), so in every mode:

- the ``Host`` header must be on an allow-list (DNS rebinding);
- every POST carries a CSRF token bound to the browser's session cookie;
- unless the UI listens on a unix socket or ``--no-auth`` is given, an operator logs in
  with a password (checked against an scrypt hash) or a token, both read from a file or
  the environment;
- session cookies are HMAC-signed with a secret from a file that every replica shares,
  so a session started on one replica works on the others.

Pure: no I/O beyond what the caller passes in; clock injected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from ctct.errors import ConfigError

SESSION_COOKIE: Final = "ctct_keeper_session"
SESSION_TTL: Final = 8 * 3_600.0
MIN_SECRET_BYTES: Final = 32
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """An scrypt hash in the form ``scrypt$N$r$p$salt$hash`` (for a password file)."""
    if len(password) < 12:
        raise ConfigError("Use an operator password of at least 12 characters.")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


class OperatorCheck:
    """Checks what an operator typed against a stored scrypt hash or a token.

    A value starting with ``scrypt$`` is a hash from ``ctct keeper hash-password``;
    anything else is a token that must match exactly (compared in constant time).
    """

    def __init__(self, stored: str) -> None:
        stored = stored.strip()
        if not stored:
            raise ConfigError("The operator password hash or token is empty.")
        self._hash: tuple[int, int, int, bytes, bytes] | None = None
        self._token: bytes | None = None
        if stored.startswith("scrypt$"):
            try:
                _, n, r, p, salt, digest = stored.split("$")
                self._hash = (int(n), int(r), int(p), _unb64(salt), _unb64(digest))
            except ValueError:
                raise ConfigError(
                    "The operator password hash is not in the form scrypt$N$r$p$salt$hash: "
                    "make one with `ctct keeper hash-password`."
                ) from None
        else:
            if len(stored) < 16:
                raise ConfigError("An operator token must be at least 16 characters long.")
            self._token = hashlib.sha256(stored.encode()).digest()

    def matches(self, given: str) -> bool:
        if self._hash is not None:
            n, r, p, salt, digest = self._hash
            try:
                candidate = hashlib.scrypt(
                    given.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest)
                )
            except ValueError:
                return False
            return hmac.compare_digest(candidate, digest)
        assert self._token is not None
        return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._token)


@dataclass(frozen=True)
class Session:
    sid: str
    operator: bool
    """True once logged in (or when the UI needs no login)."""
    expires: float


class Sessions:
    """Signed session cookies and the CSRF tokens bound to them."""

    def __init__(self, secret: bytes, clock: Callable[[], float], ttl: float = SESSION_TTL):
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"The UI session secret must be at least {MIN_SECRET_BYTES} bytes; create one "
                "with `ctct keeper new-ui-secret FILE` and give every replica the same file."
            )
        self._secret = secret
        self._clock = clock
        self.ttl = ttl

    def _mac(self, purpose: bytes, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, purpose + b"\x00" + payload, hashlib.sha256).digest())

    def new(self, *, operator: bool) -> Session:
        return Session(secrets.token_urlsafe(18), operator, self._clock() + self.ttl)

    def cookie(self, session: Session) -> str:
        body = json.dumps(
            {"sid": session.sid, "op": session.operator, "exp": int(session.expires)},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{self._mac(b'session', body)}"

    def read(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if absent, forged or expired."""
        if not value:
            return None
        body_text, dot, mac = value.partition(".")
        try:
            body = _unb64(body_text)
        except (ValueError, UnicodeEncodeError):
            return None
        # As bytes: compare_digest raises TypeError on non-ASCII text (a cookie the
        # browser sent is anyone's text), which would be a 500 instead of "no session".
        expected = self._mac(b"session", body).encode()
        if not dot or not hmac.compare_digest(mac.encode("utf-8", "surrogateescape"), expected):
            return None
        try:
            data = json.loads(body)
            session = Session(str(data["sid"]), bool(data["op"]), float(data["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > self._clock() else None

    def csrf_token(self, session: Session) -> str:
        return self._mac(b"csrf", session.sid.encode())

    def csrf_ok(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        given = token.encode("utf-8", "surrogateescape")  # a form field: anyone's text
        return hmac.compare_digest(given, self.csrf_token(session).encode())


class HostAllowList:
    """Hosts the UI answers to (DNS-rebinding protection). Ports are ignored."""

    def __init__(self, hosts: Iterable[str]) -> None:
        self.hosts = frozenset(h.lower().strip() for h in hosts if h.strip())

    def allows(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        host = host_header.strip().lower()
        if host.startswith("["):
            host = host.split("]")[0] + "]"
        elif host.count(":") == 1:
            host = host.rsplit(":", 1)[0]
        return host in self.hosts


SECURITY_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
