"""The web login's server-side state and its browser binding, free of I/O.

* ``PendingWebLogin``: what ``start`` keeps in the shared store (single use, with a
  TTL): state, PKCE verifier, profile, where to send the person afterwards. The
  callback trusts only this record, never the query, for the profile and the target.
* ``CookieSigner``: the cookie holds the record's random id and an HMAC-SHA256 of it,
  so the record can only be completed from the browser that started it, and a forged
  or swapped cookie is refused before the store is touched.
* ``RedirectAllowList``: the page after login must be one the app listed: no open
  redirect through ``?next=``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ctct._secret import Secret
from ctct.errors import ConfigError, FlowError, StoreError

NAMESPACE: Final = "ctct-web-login"
_FORMAT: Final = 1
_COOKIE_CONTEXT: Final = b"ctct-web-login-cookie\x00"
MIN_KEY_BYTES: Final = 16


@dataclass(frozen=True, repr=False)
class PendingWebLogin:
    state: str
    code_verifier: Secret | None
    profile: str
    next: str
    redirect_uri: str
    scopes: tuple[str, ...]

    def to_bytes(self) -> bytes:
        verifier = self.code_verifier.reveal() if self.code_verifier is not None else None
        record = {
            "format": _FORMAT,
            "state": self.state,
            "code_verifier": verifier,
            "profile": self.profile,
            "next": self.next,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
        }
        return json.dumps(record, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingWebLogin:
        try:
            record = json.loads(data)
            if record["format"] != _FORMAT:
                raise ValueError("format")
            verifier = record["code_verifier"]
            return cls(
                state=_text(record["state"]),
                code_verifier=None if verifier is None else Secret(_text(verifier)),
                profile=_text(record["profile"]),
                next=_text(record["next"]),
                redirect_uri=_text(record["redirect_uri"]),
                scopes=tuple(_text(s) for s in record["scopes"]),
            )
        except (ValueError, KeyError, TypeError):
            raise StoreError(
                "A pending web login record is unreadable (written by another ctct version?); "
                "start the login again."
            ) from None

    def __repr__(self) -> str:
        return f"PendingWebLogin(profile={self.profile!r}, next={self.next!r})"


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


class CookieSigner:
    """Signs and checks the login cookie's value: ``<id>.<base64url HMAC-SHA256>``."""

    def __init__(self, key: str | bytes | Secret) -> None:
        raw = key.reveal().encode() if isinstance(key, Secret) else key
        raw = raw.encode() if isinstance(raw, str) else raw
        if len(raw) < MIN_KEY_BYTES:
            raise ConfigError(
                f"The web login signing key is shorter than {MIN_KEY_BYTES} bytes: use a long "
                "random value, e.g. the output of `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`."
            )
        self._key = raw

    def new_id(self) -> str:
        return secrets.token_urlsafe(24)

    def sign(self, login_id: str) -> str:
        return f"{login_id}.{self._mac(login_id)}"

    def verify(self, value: str) -> str:
        """The login id in a signed value; ``FlowError`` if it is not one we signed."""
        login_id, dot, mac = value.partition(".")
        # We sign only ASCII (and compare_digest raises TypeError on non-ASCII text, which
        # would be a 500): anything else is a cookie we did not write.
        if not value.isascii() or not dot or not login_id:
            raise _bad_cookie()
        if not hmac.compare_digest(mac, self._mac(login_id)):
            raise _bad_cookie()
        return login_id

    def _mac(self, login_id: str) -> str:
        digest = hmac.new(self._key, _COOKIE_CONTEXT + login_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _bad_cookie() -> FlowError:
    return FlowError(
        "The login cookie is not valid (tampered with, or signed with another key): "
        "start the login again.",
        code="bad_cookie",
    )


class RedirectAllowList:
    """Targets the person may be sent to after login: exact matches only."""

    def __init__(self, allowed: Iterable[str], default: str) -> None:
        self.allowed = frozenset(allowed) | {default}
        for target in self.allowed:
            if not _is_plain_target(target):
                raise ConfigError(
                    f"Post-login target {target!r} must be a path starting with one '/' or an "
                    "absolute http(s) URL."
                )
        self.default = default

    def choose(self, requested: str | None) -> str:
        if requested is None or requested == "":
            return self.default
        if requested not in self.allowed:
            raise FlowError(
                "The page to return to after login is not on this app's allow-list (an "
                "open-redirect attempt, or a link missing from the list); the login was not "
                "started.",
                code="next_not_allowed",
            )
        return requested


def _is_plain_target(target: str) -> bool:
    if target.startswith("/"):
        # "//host" and "/\\host" are read by browsers as another host.
        return not target.startswith(("//", "/\\"))
    parts = urlsplit(target)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header (first one wins)."""
    if not header:
        return None
    for pair in header.split(";"):
        key, eq, value = pair.strip().partition("=")
        if eq and key == name:
            return value.strip().strip('"')
    return None


def set_cookie_header(name: str, value: str, *, max_age: float, path: str, secure: bool) -> str:
    """A ``Set-Cookie`` value for a login or session cookie: HttpOnly, and SameSite=Lax
    (sent on the provider's top-level redirect back, never on a cross-site POST)."""
    parts = [f"{name}={value}", f"Max-Age={int(max_age)}", f"Path={path}", "HttpOnly"]
    parts.append("SameSite=Lax")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
