"""Which URLs ctct will talk to: https everywhere, plain http only on loopback.

Tokens and client secrets cross these connections, so an http URL to any other host
is a configuration error, not a warning.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ctct.errors import ConfigError


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (brackets allowed)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_safe_url(url: str, *, what: str) -> str:
    """Return ``url`` if ctct may send credentials to it, else raise ``ConfigError``.

    ``what`` names the setting in the message (e.g. ``"token endpoint"``).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(f"The {what} {url!r} is not a valid URL ({exc}).") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(
            f"The {what} {url!r} is not an absolute http(s) URL: give one such as "
            "'https://auth.example.com/oauth2/token'."
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"The {what} must not contain a user name or password.")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigError(
            f"The {what} {url!r} uses plain http to a non-loopback host: tokens and secrets "
            "would cross the network unencrypted. Use https (plain http is allowed only "
            "for 127.0.0.0/8, ::1 and localhost, e.g. the emulator)."
        )
    return url


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def without_query(url: str) -> str:
    """``url`` minus query and fragment, for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
